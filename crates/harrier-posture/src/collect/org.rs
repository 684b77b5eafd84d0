//! An AWS organisation: its member accounts (Organizations `ListAccounts`), and each account's
//! own credentials (a role assumed in it, with an external id when given), so every account is
//! collected and evaluated like one scanned alone. An account whose role cannot be assumed is
//! reported as not assessed, never as passing.

use super::{block_on_home, CollectError, CollectOptions};

/// One account of the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `ACTIVE`, `SUSPENDED`, ...
    pub status: String,
}

/// The organisation's accounts, as the caller (its management or delegated administrator
/// account) sees them.
pub fn list_accounts(opts: &CollectOptions) -> Result<Vec<Member>, CollectError> {
    block_on_home(opts, |cfg| async move {
        let org = aws_sdk_organizations::Client::new(&cfg);
        let mut out = Vec::new();
        let mut next = None;
        loop {
            let r = org
                .list_accounts()
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| {
                    CollectError::Identity(format!(
                        "organizations ListAccounts: {}",
                        harrier_aws::describe_error(&e)
                    ))
                })?;
            for a in r.accounts() {
                out.push(Member {
                    id: a.id().unwrap_or_default().to_string(),
                    name: a.name().unwrap_or_default().to_string(),
                    status: a
                        .status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                });
            }
            next = r.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    })?
}

/// Options that reach `account` through `role` (a role name, or a full ARN with `{account}`
/// where the id goes), or why they cannot.
pub fn assume(
    opts: &CollectOptions,
    account: &str,
    role: &str,
    external_id: Option<&str>,
) -> Result<CollectOptions, String> {
    let arn = if role.starts_with("arn:") {
        role.replace("{account}", account)
    } else {
        format!("arn:aws:iam::{account}:role/{role}")
    };
    let creds = block_on_home(opts, |base| async move {
        harrier_aws::assume_role(&base, &arn, "harrier-posture", external_id).await
    })
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    Ok(CollectOptions {
        credentials: Some(creds),
        profile: None,
        progress: false,
        ..opts.clone()
    })
}

/// The caller's own account id (`sts:GetCallerIdentity`).
pub fn caller_account(opts: &CollectOptions) -> Result<String, CollectError> {
    block_on_home(opts, |cfg| async move {
        super::global::identity(&cfg, &super::Sink::default()).await
    })?
}
