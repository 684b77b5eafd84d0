//! How Harrier reaches AWS: one SDK configuration shared by every crate that talks to AWS
//! (posture collection, the S3/SQS/CloudWatch Logs sources, the SNS/SQS/Security Hub outputs).
//!
//! Credentials and region come from the SDK's standard chain (`AWS_PROFILE`, `AWS_REGION`,
//! shared config files, instance and container roles), and an endpoint URL can point every
//! service at moto or LocalStack (`--endpoint-url` or `AWS_ENDPOINT_URL`). TLS is rustls with
//! ring, and throttled or failed calls are retried with exponential backoff and jitter.
#![deny(missing_docs)]

pub mod asff;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Where and as whom to reach AWS. Every field left empty falls back to the standard chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// A named profile from the shared config files.
    pub profile: Option<String>,
    /// The region; otherwise the chain's, else `us-east-1`.
    pub region: Option<String>,
    /// One endpoint URL for every service (moto, LocalStack).
    pub endpoint_url: Option<String>,
    /// Credentials to use instead of the chain's (a role assumed in another account).
    pub credentials: Option<StaticCredentials>,
}

/// Temporary credentials (a role session), never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaticCredentials({}, <redacted>)", self.access_key_id)
    }
}

/// Assumes `role_arn` (with `external_id` when given) with `base`'s credentials: the
/// session's credentials, or the call's error (the role missing, not trusted, the external id
/// wrong).
pub async fn assume_role(
    base: &SdkConfig,
    role_arn: &str,
    session_name: &str,
    external_id: Option<&str>,
) -> Result<StaticCredentials, CallError> {
    let out = aws_sdk_sts::Client::new(base)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .set_external_id(external_id.map(str::to_string))
        .send()
        .await
        .map_err(|e| CallError::new(format!("sts AssumeRole {role_arn}"), e))?;
    let c = out.credentials().ok_or_else(|| CallError {
        operation: format!("sts AssumeRole {role_arn}"),
        message: "no credentials in the answer".into(),
        source: None,
    })?;
    Ok(StaticCredentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: c.secret_access_key().to_string(),
        session_token: Some(c.session_token().to_string()),
    })
}

impl AwsOptions {
    /// Whether an endpoint other than AWS's own is in use (from the options or the environment):
    /// S3 is then addressed path-style, since such endpoints have no per-bucket host names.
    pub fn custom_endpoint(&self) -> bool {
        self.endpoint_url.is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some()
    }
}

/// The SDK configuration for `region` (or the options' region, or the chain's, or us-east-1).
pub async fn sdk_config(opts: &AwsOptions, region: Option<&str>) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(6));
    if let Some(r) = region.or(opts.region.as_deref()) {
        loader = loader.region(Region::new(r.to_string()));
    }
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(u) = &opts.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    if let Some(c) = &opts.credentials {
        loader = loader.credentials_provider(aws_sdk_sts::config::Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            c.session_token.clone(),
            None,
            "harrier-assumed-role",
        ));
    }
    let cfg = loader.load().await;
    if cfg.region().is_none() {
        return cfg.into_builder().region(Region::new("us-east-1")).build();
    }
    cfg
}

/// A failed AWS call: which operation, and what the service (or the connection) said, with
/// the SDK's error kept as the source.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct CallError {
    /// The operation (`sts GetCallerIdentity`, `listing s3://bucket/prefix`).
    pub operation: String,
    /// [`describe_error`]'s line.
    pub message: String,
    /// The SDK's error, when there is one.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CallError {
    /// Wraps an SDK error of `operation`.
    pub fn new<E>(operation: impl Into<String>, err: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        CallError {
            operation: operation.into(),
            message: describe_error(&err),
            source: Some(Box::new(err)),
        }
    }

    /// A call that answered, but not usefully.
    pub fn answer(operation: impl Into<String>, message: impl Into<String>) -> Self {
        CallError {
            operation: operation.into(),
            message: message.into(),
            source: None,
        }
    }
}

/// The account of the credentials in use (STS GetCallerIdentity).
pub async fn caller_account(cfg: &SdkConfig) -> Result<String, CallError> {
    const OP: &str = "sts GetCallerIdentity";
    let out = aws_sdk_sts::Client::new(cfg)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| CallError::new(OP, e))?;
    out.account()
        .map(str::to_string)
        .ok_or_else(|| CallError::answer(OP, "returned no account"))
}

/// An S3 client for `cfg`, path-style when the endpoint is not AWS's own.
pub fn s3_client(cfg: &SdkConfig, custom_endpoint: bool) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(cfg)
            .force_path_style(custom_endpoint)
            .build(),
    )
}

/// A one-line description of an SDK error: the service's code and message when it sent one,
/// else the error and its causes (connection refused, timeout...). Never includes credentials.
pub fn describe_error<E>(err: &E) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (err.code(), err.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => short_chain(err),
    }
}

/// An error and its causes in one line, without the raw response the SDK's debug form carries
/// (bodies can be large and are not the user's business), at most 300 characters.
pub fn short_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    let mut line = parts.join(": ");
    if line.chars().count() > 300 {
        line = line.chars().take(297).collect::<String>() + "...";
    }
    line
}
