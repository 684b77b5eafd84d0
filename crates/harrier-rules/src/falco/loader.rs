//! Reads Falco rule files: `rule`, `macro`, `list`, `required_engine_version` and
//! `required_plugin_versions` items, with `override` (append/replace per key) and legacy
//! `append: true`, in load order across files.

use rustc_hash::FxHashMap;

use super::rule_item::{modify_rule, new_rule};
use super::versions::{check_engine_version, check_plugins};
use crate::diag::{Diagnostic, Severity};
use crate::falco::condition;
use crate::priority::Priority;
use crate::yaml::{self, Node, Pos};

/// The Falco engine version whose rule language Harrier implements.
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 63, 0);

/// Plugins whose fields Harrier provides natively, with the version it matches.
pub const PLUGINS: [(&str, (u64, u64, u64)); 4] = [
    ("cloudtrail", (0, 17, 1)),
    // The sensor fills container.id, container.name, container.image.repository and the pod's
    // name and namespace itself; rules needing the plugin's other fields are listed as missing.
    ("container", (0, 4, 0)),
    ("json", (0, 7, 4)),
    ("k8saudit", (0, 18, 0)),
];

/// A rule as written, after overrides.
#[derive(Debug, Clone)]
pub struct RuleDef {
    /// Name.
    pub name: String,
    /// Description.
    pub desc: String,
    /// Condition text.
    pub condition: String,
    /// Where the condition text starts.
    pub cond_pos: Pos,
    /// Output template.
    pub output: String,
    /// Where the output starts.
    pub output_pos: Pos,
    /// Priority.
    pub priority: Priority,
    /// Event source (`aws_cloudtrail`, `k8s_audit`, `syscall`...).
    pub source: String,
    /// Whether it runs.
    pub enabled: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// Exceptions.
    pub exceptions: Vec<ExceptionDef>,
    /// Skip (with a warning) instead of failing when a field is unknown.
    pub skip_if_unknown_filter: bool,
    /// How repeats fold (Harrier's `noise` key).
    pub noise: Option<crate::ruleset::Noise>,
    /// File that defined it.
    pub file: String,
    /// Where the item starts.
    pub pos: Pos,
}

/// A rule exception.
#[derive(Debug, Clone)]
pub struct ExceptionDef {
    /// Name (unique within the rule).
    pub name: String,
    /// The `fields` key: one field or a list.
    pub fields: Option<Node>,
    /// The `comps` key.
    pub comps: Option<Node>,
    /// Values: tuples when `fields` is a list, single values otherwise.
    pub values: Vec<Node>,
    /// Where it is.
    pub pos: Pos,
}

/// A macro.
#[derive(Debug, Clone)]
pub struct MacroDef {
    /// Condition text.
    pub condition: String,
    /// Where the condition starts.
    pub cond_pos: Pos,
    /// File that defined it.
    pub file: String,
}

/// Everything loaded from a set of rule files, in load order.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Rules, in definition order.
    pub rules: Vec<RuleDef>,
    /// Macros by name.
    pub macros: FxHashMap<String, MacroDef>,
    /// List items by name.
    pub lists: FxHashMap<String, Vec<String>>,
    /// Problems found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Accumulates rule files in order.
#[derive(Debug, Default)]
pub struct Loader {
    out: Loaded,
    rule_index: FxHashMap<String, usize>,
}

pub(super) struct Ctx<'a> {
    pub(super) file: &'a str,
    diags: &'a mut Vec<Diagnostic>,
}

impl Ctx<'_> {
    pub(super) fn push(
        &mut self,
        severity: Severity,
        pos: Pos,
        item: Option<&str>,
        message: String,
    ) {
        self.diags.push(Diagnostic {
            severity,
            file: self.file.to_string(),
            pos,
            item: item.map(str::to_string),
            message,
        });
    }
    pub(super) fn error(&mut self, pos: Pos, item: Option<&str>, message: impl Into<String>) {
        self.push(Severity::Error, pos, item, message.into());
    }
    pub(super) fn warn(&mut self, pos: Pos, item: Option<&str>, message: impl Into<String>) {
        self.push(Severity::Warning, pos, item, message.into());
    }
}

