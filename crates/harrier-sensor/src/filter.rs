//! The kernel filter: what the BPF programs drop before a record is built, derived from the
//! loaded rules, so that the sensor pays only for events some rule could match.
//!
//! Three cuts, each read from the rules' compiled conditions ([`harrier_rules::interest`]):
//!
//! - **Per event kind**: unlink, truncate, connect, symlink, ptrace and socket records are sent
//!   only when some rule can match that call. Execs and exits always are (the process table),
//!   and renames too (files written inside containers).
//! - **Per path**: an open for write is sent only when its path starts with a prefix some rule
//!   names (`fd.name startswith /etc`, `fd.directory in (...)`, an exact path), or its last
//!   component is a name some rule names (`fd.filename in (.bash_history)`). The kernel holds
//!   both as FNV-1a hashes and checks them in one pass over the path (a collision sends an
//!   open no rule reads; it never drops one). Opens the kernel
//!   cannot judge are always sent: relative paths or paths relative to a directory descriptor,
//!   paths with `//`, `/./` or `/../` (user space normalises them), and every open outside the
//!   host's mount namespace (containers: their written files feed "Drop And Execute"). One rule
//!   that reads opens without pinning a path (`fd.name contains ...`) turns the cut off.
//! - **Per result**: failed file calls are sent only when some rule can match a failed one
//!   (none that requires `evt.res = SUCCESS` or `fd.num >= 0` can).
//!
//! Records the kernel cannot queue are still counted and reported, whatever the filter.

use harrier_rules::interest::{PathFields, Paths};
use harrier_rules::matcher::{Cmp, CompiledCheck, Test};
use harrier_rules::RuleSet;

/// Record kinds (EV_* in the C source).
pub(crate) const EV_EXEC: u32 = 1;
pub(crate) const EV_EXIT: u32 = 2;
pub(crate) const EV_OPEN: u32 = 3;
pub(crate) const EV_UNLINK: u32 = 4;
pub(crate) const EV_RENAME: u32 = 5;
pub(crate) const EV_TRUNCATE: u32 = 6;
pub(crate) const EV_CONNECT: u32 = 7;
pub(crate) const EV_SYMLINK: u32 = 8;
pub(crate) const EV_PTRACE: u32 = 9;
pub(crate) const EV_SOCKET: u32 = 10;

/// The record kinds whose sending the rules decide, with the event types they render as.
const CHOSEN: &[(u32, &[&str])] = &[
    (EV_UNLINK, &["unlinkat"]),
    (EV_TRUNCATE, &["truncate", "ftruncate"]),
    (EV_CONNECT, &["connect"]),
    (EV_SYMLINK, &["symlinkat"]),
    (EV_PTRACE, &["ptrace"]),
    (EV_SOCKET, &["socket"]),
];

/// Event types of file calls (whose failures the result cut drops).
const FILE_TYPES: &[&str] = &[
    "openat",
    "unlinkat",
    "renameat2",
    "truncate",
    "ftruncate",
    "symlinkat",
];

/// Longest prefix the kernel compares; longer ones are cut to it (which keeps more, never
/// less). Mirrors PREFIX_MAX in the C source.
pub const PREFIX_MAX: usize = 63;

/// The syscall fields that hold paths.
const PATH_FIELDS: PathFields<'static> = PathFields {
    full: &[
        "fd.name",
        "fs.path.name",
        "fs.path.source",
        "fs.path.target",
    ],
    dir: &["fd.directory"],
    base: &["fd.filename"],
};

/// What the kernel sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFilter {
    /// Bit `1 << kind` set for each record kind sent.
    pub kinds: u32,
    /// Opens for write sent: `None` for all of them; otherwise only those whose path the
    /// paths admit (and those the kernel cannot judge, see the module docs).
    pub open_paths: Option<Paths>,
    /// Whether failed file calls are sent.
    pub failed_file_calls: bool,
    /// Why a cut is off or narrow, naming the rule (for the log).
    pub notes: Vec<String>,
}

