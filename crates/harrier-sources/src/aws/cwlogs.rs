//! `cwlogs://<log-group>[?prefix=<stream-prefix>]`: following a CloudWatch Logs group, where
//! CloudTrail (and EKS audit logging) can deliver one JSON record per log event.
//!
//! FilterLogEvents from the checkpoint's time, page by page; each page is one delivery whose
//! checkpoint (the newest event time handed out) is committed with its alerts. Events can reach
//! CloudWatch Logs out of time order (several streams, ingestion delay), so every poll re-reads a
//! look-back window before the checkpoint and skips the event ids it has already handed out;
//! after a restart the window is read again and the alert store's ids drop the repeats.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

use crate::live::{Delivery, LiveSource, SourceError, SourceStats, Unit};

/// Pages read per poll at most.
const MAX_PAGES: usize = 100;

/// How to follow a log group.
#[derive(Debug, Clone)]
pub struct CwLogsOptions {
    /// The log group.
    pub group: String,
    /// Only streams whose name starts with this.
    pub stream_prefix: Option<String>,
    /// Time between polls when there was nothing new.
    pub interval: Duration,
    /// How far before the checkpoint each poll looks again for late events.
    pub lookback: Duration,
    /// Where to start without a checkpoint, ms since the epoch (default: now).
    pub start_ms: Option<i64>,
}

impl CwLogsOptions {
    /// Defaults: 10 s polls, 2 min look-back, start now.
    pub fn new(group: impl Into<String>) -> Self {
        CwLogsOptions {
            group: group.into(),
            stream_prefix: None,
            interval: Duration::from_secs(10),
            lookback: Duration::from_secs(120),
            start_ms: None,
        }
    }

    /// The source's name, `cwlogs://group[?prefix=p]`, also the key its checkpoints are stored
    /// under.
    pub fn source_name(&self) -> String {
        match &self.stream_prefix {
            Some(p) => format!("cwlogs://{}?prefix={}", self.group, p),
            None => format!("cwlogs://{}", self.group),
        }
    }

    /// Parses `cwlogs://group[?prefix=p]`.
    pub fn parse_url(url: &str) -> Option<CwLogsOptions> {
        let rest = url.strip_prefix("cwlogs://")?;
        let (group, query) = rest.split_once('?').unwrap_or((rest, ""));
        if group.is_empty() {
            return None;
        }
        let mut o = CwLogsOptions::new(group);
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            match kv.split_once('=') {
                Some(("prefix", p)) => o.stream_prefix = Some(crate::notification::url_decode(p)),
                _ => return None,
            }
        }
        Some(o)
    }
}

/// The CloudWatch Logs source.
pub struct CwLogsSource {
    name: String,
    key: String,
    opts: CwLogsOptions,
    rt: Handle,
    client: aws_sdk_cloudwatchlogs::Client,
    /// Newest event time handed out / acknowledged, ms.
    handed_ms: i64,
    acked_ms: i64,
    /// Event ids handed out within the look-back window, with their times.
    seen: HashMap<String, i64>,
    /// Page checkpoints handed out and not yet acknowledged: delivery id -> time.
    pending: HashMap<String, i64>,
    next_id: u64,
    last_poll: Option<Instant>,
    idle: bool,
    stats: Arc<SourceStats>,
}

impl CwLogsSource {
    /// A source following `opts.group`, resuming from `checkpoint` (a value this source
    /// committed before) when given.
    pub fn new(
        rt: Handle,
        client: aws_sdk_cloudwatchlogs::Client,
        opts: CwLogsOptions,
        checkpoint: Option<&str>,
    ) -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let start = checkpoint
            .and_then(|c| c.parse::<i64>().ok())
            .or(opts.start_ms)
            .unwrap_or(now_ms);
        let name = opts.source_name();
        CwLogsSource {
            key: name.clone(),
            name,
            opts,
            rt,
            client,
            handed_ms: start,
            acked_ms: start,
            seen: HashMap::new(),
            pending: HashMap::new(),
            next_id: 0,
            last_poll: None,
            idle: false,
            stats: Arc::new(SourceStats::default()),
        }
    }

    /// The key its checkpoints are stored under.
    pub fn checkpoint_key(&self) -> &str {
        &self.key
    }
}

