//! Registry credentials for Amazon ECR, from `GetAuthorizationToken` (feature `aws`).

use crate::registry::{Credentials, Reference};

/// Why ECR credentials could not be had.
#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The call failed (credentials, permissions, network).
    #[error("ECR GetAuthorizationToken: {0}")]
    Call(String),
    /// The answer was not `base64(user:password)`.
    #[error("ECR returned an unusable authorization token: {0}")]
    Token(&'static str),
}

/// Credentials for `r` when it is an ECR repository (`None` otherwise): the caller's AWS
/// credentials exchanged for a registry token in the repository's region. `endpoint_url`
/// points the call at moto or LocalStack.
pub fn credentials(
    r: &Reference,
    endpoint_url: Option<String>,
) -> Result<Option<Credentials>, EcrError> {
    let Some(region) = r.ecr_region() else {
        return Ok(None);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(EcrError::Runtime)?;
    let aws = harrier_aws::AwsOptions {
        region: Some(region.clone()),
        endpoint_url,
        ..Default::default()
    };
    let token = rt
        .block_on(async {
            let cfg = harrier_aws::sdk_config(&aws, Some(&region)).await;
            aws_sdk_ecr::Client::new(&cfg)
                .get_authorization_token()
                .send()
                .await
        })
        .map_err(|e| EcrError::Call(harrier_aws::describe_error(&e)))?;
    let data = token
        .authorization_data()
        .first()
        .and_then(|d| d.authorization_token())
        .ok_or(EcrError::Token("none returned"))?;
    let (user, password) = decode(data)?;
    Ok(Some(Credentials(Some((user, password)))))
}

/// `base64(user:password)` into its parts.
fn decode(token: &str) -> Result<(String, String), EcrError> {
    let bytes = harrier_events::base64::decode(token).ok_or(EcrError::Token("not base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| EcrError::Token("not text"))?;
    let (u, p) = text
        .split_once(':')
        .ok_or(EcrError::Token("not user:password"))?;
    Ok((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_user_colon_password_in_base64() {
        // "AWS:secret"
        assert_eq!(
            super::decode("QVdTOnNlY3JldA==").unwrap(),
            ("AWS".to_string(), "secret".to_string())
        );
        assert!(super::decode("QVdT").is_err(), "no colon");
        assert!(super::decode("***").is_err(), "not base64");
    }
}
