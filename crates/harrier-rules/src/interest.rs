//! What an event must look like for a rule to possibly match it, read from compiled
//! conditions: which event types it can match, which paths, and whether it needs the call to
//! have succeeded.
//!
//! A producer that can drop events before building them uses this to drop only what no loaded
//! rule could match (the runtime sensor filters in the kernel with it). Every answer errs on
//! the side of keeping events: a condition the analysis does not understand (a negation, a
//! substring or a regex on a path, a transformer) counts as matching any path.

use std::collections::BTreeSet;

use harrier_events::SourceInfo;

use crate::compile::{test_values, TypeField};
use crate::matcher::{CompiledCheck, CompiledOperand, Node, Test};
use crate::ruleset::{Rule, RuleSet};

/// Which fields of a source hold a path, and in what form.
#[derive(Debug, Clone, Copy)]
pub struct PathFields<'a> {
    /// Fields holding the whole path (`fd.name`); `basename(...)` of them is a file name.
    pub full: &'a [&'a str],
    /// Fields holding the directory of the path (`fd.directory`).
    pub dir: &'a [&'a str],
    /// Fields holding the last component of the path (`fd.filename`).
    pub base: &'a [&'a str],
}

/// The paths a rule could match: those starting with one of `prefixes`, and those whose last
/// component is one of `names`. Both empty: no path at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paths {
    /// Path prefixes (an exact path is its own prefix).
    pub prefixes: BTreeSet<String>,
    /// Last path components.
    pub names: BTreeSet<String>,
}

impl Paths {
    fn prefixes(p: impl IntoIterator<Item = String>) -> Paths {
        Paths {
            prefixes: p.into_iter().collect(),
            names: BTreeSet::new(),
        }
    }

    fn names(n: impl IntoIterator<Item = String>) -> Paths {
        Paths {
            prefixes: BTreeSet::new(),
            names: n.into_iter().collect(),
        }
    }

    fn len(&self) -> usize {
        self.prefixes.len() + self.names.len()
    }

    /// Adds what `o` admits.
    pub fn union(&mut self, o: Paths) {
        self.prefixes.extend(o.prefixes);
        self.names.extend(o.names);
    }

    /// Paths both admit, or a superset of them: exact for prefixes alone, otherwise the
    /// smaller of the two (still a superset of the intersection).
    fn intersect(self, o: Paths) -> Paths {
        if self.names.is_empty() && o.names.is_empty() {
            let mut out = BTreeSet::new();
            for p in &self.prefixes {
                for q in &o.prefixes {
                    if p.starts_with(q.as_str()) {
                        out.insert(p.clone());
                    } else if q.starts_with(p.as_str()) {
                        out.insert(q.clone());
                    }
                }
            }
            return Paths::prefixes(out);
        }
        if o.len() < self.len() {
            o
        } else {
            self
        }
    }
}

/// What one rule needs of an event of a given type.
#[derive(Debug, Clone)]
pub struct Need<'r> {
    /// The rule.
    pub rule: &'r Rule,
    /// The paths it could match; `None` for any path.
    pub paths: Option<Paths>,
    /// Whether it can only match a call that succeeded.
    pub needs_success: bool,
}

/// Facts about a condition that can hold (`None` from [`facts`]: it cannot, for this type).
#[derive(Debug, Clone)]
struct Facts {
    paths: Option<Paths>,
    success: bool,
}

const ANY: Facts = Facts {
    paths: None,
    success: false,
};

struct Cx<'a> {
    ty_field: Option<TypeField<'static>>,
    ty: &'a str,
    full: Vec<u16>,
    dir: Vec<u16>,
    base: Vec<u16>,
    success: &'a dyn Fn(&CompiledCheck) -> bool,
}

impl RuleSet {
    /// For each active rule of `source` that could match an event whose type (`evt.type`, the
    /// source's type field) is `ty`: the paths it could match, read from the checks on `fields`,
    /// and whether it needs the call to have succeeded (some check for which `success` says so
    /// must hold). In load order.
    pub fn needs<'r>(
        &'r self,
        source: &SourceInfo,
        ty: &str,
        fields: &PathFields<'_>,
        success: &dyn Fn(&CompiledCheck) -> bool,
    ) -> Vec<Need<'r>> {
        let ids = |names: &[&str]| -> Vec<u16> {
            names
                .iter()
                .filter_map(|n| source.field(n).map(|(id, _)| id))
                .collect()
        };
        let cx = Cx {
            ty_field: TypeField::of(source),
            ty: &ty.to_ascii_lowercase(),
            full: ids(fields.full),
            dir: ids(fields.dir),
            base: ids(fields.base),
            success,
        };
        self.active(source.name)
            .filter_map(|(rule, node)| {
                let f = facts(node, &cx)?;
                Some(Need {
                    rule,
                    paths: f.paths,
                    needs_success: f.success,
                })
            })
            .collect()
    }
}