impl LiveSource for CwLogsSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll(&mut self) -> Result<Vec<Delivery>, SourceError> {
        if self.idle {
            if let Some(t) = self.last_poll {
                let wait = self.opts.interval.saturating_sub(t.elapsed());
                std::thread::sleep(wait);
            }
        }
        self.last_poll = Some(Instant::now());
        let lookback = self.opts.lookback.as_millis() as i64;
        let from = self.handed_ms.saturating_sub(lookback).max(0);
        // Forget ids that fell out of the window.
        self.seen.retain(|_, t| *t >= from);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut req = self
                .client
                .filter_log_events()
                .log_group_name(&self.opts.group)
                .start_time(from)
                .set_next_token(token.take());
            if let Some(p) = &self.opts.stream_prefix {
                req = req.log_stream_name_prefix(p);
            }
            let page = match self.rt.block_on(req.send()) {
                Ok(p) => p,
                Err(e) => {
                    SourceStats::add(&self.stats.errors, 1);
                    let err = SourceError {
                        source_name: self.name.clone(),
                        message: format!("FilterLogEvents: {}", harrier_aws::describe_error(&e)),
                    };
                    if out.is_empty() {
                        return Err(err);
                    }
                    // Pages already read were handed out (their ids are marked seen): deliver
                    // them; the next poll goes on from their checkpoint.
                    tracing::warn!(error = %err, "FilterLogEvents failed mid-poll; delivering the pages read");
                    break;
                }
            };
            SourceStats::add(&self.stats.received, 1);
            let mut data = Vec::new();
            let mut newest = self.handed_ms;
            for e in page.events() {
                let (Some(id), Some(ts), Some(msg)) = (e.event_id(), e.timestamp(), e.message())
                else {
                    continue;
                };
                // Event ids are unique per group on AWS; some implementations number them per
                // stream, so the stream is part of the key.
                let seen_key = format!("{}/{id}", e.log_stream_name().unwrap_or_default());
                if self.seen.contains_key(&seen_key) {
                    continue;
                }
                self.seen.insert(seen_key, ts);
                newest = newest.max(ts);
                data.extend_from_slice(msg.trim_end().as_bytes());
                data.push(b'\n');
            }
            if !data.is_empty() {
                self.next_id += 1;
                let id = format!("{}#{}", self.key, self.next_id);
                SourceStats::add(&self.stats.units, 1);
                SourceStats::add(&self.stats.bytes, data.len() as u64);
                self.handed_ms = newest;
                self.pending.insert(id.clone(), newest);
                out.push(Delivery {
                    id,
                    units: vec![Unit {
                        name: self.name.clone(),
                        data,
                    }],
                    checkpoint: Some((self.key.clone(), newest.to_string())),
                });
            }
            pages += 1;
            match page.next_token() {
                // A poll reads at most MAX_PAGES pages; the next poll goes on from the checkpoint.
                Some(t) if pages < MAX_PAGES => token = Some(t.to_string()),
                _ => break,
            }
        }
        self.idle = out.is_empty();
        Ok(out)
    }

    fn ack(&mut self, id: &str) -> Result<(), SourceError> {
        if let Some(t) = self.pending.remove(id) {
            self.acked_ms = self.acked_ms.max(t);
            SourceStats::add(&self.stats.acked, 1);
        }
        Ok(())
    }

    fn release(&mut self, id: &str) {
        if self.pending.remove(id).is_some() {
            // Read again from what is committed; ids handed out since then are forgotten.
            self.handed_ms = self.acked_ms;
            let from = self.acked_ms;
            self.seen.retain(|_, t| *t < from);
            self.pending.clear();
        }
    }

    fn stats(&self) -> Arc<SourceStats> {
        Arc::clone(&self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cwlogs_urls() {
        let o = CwLogsOptions::parse_url(
            "cwlogs://aws-cloudtrail-logs-1?prefix=111122223333_CloudTrail_us-east-1",
        )
        .unwrap();
        assert_eq!(o.group, "aws-cloudtrail-logs-1");
        assert_eq!(
            o.stream_prefix.as_deref(),
            Some("111122223333_CloudTrail_us-east-1")
        );
        assert!(CwLogsOptions::parse_url("cwlogs://g")
            .unwrap()
            .stream_prefix
            .is_none());
        assert!(CwLogsOptions::parse_url("cwlogs://").is_none());
        assert!(CwLogsOptions::parse_url("cwlogs://g?region=x").is_none());
    }
}
