//! Sending posture findings to Security Hub (BatchImportFindings, 100 at a time), from their ASFF
//! form ([`crate::export::asff`]), converted by [`harrier_aws::asff`].

use aws_sdk_securityhub::types::AwsSecurityFinding;
use serde_json::Value;

use super::{CollectError, CollectOptions};

/// What a send did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Findings Security Hub accepted.
    pub imported: u64,
    /// Findings it refused (their errors go to the log).
    pub failed: u64,
}

/// Sends an evaluation's findings to Security Hub in `home`, as findings of the snapshot's
/// account. A snapshot without an account id is refused before anything is sent: a finding
/// must name the account it is about, never a placeholder.
pub fn send_findings(
    opts: &CollectOptions,
    snap: &crate::Snapshot,
    findings: &[crate::Finding],
    home: &str,
    now: i64,
) -> Result<Sent, CollectError> {
    let account = snap.account_id.as_deref().ok_or_else(|| {
        CollectError::Send(
            "the snapshot names no account (sts:GetCallerIdentity failed when it was collected): \
             not sending findings without the account they are about"
                .into(),
        )
    })?;
    let asff = crate::export::asff(findings, account, home, now);
    send_to_security_hub(opts, home, &asff)
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
            let findings: Vec<AwsSecurityFinding> = chunk.iter().map(harrier_aws::asff::to_security_hub).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_without_an_account_is_not_sent() {
        let snap = crate::Snapshot::default();
        assert!(snap.account_id.is_none());
        let opts = CollectOptions {
            regions: super::super::Regions::List(vec!["us-east-1".into()]),
            profile: None,
            // Nothing listens here: the refusal must come before any call.
            endpoint_url: Some("http://127.0.0.1:9".into()),
            home_region: None,
            progress: false,
            credentials: None,
        };
        let e = send_findings(&opts, &snap, &[], "us-east-1", 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("names no account"), "{e}");
    }
}
