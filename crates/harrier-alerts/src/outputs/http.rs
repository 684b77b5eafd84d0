//! HTTP outputs: a generic JSON webhook and Slack's incoming webhooks.

use std::time::Duration;

use super::{Attempt, Output};
use crate::store::StoredAlert;

/// Largest response body read (only to report errors).
const MAX_RESPONSE: u64 = 4096;

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(timeout)
        .redirects(0)
        .build()
}

fn post(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(String, String)],
    body: &str,
) -> Result<(), String> {
    let mut req = agent.post(url).set("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.set(k, v);
    }
    match req.send_string(body) {
        Ok(_) => Ok(()),
        Err(ureq::Error::Status(code, resp)) => {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(
                &mut std::io::Read::take(resp.into_reader(), MAX_RESPONSE),
                &mut text,
            );
            Err(format!("HTTP {code}: {}", text.trim()))
        }
        // The URL may carry a token (Slack's does): name only the host.
        Err(ureq::Error::Transport(t)) => Err(format!("{}: {}", redact(url), t.kind())),
    }
}

/// `scheme://host[:port]/...` without the path, which may hold a secret.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or("");
            format!("{scheme}://{host}/...")
        }
        None => "<url>".into(),
    }
}

/// POSTs each alert's JSON to a URL, one request per alert; any 2xx is success.
pub struct WebhookOutput {
    name: String,
    url: String,
    headers: Vec<(String, String)>,
    agent: ureq::Agent,
}

impl WebhookOutput {
    /// A webhook to `url` with extra `headers` and a per-request `timeout`.
    pub fn new(
        name: impl Into<String>,
        url: &str,
        headers: Vec<(String, String)>,
        timeout: Duration,
    ) -> Self {
        WebhookOutput {
            name: name.into(),
            url: url.to_string(),
            headers,
            agent: agent(timeout),
        }
    }
}

impl Output for WebhookOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, batch: &[StoredAlert]) -> Attempt {
        for (i, a) in batch.iter().enumerate() {
            // The alert's id as the idempotency key: a receiver that honours it sees an alert
            // once even when it is posted again (a retry after a lost answer, a worker that
            // died between posting and recording the delivery).
            let mut headers = self.headers.clone();
            headers.push(("Idempotency-Key".to_string(), a.id.clone()));
            if let Err(e) = post(&self.agent, &self.url, &headers, &a.json) {
                return Attempt::partial(i, e);
            }
        }
        Attempt::all(batch.len())
    }

    fn max_batch(&self) -> usize {
        20
    }
}

/// Posts a readable message per alert to a Slack incoming webhook.
pub struct SlackOutput {
    name: String,
    url: String,
    agent: ureq::Agent,
}

impl SlackOutput {
    /// A Slack output to the incoming-webhook `url`.
    pub fn new(name: impl Into<String>, url: &str, timeout: Duration) -> Self {
        SlackOutput {
            name: name.into(),
            url: url.to_string(),
            agent: agent(timeout),
        }
    }
}

impl Output for SlackOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, batch: &[StoredAlert]) -> Attempt {
        for (i, a) in batch.iter().enumerate() {
            let body = super::slack_message(a).to_string();
            if let Err(e) = post(&self.agent, &self.url, &[], &body) {
                return Attempt::partial(i, e);
            }
        }
        Attempt::all(batch.len())
    }

    fn max_batch(&self) -> usize {
        20
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_redacted_to_their_host() {
        assert_eq!(
            super::redact("https://hooks.slack.com/services/T000/B000/XXXXSECRET"),
            "https://hooks.slack.com/..."
        );
        assert_eq!(super::redact("nonsense"), "<url>");
    }
}
