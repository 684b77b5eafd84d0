//! One stream read on several cores in batches (`parallel::run_stream`) gives what one detector
//! gives: the same alerts in the same order, the same problems at the same offsets, the same
//! counts, over many batches, with a request's audit stages on both sides of a batch boundary.

mod common;

use harrier_alerts::{Alert, AlertSink, SinkError};
use harrier_detect::{parallel, Detector, Options, Problem};
use harrier_sources::RecordReader;

#[derive(Default)]
struct Lines(Vec<String>);

impl AlertSink for Lines {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        self.0.push(format!(
            "{} {:?} {}",
            alert.rule, alert.event_id, alert.output
        ));
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

const STOP_LOGGING: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","userName":"mallory"},"eventTime":"2026-11-20T10:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","requestParameters":{"name":"main"},"eventID":"ID","recipientAccountId":"111122223333"}"#;

/// 9,000 records (five batches of 2,048 records): a StopLogging every 97th record (each with
/// its own id), a bad line every 1,000th, and one exec request whose two stages sit on both
/// sides of the first batch boundary.
fn input() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..9000 {
        let line = match i {
            2047 => exec("req-1", "ResponseStarted"),
            2048 => exec("req-1", "ResponseComplete"),
            _ if i % 1000 == 999 => "{\"eventName\": oops}".to_string(),
            _ if i % 97 == 0 => STOP_LOGGING.replace("\"ID\"", &format!("\"id-{i}\"")),
            _ => STOP_LOGGING
                .replace("StopLogging", "DescribeTrails")
                .replace("\"ID\"", &format!("\"id-{i}\"")),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s.into_bytes()
}

fn show(p: Problem) -> String {
    format!("{} {:?} {}", p.input, p.offset, p.message)
}

#[test]
fn batches_on_three_threads_give_what_one_detector_gives() {
    let rules = common::pack();
    let data = input();
    let mut one = Lines::default();
    let mut one_problems = Vec::new();
    let mut det = Detector::new(&rules, "h", Options::default());
    det.process_stream(
        "big.jsonl",
        std::io::Cursor::new(data.clone()),
        &mut one,
        &mut |p| one_problems.push(show(p)),
    )
    .unwrap();

    let mut many = Lines::default();
    let mut many_problems = Vec::new();
    let pool = parallel::Pool {
        rules: &rules,
        hostname: "h",
        options: &Options::default(),
        threads: 3,
    };
    let stats = parallel::run_stream(
        pool,
        "big.jsonl",
        RecordReader::new(&data[..]),
        &mut many,
        &mut |p| many_problems.push(show(p)),
    )
    .unwrap();

    let stop = one
        .0
        .iter()
        .filter(|l| l.starts_with("CloudTrail Trail Stopped Or Deleted "))
        .count();
    assert_eq!(
        stop,
        9000 / 97 + 1,
        "every StopLogging alerts: {:?}",
        &one.0[..3]
    );
    assert_eq!(
        one.0.iter().filter(|l| l.contains("req-1")).count(),
        1,
        "the exec's two stages alert once"
    );
    assert_eq!(one.0, many.0, "the alerts differ");
    assert_eq!(one_problems.len(), 9);
    assert_eq!(one_problems, many_problems, "the problems differ");
    assert_eq!(stats.records, det.stats.records);
    assert_eq!(stats.alerts, det.stats.alerts);
    assert_eq!(stats.inputs, 1);
    assert_eq!(stats.k8s_repeated_stages, det.stats.k8s_repeated_stages);
}
