//! `sqs://<queue-url>`: log files announced by S3 or CloudTrail notifications on an SQS queue.
//!
//! Long polling, batches of up to 10 messages. Each message's objects are fetched; a message is
//! handed out only when all its objects were read, and deleted ([`LiveSource::ack`]) only after
//! its alerts are durable. While a message is being worked on, its visibility timeout is
//! extended in the background, so a long file is not redelivered to another worker mid-way. A
//! message that cannot be processed (not a notification, object missing or too large) is logged,
//! counted and left alone: it becomes visible again and, after the queue's `maxReceiveCount`,
//! moves to its dead-letter queue. Several workers can share one queue: SQS hands each message
//! to one of them at a time, and alert ids make the rare double delivery harmless.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::s3::{self, FetchError};
use crate::live::{Delivery, LiveSource, SourceError, SourceStats, Unit};
use crate::notification;

/// How to read the queue.
#[derive(Debug, Clone)]
pub struct SqsOptions {
    /// The queue URL.
    pub queue_url: String,
    /// Long-poll wait, 0 to 20 seconds.
    pub wait_seconds: i32,
    /// Visibility timeout asked for on receive, and kept extended while working.
    pub visibility_seconds: i32,
    /// Largest object read.
    pub max_object_bytes: u64,
    /// Messages per receive, 1 to 10.
    pub batch: i32,
}

impl SqsOptions {
    /// Defaults for `queue_url`: 20 s long polls, 10 messages, 120 s visibility.
    pub fn new(queue_url: impl Into<String>) -> Self {
        SqsOptions {
            queue_url: queue_url.into(),
            wait_seconds: 20,
            visibility_seconds: 120,
            max_object_bytes: super::DEFAULT_MAX_OBJECT_BYTES,
            batch: 10,
        }
    }
}

struct InFlight {
    receipt: String,
    heartbeat: JoinHandle<()>,
}

/// The SQS source.
pub struct SqsSource {
    name: String,
    opts: SqsOptions,
    rt: Handle,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    in_flight: HashMap<String, InFlight>,
    stats: Arc<SourceStats>,
}

impl SqsSource {
    /// A source on `opts.queue_url`, with clients built from one SDK configuration.
    pub fn new(
        rt: Handle,
        sqs: aws_sdk_sqs::Client,
        s3: aws_sdk_s3::Client,
        opts: SqsOptions,
    ) -> Self {
        SqsSource {
            name: format!("sqs://{}", opts.queue_url),
            opts,
            rt,
            sqs,
            s3,
            in_flight: HashMap::new(),
            stats: Arc::new(SourceStats::default()),
        }
    }

    fn err(&self, message: String) -> SourceError {
        SourceStats::add(&self.stats.errors, 1);
        SourceError {
            source_name: self.name.clone(),
            message,
        }
    }

    /// Keeps a message invisible to other workers while it is worked on.
    fn heartbeat(&self, receipt: &str) -> JoinHandle<()> {
        let (sqs, url, receipt) = (
            self.sqs.clone(),
            self.opts.queue_url.clone(),
            receipt.to_string(),
        );
        let vis = self.opts.visibility_seconds.max(2);
        self.rt.spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs((vis / 2) as u64)).await;
                let r = sqs
                    .change_message_visibility()
                    .queue_url(&url)
                    .receipt_handle(&receipt)
                    .visibility_timeout(vis)
                    .send()
                    .await;
                if let Err(e) = r {
                    tracing::warn!(error = %harrier_aws::describe_error(&e), "sqs: cannot extend a message's visibility");
                }
            }
        })
    }
}