const RULE_KEYS: [&str; 16] = [
    "rule",
    "noise",
    "desc",
    "condition",
    "output",
    "priority",
    "source",
    "enabled",
    "tags",
    "exceptions",
    "override",
    "append",
    "capture",
    "capture_duration",
    "warn_evttypes",
    "skip-if-unknown-filter",
];
const APPENDABLE: [&str; 5] = ["condition", "output", "desc", "tags", "exceptions"];
const REPLACEABLE: [&str; 12] = [
    "noise",
    "condition",
    "output",
    "desc",
    "priority",
    "capture",
    "capture_duration",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
];

fn scalar_string(n: &Node) -> Option<String> {
    n.as_str().map(str::to_string)
}

pub(super) fn string_list(n: &Node) -> Option<Vec<String>> {
    match n {
        Node::Seq(items, _) => items.iter().map(scalar_string).collect(),
        n if n.is_null() => Some(Vec::new()),
        _ => None,
    }
}

impl Loader {
    /// A new, empty loader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one file's text. Problems are recorded; loading goes on with the next item.
    pub fn add_file(&mut self, file: &str, text: &str) {
        let mut diags = std::mem::take(&mut self.out.diagnostics);
        let mut cx = Ctx {
            file,
            diags: &mut diags,
        };
        match yaml::parse(text) {
            Err(e) => cx.error(e.pos, None, format!("invalid YAML: {}", e.message)),
            Ok(docs) => {
                for doc in docs {
                    match doc {
                        Node::Seq(items, _) => {
                            for item in &items {
                                self.add_item(&mut cx, item);
                            }
                        }
                        n if n.is_null() => {}
                        other => cx.error(
                            other.pos(),
                            None,
                            format!(
                                "a rules file must be a list of items, found {}",
                                other.kind()
                            ),
                        ),
                    }
                }
            }
        }
        self.out.diagnostics = diags;
    }

    /// Finishes loading.
    pub fn finish(self) -> Loaded {
        self.out
    }

    fn add_item(&mut self, cx: &mut Ctx<'_>, item: &Node) {
        let Node::Map(entries, pos) = item else {
            cx.error(
                item.pos(),
                None,
                format!("expected an item (a mapping), found {}", item.kind()),
            );
            return;
        };
        let first = entries.iter().find_map(|(k, _)| {
            let k = k.as_str()?;
            [
                "rule",
                "macro",
                "list",
                "required_engine_version",
                "required_plugin_versions",
            ]
            .contains(&k)
            .then_some(k)
        });
        match first {
            Some("rule") => self.add_rule(cx, item),
            Some("macro") => self.add_macro(cx, item),
            Some("list") => self.add_list(cx, item),
            Some("required_engine_version") => check_engine_version(cx, item),
            Some("required_plugin_versions") => check_plugins(cx, item),
            _ => {
                let keys: Vec<&str> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
                cx.warn(
                    *pos,
                    None,
                    format!("unknown item with keys [{}]: ignored", keys.join(", ")),
                );
            }
        }
    }

