//! A live event that raises an alert is flushed at once; one that does not is not.

use harrier_alerts::{Alert, AlertSink, SinkError};
use harrier_detect::{Detector, Options};
use harrier_rules::RuleSet;

#[derive(Default)]
struct Counting {
    sent: Vec<String>,
    flushes: usize,
}

impl AlertSink for Counting {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        self.sent.push(alert.rule.to_string());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        self.flushes += 1;
        Ok(())
    }
}

const RULE: &str = "- rule: Miner\n  desc: d\n  condition: evt.type = execve and proc.name = xmrig\n  output: '%proc.name in %container.id'\n  priority: CRITICAL\n  source: syscall\n";

fn event(name: &str) -> String {
    format!(
        r#"{{"source":"syscall","ts":1,"id":"1-{name}","evt":{{"type":"execve","res":"SUCCESS","rawres":0}},"proc":{{"pid":7,"name":"{name}","args":[],"ancestors":[]}},"container":{{"id":"3f2a6b1c9d0e"}}}}"#
    )
}

#[test]
fn alerts_are_flushed_when_raised_and_only_then() {
    let (rules, diags) = RuleSet::load([("r.yaml", RULE)]);
    assert!(diags.is_empty(), "{diags:?}");
    let mut d = Detector::new(&rules, "h", Options::default());
    let mut sink = Counting::default();
    let mut problems = Vec::new();
    let raised = d
        .process_live_event(
            event("nginx").as_bytes(),
            1,
            "sensor",
            &mut sink,
            &mut |p| problems.push(p),
        )
        .unwrap();
    assert!(!raised && sink.flushes == 0 && sink.sent.is_empty());
    let raised = d
        .process_live_event(
            event("xmrig").as_bytes(),
            2,
            "sensor",
            &mut sink,
            &mut |p| problems.push(p),
        )
        .unwrap();
    assert!(raised);
    assert_eq!(
        (sink.sent.as_slice(), sink.flushes),
        (&["Miner".to_string()][..], 1)
    );
    assert!(problems.is_empty());
}