impl Default for KernelFilter {
    fn default() -> Self {
        KernelFilter::everything()
    }
}

impl KernelFilter {
    /// Sends every record (no rules known, or `--no-kernel-filter`).
    pub fn everything() -> KernelFilter {
        KernelFilter {
            kinds: u32::MAX,
            open_paths: None,
            failed_file_calls: true,
            notes: Vec::new(),
        }
    }

    /// The narrowest filter that still sends every record some active `syscall` rule of
    /// `rules` could match.
    pub fn for_rules(rules: &RuleSet) -> KernelFilter {
        let source = &harrier_events::syscall::SOURCE;
        let success = |c: &CompiledCheck| implies_success(c, source);
        let needs = |ty: &str| rules.needs(source, ty, &PATH_FIELDS, &success);

        let mut kinds = (1 << EV_EXEC) | (1 << EV_EXIT) | (1 << EV_OPEN) | (1 << EV_RENAME);
        for (kind, types) in CHOSEN {
            if types.iter().any(|t| !needs(t).is_empty()) {
                kinds |= 1 << kind;
            }
        }

        // ftruncate's path is the one its descriptor was opened with: the open must be seen.
        let mut notes = Vec::new();
        let mut open_paths = Some(Paths::default());
        for ty in ["openat", "ftruncate"] {
            for n in needs(ty) {
                match (&mut open_paths, n.paths) {
                    (Some(acc), Some(p)) => acc.union(p),
                    (Some(_), None) => {
                        notes.push(format!(
                            "every open for write is sent: rule '{}' can match {ty} events on any path",
                            n.rule.name
                        ));
                        open_paths = None;
                    }
                    (None, _) => {}
                }
            }
        }
        if let Some(p) = &mut open_paths {
            p.prefixes = p
                .prefixes
                .iter()
                .map(|s| cut(s, PREFIX_MAX).to_string())
                .collect();
        }

        let mut failed_file_calls = false;
        for ty in FILE_TYPES {
            if let Some(n) = needs(ty).into_iter().find(|n| !n.needs_success) {
                notes.push(format!(
                    "failed file calls are sent: rule '{}' can match a failed {ty}",
                    n.rule.name
                ));
                failed_file_calls = true;
                break;
            }
        }
        KernelFilter {
            kinds,
            open_paths,
            failed_file_calls,
            notes,
        }
    }

    /// Whether records of `kind` are sent.
    pub fn sends(&self, kind: u32) -> bool {
        kind < 32 && self.kinds & (1 << kind) != 0
    }