fn facts(n: &Node, cx: &Cx<'_>) -> Option<Facts> {
    match n {
        Node::Const(true) => Some(ANY),
        Node::Const(false) => None,
        // `not X` can hold whatever X says: nothing is learnt.
        Node::Not(_) => Some(ANY),
        Node::Check(c) => check_facts(c, cx),
        Node::And(items) => {
            let mut acc = ANY;
            for i in items.iter() {
                let f = facts(i, cx)?;
                acc.success |= f.success;
                acc.paths = match (acc.paths, f.paths) {
                    (None, p) | (p, None) => p,
                    (Some(a), Some(b)) => Some(a.intersect(b)),
                };
            }
            Some(acc)
        }
        Node::Or(items) => {
            let mut acc: Option<Facts> = None;
            for f in items.iter().filter_map(|i| facts(i, cx)) {
                acc = Some(match acc {
                    None => f,
                    Some(a) => Facts {
                        success: a.success && f.success,
                        paths: match (a.paths, f.paths) {
                            (Some(mut a), Some(b)) => {
                                a.union(b);
                                Some(a)
                            }
                            _ => None,
                        },
                    },
                });
            }
            acc
        }
    }
}

fn check_facts(c: &CompiledCheck, cx: &Cx<'_>) -> Option<Facts> {
    if let Some(tf) = cx.ty_field {
        if tf.is(&c.operand) {
            return match test_values(&c.test) {
                Some(keys) if !keys.admits(cx.ty) => None,
                _ => Some(ANY),
            };
        }
    }
    if (cx.success)(c) {
        return Some(Facts {
            paths: None,
            success: true,
        });
    }
    Some(Facts {
        paths: path_values(&c.operand, &c.test, cx),
        success: false,
    })
}

/// The paths a test on `o` admits, if `o` is a path field the test pins.
fn path_values(o: &CompiledOperand, t: &Test, cx: &Cx<'_>) -> Option<Paths> {
    let id = o.field.id;
    let basename = match *o.transformers {
        [] => cx.base.contains(&id),
        [crate::ast::Transformer::Basename] => cx.full.contains(&id),
        _ => return None,
    };
    if basename {
        return name_values(t);
    }
    if cx.full.contains(&id) {
        return full_values(t);
    }
    if cx.dir.contains(&id) {
        // fd.directory = /etc: the path starts with /etc/ (the root is its own directory).
        let as_prefix = |d: &str| {
            if d.ends_with('/') {
                d.to_string()
            } else {
                format!("{d}/")
            }
        };
        return match t {
            Test::Str(crate::matcher::Cmp::Eq, d) => Some(Paths::prefixes([as_prefix(d)])),
            Test::Set(s) => Some(Paths::prefixes(s.iter().map(|d| as_prefix(d)))),
            Test::StartsWith(p) => Some(Paths::prefixes([p.to_string()])),
            Test::Pmatch(ps) => Some(Paths::prefixes(ps.iter().map(|p| p.to_string()))),
            Test::AnyElement(inner) => path_values(o, inner, cx),
            Test::Any(ts) => union_of(ts.iter().map(|t| path_values(o, t, cx))),
            _ => None,
        };
    }
    None
}

fn full_values(t: &Test) -> Option<Paths> {
    match t {
        Test::Str(crate::matcher::Cmp::Eq, v) => Some(Paths::prefixes([v.to_string()])),
        Test::Set(s) => Some(Paths::prefixes(s.iter().map(|v| v.to_string()))),
        Test::StartsWith(p) => Some(Paths::prefixes([p.to_string()])),
        Test::Pmatch(ps) => Some(Paths::prefixes(ps.iter().map(|p| p.to_string()))),
        Test::Glob(g) => g.literal_prefix().map(|p| Paths::prefixes([p])),
        // endswith /.bash_history: the last component is .bash_history.
        Test::EndsWith(s) => match s.strip_prefix('/') {
            Some(name) if !name.is_empty() && !name.contains('/') => {
                Some(Paths::names([name.to_string()]))
            }
            _ => None,
        },
        Test::AnyElement(inner) => full_values(inner),
        Test::Any(ts) => union_of(ts.iter().map(full_values)),
        _ => None,
    }
}

fn name_values(t: &Test) -> Option<Paths> {
    match t {
        Test::Str(crate::matcher::Cmp::Eq, v) => Some(Paths::names([v.to_string()])),
        Test::Set(s) => Some(Paths::names(s.iter().map(|v| v.to_string()))),
        Test::AnyElement(inner) => name_values(inner),
        Test::Any(ts) => union_of(ts.iter().map(name_values)),
        _ => None,
    }
}

