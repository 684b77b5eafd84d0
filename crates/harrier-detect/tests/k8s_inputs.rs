//! Kubernetes audit records in every shape they arrive in: Event, EventList (v1 and v1beta1),
//! and wrapped in CloudWatch Logs (EKS control-plane logs) one by one or in batches.

use harrier_alerts::{Alert, AlertSink, SinkError};
use harrier_detect::{Detector, Options};
use harrier_rules::RuleSet;

#[derive(Default)]
struct Names(Vec<String>);

impl AlertSink for Names {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        self.0.push(format!(
            "{} @{}",
            alert.rule,
            alert.event_id.as_deref().unwrap_or("-")
        ));
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

const RULES: &str = "- rule: Exec\n  desc: d\n  condition: ka.target.subresource = exec and ka.verb = create\n  output: 'exec by %ka.user.name cmd=%ka.uri.param[command]'\n  priority: WARNING\n  source: k8s_audit\n\
                     - rule: Stop\n  desc: d\n  condition: ct.name = StopLogging\n  output: o\n  priority: WARNING\n  source: aws_cloudtrail\n";

fn exec_event(id: &str, api: &str) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/{api}","auditID":"{id}","stage":"ResponseStarted","verb":"create","requestURI":"/api/v1/namespaces/web/pods/nginx/exec?command=xmrig&container=nginx","user":{{"username":"alice"}},"objectRef":{{"resource":"pods","namespace":"web","name":"nginx","subresource":"exec"}},"stageTimestamp":"2026-11-20T11:00:00.5Z"}}"#
    )
}

fn run(record: &str) -> (Vec<String>, Vec<String>, u64) {
    let (rules, diags) = RuleSet::load([("r.yaml", RULES)]);
    assert!(diags.is_empty(), "{diags:?}");
    let mut d = Detector::new(&rules, "h", Options::default());
    let mut sink = Names::default();
    let mut problems = Vec::new();
    d.process_record(record.as_bytes(), 0, "t", &mut sink, &mut |p| {
        problems.push(p.message)
    })
    .unwrap();
    (sink.0, problems, d.stats.records)
}

#[test]
fn event_and_event_list() {
    let (a, p, n) = run(&exec_event("a1", "v1"));
    assert_eq!(a, vec!["Exec @a1"]);
    assert!(p.is_empty() && n == 1);
    let list = format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1beta1","items":[{},{}]}}"#,
        exec_event("b1", "v1beta1"),
        exec_event("b2", "v1beta1")
    );
    let (a, p, n) = run(&list);
    assert_eq!(a, vec!["Exec @b1", "Exec @b2"]);
    assert!(p.is_empty());
    assert_eq!(n, 2, "the items are the records, not the list");
}

#[test]
fn near_miss_without_audit_id_has_no_ka_fields() {
    let ev = exec_event("x", "v1").replace(r#""auditID":"x","#, "");
    let (a, p, _) = run(&ev);
    assert!(a.is_empty(), "{a:?}");
    assert!(p.is_empty());
}

#[test]
fn eks_control_plane_logs_through_cloudwatch() {
    let msg = serde_json::to_string(&exec_event("c1", "v1")).unwrap();
    // One log event, as FilterLogEvents and exports give them.
    let single = format!(
        r#"{{"timestamp":1763636400000,"logStreamName":"kube-apiserver-audit-abc","message":{msg}}}"#
    );
    assert_eq!(run(&single).0, vec!["Exec @c1"]);
    // A subscription batch from /aws/eks/<cluster>/cluster, mixing in a CloudTrail record.
    let ct = serde_json::to_string(
        r#"{"eventName":"StopLogging","eventID":"ct1","eventSource":"cloudtrail.amazonaws.com"}"#,
    )
    .unwrap();
    let batch = format!(
        r#"{{"messageType":"DATA_MESSAGE","logGroup":"/aws/eks/prod/cluster","logStream":"kube-apiserver-audit-abc","logEvents":[{{"id":"1","timestamp":1,"message":{msg}}},{{"id":"2","timestamp":2,"message":{ct}}}]}}"#
    );
    let (a, p, n) = run(&batch);
    assert_eq!(a, vec!["Exec @c1", "Stop @ct1"]);
    assert!(p.is_empty());
    assert_eq!(n, 2);
    // A log event whose message is not an event is bad input, reported, not silently dropped.
    let (a, p, _) = run(r#"{"logEvents":[{"id":"1","message":"{\"hello\":1}"}]}"#);
    assert!(a.is_empty());
    assert_eq!(p.len(), 1, "{p:?}");
}

#[test]
fn uri_param_reads_the_first_command() {
    let (rules, _) = RuleSet::load([("r.yaml", RULES)]);
    let scratch = harrier_events::lazy::Scratch::default();
    let text = exec_event("d1", "v1");
    let ev = harrier_events::k8saudit::K8sAuditEvent::new(text.as_bytes(), 1, &scratch);
    assert_eq!(rules.render(0, &ev).text, "exec by alice cmd=xmrig");
}
