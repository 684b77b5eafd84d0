//! The HTML report: self-contained, escaped, with the trend chart.

use harrier_posture::history::PostureHistory as _;
use harrier_posture::{html, Finding, Status};

#[test]
fn html_report_escapes_account_data_and_draws_the_trend() {
    let hostile = Finding {
        check: "s3_bucket_no_public_write",
        resource: "arn:aws:s3:::<script>alert(1)</script>".into(),
        region: "global".into(),
        status: Status::Fail,
        reason: "grants \"WRITE\" to AllUsers & co".into(),
    };
    let ok = Finding {
        check: "ecr_tag_immutability",
        resource: "arn:aws:ecr:eu-west-1:1:repository/web".into(),
        region: "eu-west-1".into(),
        status: Status::Pass,
        reason: "IMMUTABLE".into(),
    };
    let trend = vec![
        ("2025-11-19T00:00:00Z".to_string(), 40.0),
        ("2025-11-20T00:00:00Z".to_string(), 75.5),
    ];
    let page = html::report("1111<b>", "2025-11-20T00:00:00Z", &[hostile, ok], &trend);
    assert!(!page.contains("<script"), "unescaped script");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("1111&lt;b&gt;"));
    assert!(page.contains("grants &quot;WRITE&quot; to AllUsers &amp; co"));
    // The fix is shown for the failure, and the passing finding is not listed as work.
    let fix = harrier_posture::check("s3_bucket_no_public_write")
        .unwrap()
        .cli[0];
    assert!(page.contains(&html::escape(fix)), "{fix}");
    assert!(!page.contains("repository/web"));
    // Two points joined by a line.
    assert!(page.contains("<polyline"));
    assert_eq!(page.matches("<circle").count(), 2);
    // No external resources.
    assert!(!page.contains("src=") && !page.contains("href="));
}

fn sg_fail(account: &str) -> Finding {
    Finding {
        check: "ec2_sg_no_world_admin_ports",
        resource: format!("arn:aws:ec2:eu-west-1:{account}:security-group/sg-1"),
        region: "eu-west-1".into(),
        status: Status::Fail,
        reason: "22 open to 0.0.0.0/0".into(),
    }
}

#[test]
fn the_changes_since_the_last_full_scan_name_who_made_them() {
    let d = tempfile::tempdir().unwrap();
    let mut h = harrier_posture::history::History::open(&d.path().join("posture.db")).unwrap();
    h.record("111122223333", "2026-12-01T00:00:00Z", &[])
        .unwrap();
    let change = harrier_posture::history::ChangeRecord {
        check: "ec2_sg_no_world_admin_ports".into(),
        region: "eu-west-1".into(),
        resource: "sg-1".into(),
        became: "fail".into(),
        actor: Some("arn:aws:iam::111122223333:user/<alice>".into()),
        event: Some("AuthorizeSecurityGroupIngress".into()),
        at: "2026-12-01T01:00:00Z".into(),
    };
    h.record_recheck(
        "111122223333",
        "2026-12-01T01:00:01Z",
        &[sg_fail("111122223333")],
        std::slice::from_ref(&change),
    )
    .unwrap();
    assert_eq!(
        h.changes_since_full_scan("111122223333").unwrap(),
        std::slice::from_ref(&change)
    );
    assert!(h
        .changes_since_full_scan("999999999999")
        .unwrap()
        .is_empty());
    let page = html::report_with_changes(
        "111122223333",
        "now",
        &[sg_fail("111122223333")],
        &[],
        &[change],
    );
    assert!(page.contains("Changes since the last full scan"));
    assert!(page.contains("user/&lt;alice&gt;") && !page.contains("<alice>"));
    // A new full scan starts over.
    h.record("111122223333", "2026-12-02T00:00:00Z", &[])
        .unwrap();
    assert!(h
        .changes_since_full_scan("111122223333")
        .unwrap()
        .is_empty());
}

#[test]
fn the_organisation_view_rolls_up_and_shows_accounts_not_assessed() {
    let rows = vec![
        html::OrgRow {
            account: "111111111111".into(),
            name: "prod".into(),
            not_assessed: None,
            findings: vec![sg_fail("111111111111")],
        },
        html::OrgRow {
            account: "222222222222".into(),
            name: "<sandbox>".into(),
            not_assessed: Some("cannot assume the role: AccessDenied".into()),
            findings: vec![],
        },
    ];
    let page = html::org_report("2026-12-03T00:00:00Z", &rows);
    assert!(page.contains("1 of 2 accounts assessed"));
    assert!(page.contains("NOT ASSESSED: cannot assume the role: AccessDenied"));
    assert!(page.contains("&lt;sandbox&gt;") && !page.contains("<sandbox>"));
    assert!(page.contains("ec2_sg_no_world_admin_ports"));
    assert!(!page.contains("<script") && !page.contains("src="));
}