impl LiveSource for SqsSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll(&mut self) -> Result<Vec<Delivery>, SourceError> {
        let recv = self.rt.block_on(
            self.sqs
                .receive_message()
                .queue_url(&self.opts.queue_url)
                .max_number_of_messages(self.opts.batch.clamp(1, 10))
                .wait_time_seconds(self.opts.wait_seconds.clamp(0, 20))
                .visibility_timeout(self.opts.visibility_seconds)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .send(),
        );
        let recv =
            recv.map_err(|e| self.err(format!("receive: {}", harrier_aws::describe_error(&e))))?;
        let mut out = Vec::new();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        for m in recv.messages() {
            SourceStats::add(&self.stats.received, 1);
            let (Some(id), Some(receipt)) = (m.message_id(), m.receipt_handle()) else {
                continue;
            };
            if let Some(sent) = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|s| s.parse::<u64>().ok())
            {
                self.stats.lag_seconds.store(
                    now_ms.saturating_sub(sent) / 1000,
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
            let heartbeat = self.heartbeat(receipt);
            let body = m.body().unwrap_or_default();
            let n = match notification::parse(body) {
                Ok(n) => n,
                Err(e) => {
                    heartbeat.abort();
                    SourceStats::add(&self.stats.bad_inputs, 1);
                    tracing::warn!(source = %self.name, message_id = id, error = %e, "bad message left on the queue for its redrive policy");
                    continue;
                }
            };
            // Fetch the message's objects concurrently.
            let fetches: Vec<_> = n
                .objects
                .iter()
                .map(|o| {
                    let (c, b, k, l) = (
                        self.s3.clone(),
                        o.bucket.clone(),
                        o.key.clone(),
                        self.opts.max_object_bytes,
                    );
                    self.rt.spawn(async move { s3::get(&c, &b, &k, l).await })
                })
                .collect();
            let mut units = Vec::new();
            let mut failed = None;
            for (o, f) in n.objects.iter().zip(fetches) {
                let r = self
                    .rt
                    .block_on(f)
                    .unwrap_or_else(|e| Err(FetchError::Failed(e.to_string())));
                match r {
                    Ok(data) => units.push(Unit {
                        name: format!("s3://{}/{}", o.bucket, o.key),
                        data,
                    }),
                    Err(e) => {
                        failed = Some((format!("s3://{}/{}", o.bucket, o.key), e));
                        break;
                    }
                }
            }
            if let Some((obj, e)) = failed {
                heartbeat.abort();
                match e {
                    FetchError::Failed(_) => SourceStats::add(&self.stats.errors, 1),
                    _ => SourceStats::add(&self.stats.bad_inputs, 1),
                }
                tracing::warn!(source = %self.name, message_id = id, object = %obj, error = %e, "message left on the queue: an object it names cannot be read");
                continue;
            }
            for u in &units {
                SourceStats::add(&self.stats.units, 1);
                SourceStats::add(&self.stats.bytes, u.data.len() as u64);
            }
            self.in_flight.insert(
                id.to_string(),
                InFlight {
                    receipt: receipt.to_string(),
                    heartbeat,
                },
            );
            out.push(Delivery {
                id: id.to_string(),
                units,
                checkpoint: None,
            });
        }
        Ok(out)
    }

    fn ack(&mut self, id: &str) -> Result<(), SourceError> {
        let Some(f) = self.in_flight.remove(id) else {
            return Ok(());
        };
        f.heartbeat.abort();
        let r = self.rt.block_on(
            self.sqs
                .delete_message()
                .queue_url(&self.opts.queue_url)
                .receipt_handle(&f.receipt)
                .send(),
        );
        r.map_err(|e| self.err(format!("delete: {}", harrier_aws::describe_error(&e))))?;
        SourceStats::add(&self.stats.acked, 1);
        Ok(())
    }

    fn release(&mut self, id: &str) {
        if let Some(f) = self.in_flight.remove(id) {
            // Stop extending: the message becomes visible again when its timeout runs out.
            f.heartbeat.abort();
        }
    }

    fn stats(&self) -> Arc<SourceStats> {
        Arc::clone(&self.stats)
    }
}

impl Drop for SqsSource {
    fn drop(&mut self) {
        for (_, f) in self.in_flight.drain() {
            f.heartbeat.abort();
        }
    }
}
