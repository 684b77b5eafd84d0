//! Harrier's own rule pack (the repository's `rules/` folder), embedded at build time.
//!
//! [`RULES`] holds every rule file and [`TESTS`] every test-event file beside them, each as
//! (path under the repository, text), sorted by path, so the pack loads the same way on every
//! machine and needs no files at run time.

mod generated {
    include!(concat!(env!("OUT_DIR"), "/default_rules.rs"));
}

/// The built-in rule files: (path under the repository, YAML text).
pub static RULES: &[(&str, &str)] = generated::DEFAULT_RULES;

/// The built-in pack's test files: (path under the repository, JSON text).
pub static TESTS: &[(&str, &str)] = generated::DEFAULT_RULE_TESTS;

#[cfg(test)]
mod tests {
    #[test]
    fn the_pack_and_its_tests_are_embedded() {
        assert!(super::RULES
            .iter()
            .any(|(p, t)| p.starts_with("rules/") && t.contains("- rule:")));
        assert!(super::TESTS.iter().all(|(p, _)| p.ends_with(".json")));
        assert!(!super::TESTS.is_empty());
    }
}
