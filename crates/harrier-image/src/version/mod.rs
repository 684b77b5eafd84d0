//! Version ordering per ecosystem: Debian (dpkg), Alpine (apk), semantic versioning.

mod apk;
mod dpkg;
mod pep440;
mod rpm;
mod semver;

use std::cmp::Ordering;

pub use apk::compare as apk_compare;
pub use dpkg::compare as dpkg_compare;
pub use pep440::compare as pep440_compare;
pub use rpm::compare as rpm_compare;
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
    /// RPM (Red Hat, Fedora, Amazon Linux, Rocky, Alma, SUSE).
    Rpm,
    /// Python (PEP 440).
    Pep440,
}

impl Scheme {
    /// The scheme of an OSV ecosystem name (`Debian:12`, `Alpine:v3.18`, `npm`...).
    pub fn of_ecosystem(eco: &str) -> Option<Scheme> {
        let base = eco.split(':').next().unwrap_or(eco);
        Some(match base {
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Alpine" => Scheme::Apk,
            "Red Hat" | "Rocky Linux" | "AlmaLinux" | "openSUSE" | "SUSE" | "Mageia"
            | "Amazon Linux" => Scheme::Rpm,
            "PyPI" => Scheme::Pep440,
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
            Scheme::Rpm => rpm_compare(a, b),
            Scheme::Pep440 => pep440_compare(a, b),
        }
    }
}