    fn add_macro(&mut self, cx: &mut Ctx<'_>, item: &Node) {
        let Some(name) = item
            .get("macro")
            .and_then(|n| n.as_str())
            .map(str::to_string)
        else {
            cx.error(item.pos(), None, "'macro' must be a name");
            return;
        };
        let label = format!("macro '{name}'");
        let Some(cond) = item.get("condition") else {
            cx.error(item.pos(), Some(&label), "missing 'condition'");
            return;
        };
        let Some(text) = cond.as_str() else {
            cx.error(cond.pos(), Some(&label), "'condition' must be a string");
            return;
        };
        let mode = match item_mode(cx, item, &label, &["condition"], &["condition"]) {
            Some(m) => m,
            None => return,
        };
        match mode {
            Mode::Define => {
                if let Err(e) = condition::parse(text) {
                    cx.error(
                        cond.pos(),
                        Some(&label),
                        format!("condition: {} (at offset {})", e.message, e.at),
                    );
                }
                let def = MacroDef {
                    condition: text.to_string(),
                    cond_pos: cond.pos(),
                    file: cx.file.to_string(),
                };
                self.out.macros.insert(name, def);
            }
            Mode::Modify(how) => {
                let Some(m) = self.out.macros.get_mut(&name) else {
                    cx.error(
                        item.pos(),
                        Some(&label),
                        "cannot append to or override a macro that is not defined",
                    );
                    return;
                };
                match how.get("condition").copied() {
                    Some(How::Append) => m.condition = format!("{} {}", m.condition, text),
                    _ => {
                        m.condition = text.to_string();
                        m.cond_pos = cond.pos();
                    }
                }
                if let Err(e) = condition::parse(&m.condition) {
                    cx.error(
                        cond.pos(),
                        Some(&label),
                        format!(
                            "condition after {}: {} (at offset {})",
                            how_word(&how),
                            e.message,
                            e.at
                        ),
                    );
                }
            }
        }
    }

    fn add_list(&mut self, cx: &mut Ctx<'_>, item: &Node) {
        let Some(name) = item
            .get("list")
            .and_then(|n| n.as_str())
            .map(str::to_string)
        else {
            cx.error(item.pos(), None, "'list' must be a name");
            return;
        };
        let label = format!("list '{name}'");
        let Some(items_node) = item.get("items") else {
            cx.error(item.pos(), Some(&label), "missing 'items'");
            return;
        };
        let Some(items) = string_list(items_node) else {
            cx.error(
                items_node.pos(),
                Some(&label),
                "'items' must be a list of strings",
            );
            return;
        };
        let mode = match item_mode(cx, item, &label, &["items"], &["items"]) {
            Some(m) => m,
            None => return,
        };
        match mode {
            Mode::Define => {
                self.out.lists.insert(name, items);
            }
            Mode::Modify(how) => {
                let Some(l) = self.out.lists.get_mut(&name) else {
                    cx.error(
                        item.pos(),
                        Some(&label),
                        "cannot append to or override a list that is not defined",
                    );
                    return;
                };
                match how.get("items").copied() {
                    Some(How::Append) => l.extend(items),
                    _ => *l = items,
                }
            }
        }
    }

