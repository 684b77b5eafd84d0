//! Framework mappings of each check: CIS AWS Foundations Benchmark v5.0.0, PCI DSS v4.0,
//! NIST SP 800-53 rev5 and rev4 (base controls), SOC 2 (trust services criteria).
//!
//! Requirement ids as the frameworks publish them, gathered from the public compliance mappings
//! of equivalent checks; a check with no entry for a framework does not count toward it.

/// Frameworks, by the ids `harrier posture report --framework` takes.
pub const FRAMEWORKS: [(&str, &str); 8] = [
    (
        "cis-5.0",
        "CIS Amazon Web Services Foundations Benchmark v5.0.0",
    ),
    ("pci-4.0", "PCI DSS v4.0"),
    ("nist-800-53-r5", "NIST SP 800-53 Revision 5"),
    ("nist-800-53-r4", "NIST SP 800-53 Revision 4"),
    ("soc2", "SOC 2 (AICPA Trust Services Criteria)"),
    // Host benchmarks (`harrier host bench`, crate harrier-host).
    (
        "cis-linux-2.0",
        "CIS Distribution Independent Linux Benchmark v2.0.0",
    ),
    ("cis-docker-1.6", "CIS Docker Benchmark v1.6.0"),
    ("cis-k8s-1.8", "CIS Kubernetes Benchmark v1.8.0"),
];

/// Requirement ids per framework: `(framework id, [requirement id, ...])`.
pub type Mapping = &'static [(&'static str, &'static [&'static str])];

/// The requirement ids a check maps to, per framework (its own [`crate::Check::frameworks`]);
/// empty for an unknown check.
pub fn of(check: &str) -> Mapping {
    crate::check(check).map_or(&[], |c| c.frameworks)
}

/// Whether `id` is written as `framework` writes its requirement ids: CIS `4.16` or
/// `2.1.1`; PCI DSS `10.4.1.1` or `A3.3.1`; NIST SP 800-53 `AC-6` or `AC-6(1)`; SOC 2
/// `cc_6_1` or `pi_1_5`.
pub fn is_requirement_id(framework: &str, id: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let dotted = |s: &str| s.split('.').all(digits);
    match framework {
        "cis-5.0" | "cis-linux-2.0" | "cis-docker-1.6" | "cis-k8s-1.8" => {
            id.contains('.') && dotted(id)
        }
        "pci-4.0" => dotted(id.strip_prefix('A').unwrap_or(id)),
        "nist-800-53-r5" | "nist-800-53-r4" => {
            let (base, enh) = match id.split_once('(') {
                Some((b, e)) => (b, Some(e)),
                None => (id, None),
            };
            let ok_base = base.split_once('-').is_some_and(|(fam, n)| {
                fam.len() == 2 && fam.bytes().all(|b| b.is_ascii_uppercase()) && digits(n)
            });
            ok_base && enh.is_none_or(|e| e.strip_suffix(')').is_some_and(digits))
        }
        // Criteria series: common (cc), availability (a), confidentiality (c), processing
        // integrity (pi), privacy (p).
        "soc2" => id.split_once('_').is_some_and(|(series, r)| {
            matches!(series, "cc" | "a" | "c" | "pi" | "p")
                && r.split('_').count() == 2
                && r.split('_').all(digits)
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapping_names_a_known_framework_and_well_formed_ids() {
        for c in crate::checks::ALL.iter() {
            for (fw, ids) in c.frameworks {
                assert!(
                    FRAMEWORKS.iter().any(|(f, _)| f == fw),
                    "{}: unknown framework {fw}",
                    c.id
                );
                assert!(!ids.is_empty(), "{}: {fw} with no requirement", c.id);
                for id in *ids {
                    assert!(is_requirement_id(fw, id), "{}: {fw} id {id:?}", c.id);
                }
            }
        }
        assert_eq!(
            of("s3_bucket_no_public_write"),
            crate::check("s3_bucket_no_public_write")
                .unwrap()
                .frameworks
        );
        assert!(of("no_such_check").is_empty());
        // Near misses of the id shapes.
        assert!(!is_requirement_id("cis-5.0", "4"));
        assert!(!is_requirement_id("nist-800-53-r5", "AC6"));
        assert!(!is_requirement_id("soc2", "cc6.1"));
        assert!(!is_requirement_id("pci-4.1", "10.2.1"));
    }
}
