//! The behaviour every [`ImageResults`] backend must have, as checks each backend's tests run
//! against fresh databases of their own. Each check panics (with what it expected) when the
//! backend breaks the contract.

use super::ImageResults;
use crate::push::Push;
use crate::verdict::Summary;

/// Makes a fresh, empty backend; called once per check.
pub type Factory<'a> = dyn FnMut() -> Box<dyn ImageResults> + 'a;

/// Runs every check.
pub fn run_all(fresh: &mut Factory<'_>) {
    pushes_queue_once_and_leave_when_done_or_failed_too_often(fresh().as_ref());
    a_tag_moves_only_forward_in_time(fresh().as_ref());
    scans_and_sboms_are_kept_by_digest(fresh().as_ref());
}

/// A push of `web:v1.4.2` by alice with event id `id`, digest `sha256:<c x 64>`, at `t` ns.
pub fn push(id: &str, digest_char: char, t: i64) -> Push {
    Push {
        registry_id: "111122223333".into(),
        region: "eu-west-1".into(),
        repository: "web".into(),
        tag: Some("v1.4.2".into()),
        digest: format!("sha256:{}", digest_char.to_string().repeat(64)),
        pusher: Some("arn:aws:iam::111122223333:user/alice".into()),
        person: true,
        access_key: None,
        source_ip: None,
        time_ns: t,
        event_id: id.into(),
        via: "cloudtrail".into(),
    }
}

/// Pushes queue once (by event id, and across the two ways of telling of one push), and
/// leave the queue when done or when they failed too often.
pub fn pushes_queue_once_and_leave_when_done_or_failed_too_often(db: &dyn ImageResults) {
    assert!(db.enqueue(&push("a", 'a', 1)).unwrap());
    assert!(!db.enqueue(&push("a", 'a', 1)).unwrap(), "a replay");
    assert!(db.enqueue(&push("b", 'b', 2)).unwrap());
    let q = db.pending(10).unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].push.event_id, "a");
    db.finish(q[0].seq, None, 3).unwrap();
    db.finish(q[1].seq, Some("registry down"), 2).unwrap();
    assert_eq!(db.depth().unwrap(), 1, "one failure: tried again");
    db.finish(q[1].seq, Some("registry down"), 2).unwrap();
    assert_eq!(db.depth().unwrap(), 0, "two failures: given up");
    // The same push told by EventBridge (another id, no pusher) and then by CloudTrail:
    // one push, and the waiting one gains the pusher.
    let mut eb = push("eb-1", 'c', 100);
    eb.pusher = None;
    eb.via = "eventbridge".into();
    assert!(db.enqueue(&eb).unwrap());
    let mut ct = push("ct-1", 'c', 100 + 60_000_000_000);
    ct.via = "cloudtrail".into();
    assert!(!db.enqueue(&ct).unwrap(), "the same push");
    let waiting = db.pending(10).unwrap();
    let c = waiting
        .iter()
        .find(|q| q.push.digest.ends_with("cccc"))
        .unwrap();
    assert!(c.push.pusher.is_some(), "CloudTrail's pusher filled in");
    // Near miss: the same digest pushed again an hour later is another push.
    assert!(db
        .enqueue(&push("ct-2", 'c', 100 + 3_600_000_000_000))
        .unwrap());
    assert!(
        !db.enqueue(&push("b", 'b', 2)).unwrap(),
        "done is not queued again"
    );
}

/// A tag moves only forward in time; the same push asked again gets the same answer.
pub fn a_tag_moves_only_forward_in_time(db: &dyn ImageResults) {
    assert_eq!(db.point_tag("r", &push("1", 'a', 10)).unwrap(), None);
    assert_eq!(
        db.point_tag("r", &push("2", 'a', 11)).unwrap(),
        None,
        "same digest"
    );
    let moved = db.point_tag("r", &push("3", 'b', 20)).unwrap();
    assert_eq!(moved, Some(format!("sha256:{}", "a".repeat(64))));
    // The same push again (a retry after a crash): the same answer.
    assert_eq!(db.point_tag("r", &push("3", 'b', 20)).unwrap(), moved);
    // A late event from before the move does not move it back.
    assert_eq!(db.point_tag("r", &push("4", 'c', 15)).unwrap(), None);
    assert_eq!(
        db.tags_of(&format!("sha256:{}", "b".repeat(64))).unwrap(),
        ["web:v1.4.2"]
    );
    // A second tag on the same digest, and the tags of a page of digests at once.
    let mut stable = push("5", 'b', 30);
    stable.tag = Some("stable".into());
    db.point_tag("r", &stable).unwrap();
    let (a, b) = (
        format!("sha256:{}", "a".repeat(64)),
        format!("sha256:{}", "b".repeat(64)),
    );
    let each = db.tags_of_each(&[&a, &b, "sha256:none"]).unwrap();
    assert_eq!(
        each.into_iter().collect::<Vec<_>>(),
        [(
            b.clone(),
            vec!["web:stable".to_string(), "web:v1.4.2".to_string()]
        )],
        "the moved-from digest has no tag left; an unknown one is left out"
    );
}

/// A scan of `digest` at `t` ns with `packages` packages.
fn summary(digest: &str, t: i64, packages: usize) -> Summary {
    Summary {
        digest: digest.into(),
        reference: format!("web@{digest}"),
        scanned_at_ns: t,
        os: Some("debian 12".into()),
        packages,
        vulnerability_database: false,
        malware: Vec::new(),
        vulnerabilities: Vec::new(),
        practice: Vec::new(),
    }
}

/// Scans and SBOMs are kept by digest, a newer scan replacing the older; scans list newest
/// first.
pub fn scans_and_sboms_are_kept_by_digest(db: &dyn ImageResults) {
    let (a, b) = ("sha256:aa", "sha256:bb");
    assert_eq!(db.scan(a).unwrap(), None);
    db.put_scan(&summary(a, 10, 1)).unwrap();
    db.put_scan(&summary(b, 20, 2)).unwrap();
    db.put_scan(&summary(a, 30, 3)).unwrap();
    assert_eq!(db.scan(a).unwrap(), Some(summary(a, 30, 3)), "replaced");
    let newest: Vec<(String, usize)> = db
        .scans(10)
        .unwrap()
        .into_iter()
        .map(|s| (s.digest, s.packages))
        .collect();
    assert_eq!(newest, [(a.to_string(), 3), (b.to_string(), 2)]);
    assert_eq!(db.scans(1).unwrap().len(), 1);
    assert_eq!(db.sbom(a).unwrap(), None);
    db.put_sbom(a, "{\"bomFormat\":\"CycloneDX\"}").unwrap();
    db.put_sbom(a, "{\"bomFormat\":\"CycloneDX\",\"v\":2}")
        .unwrap();
    assert_eq!(
        db.sbom(a).unwrap().as_deref(),
        Some("{\"bomFormat\":\"CycloneDX\",\"v\":2}")
    );
    assert_eq!(db.sbom(b).unwrap(), None, "per digest");
}