    fn add_rule(&mut self, cx: &mut Ctx<'_>, item: &Node) {
        let Some(name) = item
            .get("rule")
            .and_then(|n| n.as_str())
            .map(str::to_string)
        else {
            cx.error(item.pos(), None, "'rule' must be a name");
            return;
        };
        let label = format!("rule '{name}'");
        if let Node::Map(entries, _) = item {
            for (k, _) in entries {
                match k.as_str() {
                    Some(k) if RULE_KEYS.contains(&k) => {}
                    other => cx.warn(
                        k.pos(),
                        Some(&label),
                        format!("unknown key '{}' ignored", other.unwrap_or("?")),
                    ),
                }
            }
        }
        let Some(mode) = item_mode(cx, item, &label, &APPENDABLE, &REPLACEABLE) else {
            return;
        };
        // Legacy enable/disable: only `rule` and `enabled`.
        let only_enabled =
            matches!(item, Node::Map(e, _) if e.len() == 2) && item.get("enabled").is_some();
        match mode {
            Mode::Define if only_enabled && self.rule_index.contains_key(&name) => {
                let idx = self.rule_index[&name];
                if let Some(v) = item.get("enabled") {
                    match v.as_bool() {
                        Some(b) => self.out.rules[idx].enabled = b,
                        None => cx.error(v.pos(), Some(&label), "'enabled' must be true or false"),
                    }
                }
            }
            Mode::Define => {
                let Some(def) = new_rule(cx, item, &name, &label) else {
                    return;
                };
                match self.rule_index.get(&name) {
                    Some(&idx) => self.out.rules[idx] = def,
                    None => {
                        self.rule_index.insert(name, self.out.rules.len());
                        self.out.rules.push(def);
                    }
                }
            }
            Mode::Modify(how) => {
                let Some(&idx) = self.rule_index.get(&name) else {
                    cx.error(
                        item.pos(),
                        Some(&label),
                        "cannot append to or override a rule that is not defined",
                    );
                    return;
                };
                let rule = &mut self.out.rules[idx];
                for (key, h) in how {
                    let Some(v) = item.get(key) else { continue };
                    modify_rule(cx, rule, key, h, v, &label);
                }
                if let Err(e) = condition::parse(&rule.condition) {
                    cx.error(
                        item.pos(),
                        Some(&label),
                        format!(
                            "condition after {}: {} (at offset {})",
                            "override", e.message, e.at
                        ),
                    );
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum How {
    Append,
    Replace,
}

enum Mode {
    Define,
    Modify(Vec<(&'static str, How)>),
}

trait HowMap {
    fn get(&self, key: &str) -> Option<&How>;
}
impl HowMap for Vec<(&'static str, How)> {
    fn get(&self, key: &str) -> Option<&How> {
        self.iter().find(|(k, _)| *k == key).map(|(_, h)| h)
    }
}

fn how_word(how: &[(&'static str, How)]) -> &'static str {
    if how.iter().any(|(_, h)| *h == How::Append) {
        "append"
    } else {
        "override"
    }
}

/// Works out whether an item defines something new, or appends to / overrides an existing one.
fn item_mode(
    cx: &mut Ctx<'_>,
    item: &Node,
    label: &str,
    appendable: &[&'static str],
    replaceable: &[&'static str],
) -> Option<Mode> {
    let append = item.get("append");
    let ovr = item.get("override");
    if append.is_some() && ovr.is_some() {
        cx.error(
            item.pos(),
            Some(label),
            "'append' and 'override' cannot be used together",
        );
        return None;
    }
    if let Some(a) = append {
        return match a.as_bool() {
            Some(false) => Some(Mode::Define),
            Some(true) => {
                let keys = appendable
                    .iter()
                    .filter(|k| item.get(k).is_some())
                    .map(|k| (*k, How::Append))
                    .collect();
                Some(Mode::Modify(keys))
            }
            None => {
                cx.error(a.pos(), Some(label), "'append' must be true or false");
                None
            }
        };
    }
    let Some(ovr) = ovr else {
        return Some(Mode::Define);
    };
    let Node::Map(entries, _) = ovr else {
        cx.error(
            ovr.pos(),
            Some(label),
            "'override' must map keys to 'append' or 'replace'",
        );
        return None;
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let key = k.as_str().unwrap_or("");
        let how = match v.as_str() {
            Some("append") => How::Append,
            Some("replace") => How::Replace,
            _ => {
                cx.error(
                    v.pos(),
                    Some(label),
                    format!("override of '{key}' must be 'append' or 'replace'"),
                );
                return None;
            }
        };
        let allowed = if how == How::Append {
            appendable
        } else {
            replaceable
        };
        let Some(&static_key) = allowed.iter().find(|a| **a == key) else {
            let word = if how == How::Append {
                "appended"
            } else {
                "replaced"
            };
            cx.error(
                k.pos(),
                Some(label),
                format!("key '{key}' cannot be {word}"),
            );
            return None;
        };
        if item.get(key).is_none() {
            cx.error(
                k.pos(),
                Some(label),
                format!("override names '{key}' but the item has no '{key}'"),
            );
            return None;
        }
        out.push((static_key, how));
    }
    // Keys given without being named in `override` are an error, as in Falco.
    if let Node::Map(entries, _) = item {
        for (k, _) in entries {
            let key = k.as_str().unwrap_or("");
            if !matches!(key, "rule" | "macro" | "list" | "override") && out.get(key).is_none() {
                cx.error(
                    k.pos(),
                    Some(label),
                    format!("key '{key}' is not named in 'override'"),
                );
                return None;
            }
        }
    }
    Some(Mode::Modify(out))
}