    /// One line for the log: what is cut.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = CHOSEN
            .iter()
            .filter(|(k, _)| !self.sends(*k))
            .map(|(_, t)| t[0])
            .collect();
        let opens = match &self.open_paths {
            None => "all".to_string(),
            Some(p) => format!(
                "{} path prefix(es), {} file name(s)",
                p.prefixes.len(),
                p.names.len()
            ),
        };
        format!(
            "kernel filter: calls not sent: {}; opens for write sent: {opens} (and those in containers); failed file calls {}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            },
            if self.failed_file_calls {
                "sent"
            } else {
                "not sent"
            }
        )
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Whether `c` holds only for a call that succeeded: `evt.res = SUCCESS`, `fd.num >= 0` (or
/// `> -1`), `evt.rawres >= 0` (or `> -1`).
fn implies_success(c: &CompiledCheck, source: &harrier_events::SourceInfo) -> bool {
    if !c.operand.transformers.is_empty() {
        return false;
    }
    let is = |name: &str| source.field(name).map(|(id, _)| id) == Some(c.operand.field.id);
    match &c.test {
        Test::Str(Cmp::Eq, v) => is("evt.res") && &**v == "SUCCESS",
        Test::Num(Cmp::Ge, n) => (is("fd.num") || is("evt.rawres")) && *n >= 0,
        Test::Num(Cmp::Gt, n) => (is("fd.num") || is("evt.rawres")) && *n >= -1,
        _ => false,
    }
}

/// The 64-bit FNV-1a hash of `b`, as the kernel computes it over a path's last component.
pub fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= c as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> RuleSet {
        let (set, diags) = RuleSet::load(harrier_rules::builtin::RULES.iter().copied());
        assert!(diags.is_empty(), "{diags:?}");
        set
    }

    #[test]
    fn the_builtin_pack_sends_only_the_opens_its_rules_name() {
        let f = KernelFilter::for_rules(&builtin());
        let p = f
            .open_paths
            .as_ref()
            .expect("the pack pins every open's path");
        // "Dynamic Linker Preload File Written" names the file, "Shell History Deleted Or
        // Truncated" the history files' names.
        assert!(p.prefixes.contains("/etc/ld.so.preload"), "{p:?}");
        assert!(p.names.contains(".bash_history"), "{p:?}");
        // Nothing else: a write below /tmp is not among them.
        assert!(!p
            .prefixes
            .iter()
            .any(|x| "/tmp/x/target".starts_with(x.as_str())));
        // Every file rule of the pack requires success.
        assert!(!f.failed_file_calls, "{:?}", f.notes);
        // Connections are read (mining pool, reverse shell), unlinks too (history).
        assert!(f.sends(EV_CONNECT) && f.sends(EV_UNLINK) && f.sends(EV_TRUNCATE));
        assert!(f.sends(EV_EXEC) && f.sends(EV_EXIT) && f.sends(EV_OPEN) && f.sends(EV_RENAME));
    }

    #[test]
    fn a_rule_on_any_path_turns_the_open_cut_off_and_is_named() {
        let extra = "- rule: Hidden file written\n  desc: d\n  condition: evt.type = openat and evt.is_open_write = true and fd.name contains /.\n  output: o\n  priority: warning\n  source: syscall\n";
        let mut files = harrier_rules::builtin::RULES.to_vec();
        files.push(("extra.yaml", extra));
        let (set, diags) = RuleSet::load(files);
        assert!(diags.is_empty(), "{diags:?}");
        let f = KernelFilter::for_rules(&set);
        assert_eq!(f.open_paths, None);
        assert!(f.failed_file_calls);
        assert!(
            f.notes.iter().any(|n| n.contains("'Hidden file written'")),
            "{:?}",
            f.notes
        );
    }

    #[test]
    fn kinds_no_rule_reads_are_not_sent() {
        let only_connect = "- rule: Pool\n  desc: d\n  condition: evt.type = connect and fd.sport = 3333\n  output: o\n  priority: warning\n  source: syscall\n";
        let (set, diags) = RuleSet::load([("c.yaml", only_connect)]);
        assert!(diags.is_empty(), "{diags:?}");
        let f = KernelFilter::for_rules(&set);
        assert!(f.sends(EV_CONNECT));
        for k in [EV_UNLINK, EV_TRUNCATE, EV_SYMLINK, EV_PTRACE, EV_SOCKET] {
            assert!(!f.sends(k), "kind {k}");
        }
        // No rule reads opens: none is sent but for the kinds the kernel cannot judge.
        assert_eq!(f.open_paths, Some(Paths::default()));
        assert!(f
            .describe()
            .contains("unlinkat, truncate, symlinkat, ptrace, socket"));
    }

    #[test]
    fn falcos_rules_are_analysed_without_losing_a_kind_they_read() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/rules/falco/falco_rules.yaml"
        );
        let text = std::fs::read_to_string(path).expect("../shared/rules/falco");
        let (set, _) = RuleSet::load([("falco_rules.yaml", text.as_str())]);
        let f = KernelFilter::for_rules(&set);
        // Falco's stable rules read symlinks, ptrace and packet sockets.
        for k in [EV_SYMLINK, EV_PTRACE, EV_SOCKET] {
            assert!(f.sends(k), "kind {k}: {}", f.describe());
        }
    }

    #[test]
    fn long_prefixes_are_cut_at_a_character_boundary() {
        let long = format!("/{}é", "a".repeat(PREFIX_MAX - 2));
        assert_eq!(cut(&long, PREFIX_MAX).len(), PREFIX_MAX - 1);
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
