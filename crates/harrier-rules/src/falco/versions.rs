//! `required_engine_version` and `required_plugin_versions` items.

use super::loader::{Ctx, ENGINE_VERSION, PLUGINS};
use crate::yaml::Node;

/// Parses `0.31.0`, `0.31` or an old-style integer engine version (`10` = 0.10.0).
pub(super) fn parse_version(s: &str) -> Option<(u64, u64, u64)> {
    let parts: Vec<&str> = s.trim().split('.').collect();
    let n = |i: usize| -> Option<u64> { parts.get(i).map_or(Some(0), |p| p.parse().ok()) };
    match parts.len() {
        // A bare integer is an old-style engine version: 10 means 0.10.0.
        1 => Some((0, n(0)?, 0)),
        2 | 3 => Some((n(0)?, n(1)?, n(2)?)),
        _ => None,
    }
}

pub(super) fn check_engine_version(cx: &mut Ctx<'_>, item: &Node) {
    let Some(v) = item.get("required_engine_version") else {
        return;
    };
    let Some(ver) = v.as_str().and_then(parse_version) else {
        cx.error(
            v.pos(),
            None,
            "required_engine_version must be a version such as 0.31.0 or 10",
        );
        return;
    };
    if ver > ENGINE_VERSION {
        let (a, b, c) = ENGINE_VERSION;
        cx.error(
            v.pos(),
            None,
            format!(
                "rules require engine version {}.{}.{}, Harrier implements {a}.{b}.{c}",
                ver.0, ver.1, ver.2
            ),
        );
    }
}

pub(super) fn check_plugins(cx: &mut Ctx<'_>, item: &Node) {
    let Some(Node::Seq(reqs, _)) = item.get("required_plugin_versions") else {
        cx.error(item.pos(), None, "required_plugin_versions must be a list");
        return;
    };
    for r in reqs {
        let name = r.get("name").and_then(Node::as_str).unwrap_or("");
        let ver = r
            .get("version")
            .and_then(Node::as_str)
            .and_then(parse_version);
        let mut candidates = vec![(name.to_string(), ver)];
        if let Some(Node::Seq(alts, _)) = r.get("alternatives") {
            for a in alts {
                let n = a
                    .get("name")
                    .and_then(Node::as_str)
                    .unwrap_or("")
                    .to_string();
                candidates.push((
                    n,
                    a.get("version")
                        .and_then(Node::as_str)
                        .and_then(parse_version),
                ));
            }
        }
        let satisfied = candidates.iter().any(|(n, v)| {
            PLUGINS
                .iter()
                .any(|(pn, pv)| pn == n && v.is_none_or(|v| v <= *pv))
        });
        if !satisfied {
            cx.warn(
                r.pos(),
                None,
                format!("plugin '{name}' is not built into Harrier (or is newer than it supports): rules that need it will not run"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("10"), Some((0, 10, 0)));
        assert_eq!(parse_version("0.31.0"), Some((0, 31, 0)));
        assert_eq!(parse_version("x"), None);
    }
}
