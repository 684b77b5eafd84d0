//! A Kubernetes request logged at several audit stages alerts once; a policy that logs only
//! one stage still alerts.

mod common;

use harrier_alerts::{Alert, AlertSink, SinkError};
use harrier_detect::{Detector, Options};

#[derive(Default)]
struct Names(Vec<String>);

impl AlertSink for Names {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        self.0.push(alert.rule.to_string());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn exec(id: &str, stage: &str) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"{id}","stage":"{stage}","requestURI":"/api/v1/namespaces/web/pods/nginx/exec?command=sh&container=nginx","verb":"create","user":{{"username":"alice@example.com"}},"sourceIPs":["198.51.100.23"],"objectRef":{{"resource":"pods","namespace":"web","name":"nginx","subresource":"exec"}},"responseStatus":{{"code":101}},"annotations":{{"authorization.k8s.io/decision":"allow"}},"stageTimestamp":"2026-11-20T11:00:00Z"}}"#
    )
}

const EXEC: &str = "K8s Exec Or Attach Into Pod";

#[test]
fn both_stages_of_one_exec_alert_once_and_two_execs_twice() {
    let rules = common::pack();
    let mut d = Detector::new(&rules, "h", Options::default());
    let mut sink = Names::default();
    for (id, stage) in [
        ("a1", "ResponseStarted"),
        ("a1", "ResponseComplete"),
        ("a2", "ResponseComplete"),
    ] {
        d.process_record(
            exec(id, stage).as_bytes(),
            0,
            "audit.log",
            &mut sink,
            &mut |p| panic!("{p}"),
        )
        .unwrap();
    }
    let execs = sink.0.iter().filter(|r| *r == EXEC).count();
    assert_eq!(execs, 2, "{:?}", sink.0);
    assert_eq!(d.stats.k8s_repeated_stages, 1);
    assert!(d
        .stats
        .summary(std::time::Duration::from_secs(1))
        .contains("later audit stage"));
}