fn union_of(items: impl Iterator<Item = Option<Paths>>) -> Option<Paths> {
    let mut acc = Paths::default();
    for p in items {
        acc.union(p?);
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Cmp;

    const FIELDS: PathFields<'static> = PathFields {
        full: &[
            "fd.name",
            "fs.path.name",
            "fs.path.source",
            "fs.path.target",
        ],
        dir: &["fd.directory"],
        base: &["fd.filename"],
    };

    fn rules(conds: &[&str]) -> RuleSet {
        let mut text = String::new();
        for (i, c) in conds.iter().enumerate() {
            text.push_str(&format!(
                "- rule: r{i}\n  desc: d\n  condition: {c}\n  output: o\n  priority: warning\n  source: syscall\n"
            ));
        }
        let (set, diags) = RuleSet::load([("t.yaml", text.as_str())]);
        assert!(diags.is_empty(), "{diags:?}");
        set
    }

    fn success(c: &CompiledCheck) -> bool {
        c.operand.text == "evt.res" && matches!(&c.test, Test::Str(Cmp::Eq, v) if &**v == "SUCCESS")
    }

    /// (rule name, paths, needs success) for events of type `ty`.
    fn needs(set: &RuleSet, ty: &str) -> Vec<(String, Option<Paths>, bool)> {
        set.needs(&harrier_events::syscall::SOURCE, ty, &FIELDS, &success)
            .into_iter()
            .map(|n| (n.rule.name.clone(), n.paths, n.needs_success))
            .collect()
    }

    fn p(prefixes: &[&str], names: &[&str]) -> Option<Paths> {
        Some(Paths {
            prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
            names: names.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn a_rule_pinned_to_other_types_is_left_out() {
        let set = rules(&[
            "evt.type = connect and fd.sport = 3333",
            "evt.type in (open, openat) and fd.name = /etc/ld.so.preload",
        ]);
        let n = needs(&set, "openat");
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].0, "r1");
        assert_eq!(n[0].1, p(&["/etc/ld.so.preload"], &[]));
        // Near miss: the same rules for a connect event: only r0, which pins no path.
        let n = needs(&set, "connect");
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].0.as_str(), &n[0].1), ("r0", &None));
    }

    #[test]
    fn branches_of_other_types_do_not_widen_the_paths() {
        // The built-in history rule's shape: each branch pins its own type.
        let set = rules(&[
            "evt.res = SUCCESS and ((evt.type in (unlinkat) and fd.filename in (.bash_history)) \
             or (evt.type = openat and fd.filename in (.zsh_history, .bash_history)) \
             or (evt.type = renameat2 and basename(fs.path.source) = .ash_history))",
        ]);
        assert_eq!(
            needs(&set, "openat"),
            vec![(
                "r0".into(),
                p(&[], &[".bash_history", ".zsh_history"]),
                true
            )]
        );
        assert_eq!(
            needs(&set, "renameat2"),
            vec![("r0".into(), p(&[], &[".ash_history"]), true)]
        );
        assert!(needs(&set, "connect").is_empty());
    }

    #[test]
    fn directories_globs_and_suffixes_become_prefixes_and_names() {
        let set = rules(&[
            "evt.type = openat and fd.directory in (/etc, /)",
            "evt.type = openat and fd.name glob '/root/.ssh/*'",
            "evt.type = openat and fd.name endswith /authorized_keys",
            "evt.type = openat and fd.name startswith /etc and fd.name startswith /etc/ssh/",
            "evt.type = openat and fd.name pmatch (/usr/bin, /bin)",
        ]);
        let n = needs(&set, "openat");
        assert_eq!(n[0].1, p(&["/", "/etc/"], &[]));
        assert_eq!(n[1].1, p(&["/root/.ssh/"], &[]));
        assert_eq!(n[2].1, p(&[], &["authorized_keys"]));
        assert_eq!(n[3].1, p(&["/etc/ssh/"], &[]));
        assert_eq!(n[4].1, p(&["/bin", "/usr/bin"], &[]));
        assert!(n.iter().all(|(_, _, s)| !s));
    }

    #[test]
    fn what_the_analysis_cannot_read_counts_as_any_path() {
        let set = rules(&[
            "evt.type = openat and fd.name contains /.ssh/",
            "evt.type = openat and not fd.name startswith /tmp",
            "evt.type = openat and tolower(fd.name) = /etc/shadow",
            "evt.type = openat and (fd.name startswith /etc or proc.name = vi)",
            "proc.name = nc",
            "evt.type = openat and fd.name iglob '/ETC/*'",
        ]);
        let n = needs(&set, "openat");
        assert_eq!(n.len(), 6);
        for (name, paths, _) in &n {
            assert_eq!(paths, &None, "{name}");
        }
    }

    #[test]
    fn success_holds_only_when_every_branch_needs_it() {
        let set = rules(&[
            "evt.type = openat and evt.res = SUCCESS and fd.name = /a",
            "evt.type = openat and (evt.res = SUCCESS or fd.name = /b)",
            "evt.type = openat and fd.name = /c",
        ]);
        let n = needs(&set, "openat");
        assert_eq!(
            n.iter().map(|x| x.2).collect::<Vec<_>>(),
            [true, false, false]
        );
    }
}
