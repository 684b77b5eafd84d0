//! Reading CloudTrail's S3 bucket: list keys, filter them by name, fetch with bounded
//! concurrency in reading order.

use std::collections::VecDeque;

use aws_sdk_s3::Client;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::cloudtrail_keys::{self, KeyFilter, KeyKind};

/// An `s3://bucket/prefix` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// Bucket.
    pub bucket: String,
    /// Key prefix (may be empty).
    pub prefix: String,
}

impl S3Url {
    /// Parses `s3://bucket[/prefix]`.
    pub fn parse(s: &str) -> Option<S3Url> {
        let rest = s.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

/// Why an object could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The object (or bucket) does not exist (any more).
    #[error("object not found ({0})")]
    Missing(String),
    /// Over the size limit.
    #[error("object of {size} bytes is over the {limit}-byte limit: skipped")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Any other failure (after the SDK's retries).
    #[error("{0}")]
    Failed(String),
}

/// One object to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Key.
    pub key: String,
    /// Size in bytes, from the listing.
    pub size: u64,
    /// What its name says.
    pub kind: KeyKind,
}

/// A listing, filtered.
#[derive(Debug, Default)]
pub struct Listing {
    /// Objects to read, in reading order.
    pub objects: Vec<Object>,
    /// Keys listed in all.
    pub listed: u64,
    /// Keys left out by the filter (other accounts, regions, times).
    pub filtered_out: u64,
    /// Keys that are not event logs (digests, insights, other files).
    pub not_logs: u64,
}

/// Lists `url` and keeps the keys `filter` accepts, in reading order.
pub async fn list(
    client: &Client,
    url: &S3Url,
    filter: &KeyFilter,
) -> Result<Listing, harrier_aws::CallError> {
    let mut out = Listing::default();
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(&url.bucket)
            .prefix(&url.prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| {
                harrier_aws::CallError::new(
                    format!("listing s3://{}/{}", url.bucket, url.prefix),
                    e,
                )
            })?;
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            out.listed += 1;
            let kind = cloudtrail_keys::classify(key);
            if kind == KeyKind::NotALog {
                out.not_logs += 1;
            } else if filter.accepts(&kind) {
                items.push((key.to_string(), kind, o.size().unwrap_or(0).max(0) as u64));
            } else {
                out.filtered_out += 1;
            }
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    cloudtrail_keys::sort_for_reading(&mut items);
    out.objects = items
        .into_iter()
        .map(|(key, kind, size)| Object { key, size, kind })
        .collect();
    Ok(out)
}

/// Reads one object whole, refusing objects over `limit` bytes.
pub async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
    limit: u64,
) -> Result<Vec<u8>, FetchError> {
    let resp = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(r) => r,
        Err(e) => {
            let code = e.code().unwrap_or_default();
            return Err(
                if matches!(code, "NoSuchKey" | "NoSuchBucket" | "NotFound") {
                    FetchError::Missing(code.to_string())
                } else {
                    FetchError::Failed(harrier_aws::describe_error(&e))
                },
            );
        }
    };
    let declared = resp.content_length().unwrap_or(0).max(0) as u64;
    if declared > limit {
        return Err(FetchError::TooLarge {
            size: declared,
            limit,
        });
    }
    let mut body = resp.body;
    let mut data = Vec::with_capacity(declared as usize);
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => {
                if (data.len() + chunk.len()) as u64 > limit {
                    return Err(FetchError::TooLarge {
                        size: (data.len() + chunk.len()) as u64,
                        limit,
                    });
                }
                data.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(FetchError::Failed(format!("reading the body: {e}"))),
        }
    }
    Ok(data)
}

/// A download in flight.
type Download = JoinHandle<Result<Vec<u8>, FetchError>>;

/// Fetches objects with up to `concurrency` downloads in flight, yielding them in the order
/// given (so reading order is kept while the network stays busy). Blocks on `rt`; call it from
/// outside the runtime.
pub struct OrderedFetcher {
    rt: Handle,
    client: Client,
    bucket: String,
    limit: u64,
    concurrency: usize,
    todo: std::vec::IntoIter<Object>,
    in_flight: VecDeque<(Object, Download)>,
}

impl OrderedFetcher {
    /// A fetcher for `objects` of `bucket`.
    pub fn new(
        rt: Handle,
        client: Client,
        bucket: &str,
        objects: Vec<Object>,
        concurrency: usize,
        limit: u64,
    ) -> Self {
        OrderedFetcher {
            rt,
            client,
            bucket: bucket.to_string(),
            limit,
            concurrency: concurrency.max(1),
            todo: objects.into_iter(),
            in_flight: VecDeque::new(),
        }
    }

    fn refill(&mut self) {
        while self.in_flight.len() < self.concurrency {
            let Some(o) = self.todo.next() else { break };
            let (client, bucket, key, limit) = (
                self.client.clone(),
                self.bucket.clone(),
                o.key.clone(),
                self.limit,
            );
            let h = self
                .rt
                .spawn(async move { get(&client, &bucket, &key, limit).await });
            self.in_flight.push_back((o, h));
        }
    }
}

impl Iterator for OrderedFetcher {
    type Item = (Object, Result<Vec<u8>, FetchError>);

    fn next(&mut self) -> Option<Self::Item> {
        self.refill();
        let (o, h) = self.in_flight.pop_front()?;
        let r = self
            .rt
            .block_on(h)
            .unwrap_or_else(|e| Err(FetchError::Failed(format!("download task failed: {e}"))));
        self.refill();
        Some((o, r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_urls() {
        assert_eq!(
            S3Url::parse("s3://b/AWSLogs/1/").unwrap(),
            S3Url {
                bucket: "b".into(),
                prefix: "AWSLogs/1/".into()
            }
        );
        assert_eq!(S3Url::parse("s3://b").unwrap().prefix, "");
        assert!(S3Url::parse("s3:///x").is_none());
        assert!(S3Url::parse("/tmp/x").is_none());
    }
}
