//! The HTML report: self-contained, escaped, with the trend chart.

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
