//! Harrier's posture checks (CSPM).
//!
//! `collect` reads an account's configuration into a [`Snapshot`] (one document per AWS API
//! call, with whether it succeeded); [`evaluate`] is pure: snapshot + clock -> [`Finding`]s,
//! one per check and resource, each **pass**, **fail** or **unknown** (data denied or missing:
//! never guessed). Each check is a self-describing [`Check`] (`checks/`); [`score`] weighs
//! findings by severity, overall, per service and per framework ([`frameworks`]).
#![deny(missing_docs)]

pub mod check;
pub mod checks;
#[cfg(feature = "collect")]
pub mod collect;
pub mod export;
pub mod frameworks;
pub mod history;
pub mod html;
pub mod report;
pub mod snapshot;

pub use check::{Check, Ctx, Finding, Severity, Status};
pub use snapshot::{Entry, Snapshot};

/// Runs every check over a snapshot, as of `now` (seconds since the epoch).
pub fn evaluate(snap: &Snapshot, now: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    let cache = checks::Cache::default();
    for c in checks::ALL.iter() {
        let cx = Ctx {
            snap,
            now,
            cache: &cache,
            check: c.id,
        };
        (c.eval)(&cx, &mut out);
    }
    out
}

/// Checks evaluated elsewhere (host benchmarks), known to reports, scores and history.
static REGISTERED: std::sync::RwLock<Vec<&'static Check>> = std::sync::RwLock::new(Vec::new());

/// Adds checks that are evaluated outside a snapshot (`harrier-host`'s benchmarks of a
/// machine) to the catalogue [`check`] reads, so their findings are reported, scored, mapped
/// to frameworks and recorded like the account's. An id already known is left as it was.
pub fn register(more: impl IntoIterator<Item = &'static Check>) {
    let mut all = REGISTERED.write().unwrap_or_else(|p| p.into_inner());
    for c in more {
        // Not through `check`: it takes this lock to read.
        if !checks::ALL.iter().any(|x| x.id == c.id) && !all.iter().any(|x| x.id == c.id) {
            all.push(c);
        }
    }
}

/// The check with this id (the account's, or one [`register`]ed).
pub fn check(id: &str) -> Option<&'static Check> {
    checks::ALL
        .iter()
        .copied()
        .find(|c| c.id == id)
        .or_else(|| {
            REGISTERED
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .copied()
                .find(|c| c.id == id)
        })
}

/// A 0-100 score: the severity-weighted share of passing findings among the findings that
/// passed or failed (unknown ones do not count either way).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Score {
    /// 0-100, `None` when nothing was judged.
    pub value: Option<f64>,
    /// Passing findings.
    pub pass: usize,
    /// Failing findings.
    pub fail: usize,
    /// Unknown findings.
    pub unknown: usize,
}

/// Scores the findings for which `keep` holds.
pub fn score(findings: &[Finding], keep: impl Fn(&Finding) -> bool) -> Score {
    let mut s = Score::default();
    let (mut good, mut total) = (0u64, 0u64);
    for f in findings.iter().filter(|f| keep(f)) {
        let w = check(f.check).map_or(1, |c| c.severity.weight()) as u64;
        match f.status {
            Status::Pass => {
                s.pass += 1;
                good += w;
                total += w;
            }
            Status::Fail => {
                s.fail += 1;
                total += w;
            }
            Status::Unknown => s.unknown += 1,
        }
    }
    s.value = (total > 0).then(|| 100.0 * good as f64 / total as f64);
    s
}

/// Scores per framework: only findings of checks mapped to it.
pub fn framework_score(findings: &[Finding], framework: &str) -> Score {
    score(findings, |f| {
        check(f.check).is_some_and(|c| c.frameworks().iter().any(|(fw, _)| *fw == framework))
    })
}
