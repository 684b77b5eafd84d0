//! The scan history: scores per scan, trend, and what newly failed or got fixed.

use harrier_posture::history::PostureHistory as _;
use std::path::PathBuf;

use harrier_posture::history::History;
use harrier_posture::{evaluate, Snapshot};

const NOW: i64 = 1_763_640_000;

fn fixture(name: &str) -> Snapshot {
    Snapshot::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

#[test]
fn history_records_scores_and_the_changes_between_scans() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("posture.db");
    let bad = evaluate(&fixture("story-misconfigured.json"), NOW);
    let good = evaluate(&fixture("story-fixed.json"), NOW);

    let (first, second) = {
        let mut h = History::open(&db).unwrap();
        let a = h
            .record("111122223333", "2025-11-19T00:00:00Z", &bad)
            .unwrap();
        let b = h
            .record("111122223333", "2025-11-20T00:00:00Z", &good)
            .unwrap();
        h.record("999999999999", "2025-11-20T00:00:00Z", &bad)
            .unwrap();
        (a, b)
    };
    // Reopened: the scans are durable.
    let h = History::open(&db).unwrap();
    let scans = h.scans(Some("111122223333"), 10).unwrap();
    assert_eq!(
        scans.iter().map(|s| s.id).collect::<Vec<_>>(),
        [first, second]
    );
    assert!(scans[1].score.unwrap() > scans[0].score.unwrap());
    assert_eq!(h.scans(None, 10).unwrap().len(), 3);
    assert!(h
        .scope_score(second, "framework:cis-5.0")
        .unwrap()
        .is_some());
    assert!(h.scope_score(second, "service:iam").unwrap().is_some());
    assert_eq!(h.scope_score(second, "service:nope").unwrap(), None);

    let c = h.changes(first, second).unwrap();
    assert!(c.newly_failed.is_empty(), "{:?}", c.newly_failed);
    assert!(c.fixed.iter().any(
        |(check, _, resource)| check == "ec2_sg_no_world_admin_ports"
            && resource == "sg-0a1b2c3d4e5f60718"
    ));
    // Backwards, everything fixed is newly failing again.
    let back = h.changes(second, first).unwrap();
    assert_eq!(back.newly_failed, c.fixed);
}

#[test]
fn a_check_that_cannot_tell_now_does_not_count_as_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&dir.path().join("p.db")).unwrap();
    let bad = evaluate(&fixture("story-misconfigured.json"), NOW);
    let mut denied = fixture("story-misconfigured.json");
    denied.regions.get_mut("eu-west-1").unwrap().insert(
        "ec2-describe-security-groups".into(),
        harrier_posture::Entry::AccessDenied {
            message: "AccessDenied".into(),
        },
    );
    let later = evaluate(&denied, NOW);
    let a = h.record("a", "t1", &bad).unwrap();
    let b = h.record("a", "t2", &later).unwrap();
    let c = h.changes(a, b).unwrap();
    assert!(
        !c.fixed
            .iter()
            .any(|(check, _, _)| check == "ec2_sg_no_world_admin_ports"),
        "{:?}",
        c.fixed
    );
}
