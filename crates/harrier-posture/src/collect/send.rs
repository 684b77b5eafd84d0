//! Sending posture findings to Security Hub (BatchImportFindings, 100 at a time), from their ASFF
//! form ([`crate::export::asff`]).

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, Recommendation, RecordState, Remediation,
    Resource, Severity, SeverityLabel, Workflow, WorkflowStatus,
};
use serde_json::Value;

use super::{CollectError, CollectOptions};

fn s(v: &Value, p: &str) -> String {
    v.pointer(p)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// One ASFF document as the SDK's type.
fn finding(v: &Value) -> AwsSecurityFinding {
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
        )
        .remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(s(v, "/Remediation/Recommendation/Text"))
                        .build(),
                )
                .build(),
        )
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(s(v, "/Compliance/Status").as_str()))
                .set_related_requirements(Some(
                    v.pointer("/Compliance/RelatedRequirements")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                ))
                .build(),
        )
        .workflow(
            Workflow::builder()
                .status(WorkflowStatus::from(s(v, "/Workflow/Status").as_str()))
                .build(),
        )
        .record_state(RecordState::from(s(v, "/RecordState").as_str()));
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
    if let Some(pf) = v["ProductFields"].as_object() {
        for (k, x) in pf {
            if let Some(x) = x.as_str() {
                b = b.product_fields(k, x);
            }
        }
    }
    b.build()
}

/// What a send did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Findings Security Hub accepted.
    pub imported: u64,
    /// Findings it refused (their errors go to the log).
    pub failed: u64,
}

/// Imports `asff` documents into Security Hub in `region`. Blocks; runs its own runtime.
pub fn send_to_security_hub(
    opts: &CollectOptions,
    region: &str,
    asff: &[Value],
) -> Result<Sent, CollectError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let cfg = super::sdk_config(opts, region).await;
        let client = aws_sdk_securityhub::Client::new(&cfg);
        let mut sent = Sent::default();
        for chunk in asff.chunks(100) {
            let findings: Vec<AwsSecurityFinding> = chunk.iter().map(finding).collect();
            let out = client
                .batch_import_findings()
                .set_findings(Some(findings))
                .send()
                .await
                .map_err(|e| CollectError::Send(format!("securityhub BatchImportFindings: {}", harrier_aws::describe_error(&e))))?;
            sent.imported += out.success_count().unwrap_or(0).max(0) as u64;
            let failed = out.failed_count().unwrap_or(0).max(0) as u64;
            sent.failed += failed;
            if let Some(f) = out.failed_findings().first() {
                tracing::warn!(count = failed, first = %format!("{}: {}", f.error_code().unwrap_or("?"), f.error_message().unwrap_or("")), "Security Hub refused findings");
            }
        }
        Ok(sent)
    })
}
