//! Version ordering per ecosystem: Debian (dpkg), Alpine (apk), semantic versioning.

mod apk;
mod dpkg;
mod semver;

use std::cmp::Ordering;

pub use apk::compare as apk_compare;
pub use dpkg::compare as dpkg_compare;
pub use semver::compare as semver_compare;

/// How an ecosystem orders versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Debian and Ubuntu (dpkg).
    Dpkg,
    /// Alpine (apk).
    Apk,
    /// Semantic versioning (npm, crates.io, Go).
    Semver,
}

impl Scheme {
    /// The scheme of an OSV ecosystem name (`Debian:12`, `Alpine:v3.18`, `npm`...).
    pub fn of_ecosystem(eco: &str) -> Option<Scheme> {
        let base = eco.split(':').next().unwrap_or(eco);
        Some(match base {
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Alpine" => Scheme::Apk,
            "npm" | "crates.io" | "Go" | "Packagist" | "Hex" | "Pub" | "NuGet" => Scheme::Semver,
            _ => return None,
        })
    }

    /// Compares two versions.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Scheme::Dpkg => dpkg_compare(a, b),
            Scheme::Apk => apk_compare(a, b),
            Scheme::Semver => semver_compare(a, b),
        }
    }
}
