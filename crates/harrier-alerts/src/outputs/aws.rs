//! AWS outputs (feature `aws`): SNS topics, SQS queues, Security Hub.

use aws_sdk_securityhub::types::AwsSecurityFinding;
use tokio::runtime::Handle;

use super::{Attempt, Output};
use crate::store::StoredAlert;

/// The first failed entry of a batch call (entry ids are batch indexes), if any.
fn first_failed<'a>(ids: impl Iterator<Item = &'a str>) -> Option<usize> {
    ids.filter_map(|id| id.parse::<usize>().ok()).min()
}

/// Publishes each alert's JSON to an SNS topic (PublishBatch, 10 at a time), with the rule
/// and priority as message attributes for subscription filters.
pub struct SnsOutput {
    name: String,
    rt: Handle,
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsOutput {
    /// An output to `topic_arn`.
    pub fn new(
        name: impl Into<String>,
        rt: Handle,
        client: aws_sdk_sns::Client,
        topic_arn: &str,
    ) -> Self {
        SnsOutput {
            name: name.into(),
            rt,
            client,
            topic_arn: topic_arn.to_string(),
        }
    }
}

fn sns_attr(v: &str) -> aws_sdk_sns::types::MessageAttributeValue {
    aws_sdk_sns::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()
        .expect("data type is set")
}

impl Output for SnsOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn max_batch(&self) -> usize {
        10
    }

    fn deliver(&mut self, batch: &[StoredAlert]) -> Attempt {
        let entries: Vec<_> = batch
            .iter()
            .enumerate()
            .map(|(i, a)| {
                aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message(&a.json)
                    .subject(
                        a.rule
                            .chars()
                            .take(100)
                            .filter(|c| !c.is_control())
                            .collect::<String>(),
                    )
                    .message_attributes("rule", sns_attr(&a.rule))
                    .message_attributes("priority", sns_attr(a.priority.as_str()))
                    .build()
                    .expect("id and message are set")
            })
            .collect();
        let r = self.rt.block_on(
            self.client
                .publish_batch()
                .topic_arn(&self.topic_arn)
                .set_publish_batch_request_entries(Some(entries))
                .send(),
        );
        match r {
            Err(e) => Attempt::partial(
                0,
                format!("sns publish: {}", harrier_aws::describe_error(&e)),
            ),
            Ok(out) => match first_failed(out.failed().iter().map(|f| f.id())) {
                None => Attempt::all(batch.len()),
                Some(i) => Attempt::partial(
                    i,
                    format!("sns publish: entry {i} failed: {}", out.failed()[0].code()),
                ),
            },
        }
    }
}

/// Sends each alert's JSON to an SQS queue (SendMessageBatch, 10 at a time).
pub struct SqsOutput {
    name: String,
    rt: Handle,
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsOutput {
    /// An output to `queue_url`.
    pub fn new(
        name: impl Into<String>,
        rt: Handle,
        client: aws_sdk_sqs::Client,
        queue_url: &str,
    ) -> Self {
        SqsOutput {
            name: name.into(),
            rt,
            client,
            queue_url: queue_url.to_string(),
        }
    }
}

impl Output for SqsOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn max_batch(&self) -> usize {
        10
    }

    fn deliver(&mut self, batch: &[StoredAlert]) -> Attempt {
        let entries: Vec<_> = batch
            .iter()
            .enumerate()
            .map(|(i, a)| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&a.json)
                    .build()
                    .expect("id and body are set")
            })
            .collect();
        let r = self.rt.block_on(
            self.client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send(),
        );
        match r {
            Err(e) => Attempt::partial(0, format!("sqs send: {}", harrier_aws::describe_error(&e))),
            Ok(out) => match first_failed(out.failed().iter().map(|f| f.id())) {
                None => Attempt::all(batch.len()),
                Some(i) => Attempt::partial(
                    i,
                    format!("sqs send: entry {i} failed: {}", out.failed()[0].code()),
                ),
            },
        }
    }
}

/// Imports alerts into Security Hub as findings (BatchImportFindings, ASFF, 100 at a time).
/// The finding id is the alert id, so a repeated import updates rather than duplicates.
pub struct SecurityHubOutput {
    name: String,
    rt: Handle,
    client: aws_sdk_securityhub::Client,
    account: String,
    region: String,
}

impl SecurityHubOutput {
    /// An output importing into `account`'s Security Hub in `region`.
    pub fn new(
        name: impl Into<String>,
        rt: Handle,
        client: aws_sdk_securityhub::Client,
        account: &str,
        region: &str,
    ) -> Self {
        SecurityHubOutput {
            name: name.into(),
            rt,
            client,
            account: account.to_string(),
            region: region.to_string(),
        }
    }
}

impl Output for SecurityHubOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, batch: &[StoredAlert]) -> Attempt {
        let findings: Vec<AwsSecurityFinding> = batch
            .iter()
            .map(|a| {
                harrier_aws::asff::to_security_hub(&super::asff_finding(
                    a,
                    &self.account,
                    &self.region,
                ))
            })
            .collect();
        let r = self.rt.block_on(
            self.client
                .batch_import_findings()
                .set_findings(Some(findings))
                .send(),
        );
        match r {
            Err(e) => Attempt::partial(
                0,
                format!("securityhub import: {}", harrier_aws::describe_error(&e)),
            ),
            Ok(out) => {
                if out.failed_count().unwrap_or(0) == 0 {
                    return Attempt::all(batch.len());
                }
                let failed: Vec<&str> = out
                    .failed_findings()
                    .iter()
                    .filter_map(|f| f.id())
                    .collect();
                let first = batch
                    .iter()
                    .position(|a| failed.contains(&a.id.as_str()))
                    .unwrap_or(0);
                let why = out
                    .failed_findings()
                    .first()
                    .map(|f| {
                        format!(
                            "{}: {}",
                            f.error_code().unwrap_or("?"),
                            f.error_message().unwrap_or("")
                        )
                    })
                    .unwrap_or_default();
                Attempt::partial(
                    first,
                    format!(
                        "securityhub import: {} finding(s) failed; {why}",
                        failed.len()
                    ),
                )
            }
        }
    }
}
