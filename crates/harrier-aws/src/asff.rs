//! AWS Security Finding Format documents (JSON) as the Security Hub SDK's type, for
//! BatchImportFindings. Shared by the alert output and posture's sender; optional parts
//! (remediation, compliance, workflow, record state) are set only when the document has them.

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, Recommendation, RecordState, Remediation,
    Resource, Severity, SeverityLabel, Workflow, WorkflowStatus,
};
use serde_json::Value;

fn s(v: &Value, p: &str) -> String {
    v.pointer(p)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn opt<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

/// One ASFF document as an [`AwsSecurityFinding`].
pub fn to_security_hub(v: &Value) -> AwsSecurityFinding {
    let mut b = AwsSecurityFinding::builder()
        .schema_version(s(v, "/SchemaVersion"))
        .id(s(v, "/Id"))
        .product_arn(s(v, "/ProductArn"))
        .generator_id(s(v, "/GeneratorId"))
        .aws_account_id(s(v, "/AwsAccountId"))
        .created_at(s(v, "/CreatedAt"))
        .updated_at(s(v, "/UpdatedAt"))
        .title(s(v, "/Title"))
        .description(s(v, "/Description"))
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(s(v, "/Severity/Label").as_str()))
                .build(),
        );
    if let Some(text) = opt(v, "/Remediation/Recommendation/Text") {
        b = b.remediation(
            Remediation::builder()
                .recommendation(Recommendation::builder().text(text).build())
                .build(),
        );
    }
    if let Some(status) = opt(v, "/Compliance/Status") {
        let related: Vec<String> = v
            .pointer("/Compliance/RelatedRequirements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
        b = b.compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(status))
                .set_related_requirements(Some(related))
                .build(),
        );
    }
    if let Some(w) = opt(v, "/Workflow/Status") {
        b = b.workflow(Workflow::builder().status(WorkflowStatus::from(w)).build());
    }
    if let Some(r) = opt(v, "/RecordState") {
        b = b.record_state(RecordState::from(r));
    }
    for t in v["Types"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        b = b.types(t);
    }
    for r in v["Resources"].as_array().into_iter().flatten() {
        b = b.resources(
            Resource::builder()
                .r#type(s(r, "/Type"))
                .id(s(r, "/Id"))
                .region(s(r, "/Region"))
                .build(),
        );
    }
    for (k, x) in v["ProductFields"].as_object().into_iter().flatten() {
        if let Some(x) = x.as_str() {
            b = b.product_fields(k, x);
        }
    }
    b.build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_part_is_carried_and_optional_parts_stay_unset() {
        let full = serde_json::json!({
            "Id": "x", "Severity": {"Label": "HIGH"}, "Types": ["TTPs/Persistence"],
            "Resources": [{"Type": "Other", "Id": "r", "Region": "eu-west-1"}],
            "Compliance": {"Status": "FAILED", "RelatedRequirements": ["cis-5.0 1.4"]},
            "Remediation": {"Recommendation": {"Text": "fix it"}},
            "Workflow": {"Status": "NEW"}, "RecordState": "ACTIVE",
            "ProductFields": {"harrier/check": "c"},
        });
        let f = super::to_security_hub(&full);
        assert_eq!(f.id(), Some("x"));
        assert_eq!(
            f.compliance().and_then(|c| c.status()).map(|s| s.as_str()),
            Some("FAILED")
        );
        assert_eq!(
            f.compliance().unwrap().related_requirements(),
            ["cis-5.0 1.4"]
        );
        assert_eq!(
            f.remediation()
                .and_then(|r| r.recommendation())
                .and_then(|r| r.text()),
            Some("fix it")
        );
        assert_eq!(f.resources()[0].region(), Some("eu-west-1"));
        assert_eq!(f.product_fields().unwrap()["harrier/check"], "c");
        let bare =
            super::to_security_hub(&serde_json::json!({"Id": "y", "Severity": {"Label": "LOW"}}));
        assert!(
            bare.compliance().is_none()
                && bare.remediation().is_none()
                && bare.workflow().is_none()
        );
    }
}
