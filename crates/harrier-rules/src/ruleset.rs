//! The compiled rule set: every loaded rule, and per source an index from event type (e.g. the
//! CloudTrail `eventName`) to the rules that can match it.

use std::collections::BTreeMap;

use harrier_events::{Event, SourceInfo};
use rustc_hash::FxHashMap;

use crate::ast::Expr;
use crate::compile::{type_constraint, Compiler, Scope, TypeField, TypeKeys};
use crate::diag::{Diagnostic, Severity};
use crate::falco::{condition, exceptions::exception_terms, loader::Loaded, loader::Loader};
use crate::matcher::Node;
use crate::output::{OutputTemplate, Rendered};
use crate::priority::Priority;
use crate::yaml::Pos;

/// The language a rule was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// The Falco rule language.
    Falco,
    /// Sigma.
    Sigma,
}

impl Language {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Falco => "falco",
            Language::Sigma => "sigma",
        }
    }
}

/// A loaded rule.
#[derive(Debug)]
pub struct Rule {
    /// Name (Falco) or title (Sigma).
    pub name: String,
    /// What makes two of its alerts the same occurrence (Harrier's `noise` key), if declared.
    pub noise: Option<Noise>,
    /// Description.
    pub desc: String,
    /// Priority.
    pub priority: Priority,
    /// Event source name.
    pub source: String,
    /// Tags.
    pub tags: Vec<String>,
    /// The file it came from.
    pub file: String,
    /// Where in the file.
    pub pos: Pos,
    /// Whether it is enabled.
    pub enabled: bool,
    /// Language.
    pub language: Language,
    compiled: Option<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    node: Node,
    output: OutputTemplate,
}

impl Rule {
    /// A rule without a compiled condition (yet).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_uncompiled(
        name: String,
        desc: String,
        priority: Priority,
        source: String,
        tags: Vec<String>,
        file: String,
        pos: Pos,
        language: Language,
    ) -> Rule {
        Rule {
            name,
            noise: None,
            desc,
            priority,
            source,
            tags,
            file,
            pos,
            enabled: true,
            language,
            compiled: None,
        }
    }

    /// Attaches the compiled condition and output.
    pub(crate) fn set_compiled(&mut self, node: Node, output: OutputTemplate) {
        self.compiled = Some(Compiled { node, output });
    }

    /// Whether the rule was compiled for a source Harrier can read.
    pub fn is_runnable(&self) -> bool {
        self.compiled.is_some()
    }
}

/// A lower-cased type prefix and the rules constrained to it.
type PrefixRules = (Box<str>, Box<[u32]>);

#[derive(Debug, Default)]
struct SourceIndex {
    /// Lower-cased event type -> candidate rules (constrained to it, to a prefix of it, or
    /// unconstrained).
    by_type: FxHashMap<Box<str>, Box<[u32]>>,
    /// Lower-cased type prefix -> rules constrained to it, for types not in `by_type`.
    by_prefix: Box<[PrefixRules]>,
    /// The source's second indexed field, when some rule not constrained by type is
    /// constrained by it.
    second: Option<harrier_events::FieldRef>,
    /// Lower-cased value of the second field -> the rules constrained to it (and to no type).
    by_second: FxHashMap<Box<str>, Box<[u32]>>,
    /// Rules constrained neither by type nor by the second field: evaluated on every event.
    any_rest: Box<[u32]>,
    /// Rules not constrained to any type.
    any: Box<[u32]>,
    /// Every rule of the source.
    all: Box<[u32]>,
}

/// Compiled rules, ready to evaluate events.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    index: FxHashMap<&'static str, SourceIndex>,
    min_priority: Option<Priority>,
}

impl RuleSet {
    /// Loads and compiles rule files given as `(name, text)`, in order. Returns the rules and
    /// every problem found; the caller must not run rules when any diagnostic is an error.
    pub fn load<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> (RuleSet, Vec<Diagnostic>) {
        let mut loader = Loader::new();
        let mut sigma_rules = Vec::new();
        let mut sigma_diags = Vec::new();
        for (name, text) in files {
            // Files are recognised by content: a Sigma rule is a mapping with `detection` (or a
            // correlation); everything else goes to the Falco loader, which reports its errors.
            match crate::yaml::parse(text) {
                Ok(docs) if crate::sigma::is_sigma(&docs) => {
                    crate::sigma::load_docs(name, docs, &mut sigma_rules, &mut sigma_diags)
                }
                _ => loader.add_file(name, text),
            }
        }
        let (mut set, mut diags) = RuleSet::compile(loader.finish());
        set.rules.extend(sigma_rules);
        diags.extend(sigma_diags);
        set.build_index();
        (set, diags)
    }

    /// Compiles what a [`Loader`] read.
    pub fn compile(loaded: Loaded) -> (RuleSet, Vec<Diagnostic>) {
        let Loaded {
            rules,
            macros,
            lists,
            mut diagnostics,
        } = loaded;
        let mut macro_exprs: FxHashMap<String, Expr> = FxHashMap::default();
        let mut macro_pos: FxHashMap<String, (String, Pos)> = FxHashMap::default();
        for (name, m) in &macros {
            // Syntax errors were reported at load time.
            if let Ok(e) = condition::parse(&m.condition) {
                macro_exprs.insert(name.clone(), e);
            }
            macro_pos.insert(name.clone(), (m.file.clone(), m.cond_pos));
        }
        let scope = Scope {
            macros: &macro_exprs,
            lists: &lists,
        };
        let mut unavailable: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut out = Vec::with_capacity(rules.len());
        for def in rules {
            let label = format!("rule '{}'", def.name);
            let diag = |severity, pos, message: String| Diagnostic {
                severity,
                file: def.file.clone(),
                pos,
                item: Some(label.clone()),
                message,
            };
            let mut rule = Rule {
                name: def.name.clone(),
                noise: def.noise.clone(),
                desc: def.desc.clone(),
                priority: def.priority,
                source: def.source.clone(),
                tags: def.tags.clone(),
                file: def.file.clone(),
                pos: def.pos,
                enabled: def.enabled,
                language: Language::Falco,
                compiled: None,
            };
            let Some(source) = harrier_events::source(&def.source) else {
                *unavailable
                    .entry((def.file.clone(), def.source.clone()))
                    .or_default() += 1;
                out.push(rule);
                continue;
            };
            let Ok(cond) = condition::parse(&def.condition) else {
                out.push(rule); // reported at load time
                continue;
            };
            let terms = match exception_terms(&def.exceptions) {
                Ok(t) => t,
                Err(e) => {
                    diagnostics.push(diag(Severity::Error, def.pos, e));
                    out.push(rule);
                    continue;
                }
            };
            let expr = if terms.is_empty() {
                cond
            } else {
                let mut all = vec![cond];
                all.extend(terms);
                Expr::And(all)
            };
            let mut compiler = Compiler::new(source, &scope);
            let node = compiler.compile(&expr);
            let output = OutputTemplate::compile(&def.output, &compiler);
            let mut errors = std::mem::take(&mut compiler.errors);
            let mut missing: Vec<String> = errors
                .iter()
                .filter_map(|e| e.missing_field.clone())
                .collect();
            missing.sort();
            missing.dedup();
            if !missing.is_empty() {
                errors.retain(|e| e.missing_field.is_none());
            }
            let severity = if def.skip_if_unknown_filter {
                Severity::Warning
            } else {
                Severity::Error
            };
            // The noise key is read from the alert's output fields: each must be one.
            let mut noise_errors = 0;
            if let (Some(n), Ok(out)) = (&def.noise, &output) {
                for f in n
                    .key
                    .iter()
                    .filter(|f| !out.fields().any(|o| o.text == **f))
                {
                    noise_errors += 1;
                    diagnostics.push(diag(
                        Severity::Error,
                        def.pos,
                        format!("noise: key field '{f}' is not in the output (the key is read from the alert's output fields)"),
                    ));
                }
            }
            let failed =
                !errors.is_empty() || output.is_err() || !missing.is_empty() || noise_errors > 0;
            if !missing.is_empty() {
                diagnostics.push(diag(
                    Severity::Warning,
                    def.pos,
                    format!(
                        "missing-field: parsed but not run: needs {} (not filled by Harrier's '{}' source yet)",
                        missing
                            .iter()
                            .map(|m| format!("'{m}'"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        def.source
                    ),
                ));
            }
            for e in errors {
                let (file, pos, what) = match &e.in_macro {
                    Some(m) => {
                        let (f, p) = macro_pos
                            .get(m)
                            .cloned()
                            .unwrap_or((def.file.clone(), def.cond_pos));
                        (f, p, format!("in macro '{m}'"))
                    }
                    None => (def.file.clone(), def.cond_pos, "condition".to_string()),
                };
                let at =
                    e.at.map(|a| format!(" (at offset {a})"))
                        .unwrap_or_default();
                diagnostics.push(Diagnostic {
                    severity,
                    file,
                    pos,
                    item: Some(label.clone()),
                    message: format!("{what}: {}{at}", e.message),
                });
            }
            if let Err(e) = &output {
                diagnostics.push(diag(severity, def.output_pos, e.clone()));
            }
            if failed && def.skip_if_unknown_filter {
                diagnostics.push(diag(
                    Severity::Warning,
                    def.pos,
                    "skipped (skip-if-unknown-filter)".into(),
                ));
            }
            if !failed {
                if let Ok(output) = output {
                    rule.compiled = Some(Compiled { node, output });
                }
            }
            out.push(rule);
        }
        for ((file, source), n) in unavailable {
            diagnostics.push(Diagnostic {
                severity: Severity::Warning,
                file,
                pos: Pos { line: 1, col: 1 },
                item: None,
                message: format!(
                    "unknown-source: {n} rule(s) for source '{source}' parsed but not run: Harrier cannot read '{source}' events yet"
                ),
            });
        }
        let mut set = RuleSet {
            rules: out,
            index: FxHashMap::default(),
            min_priority: None,
        };
        set.build_index();
        (set, diagnostics)
    }

    /// Runs only rules at or above `p` from now on.
    pub fn set_min_priority(&mut self, p: Priority) {
        self.min_priority = Some(p);
        self.build_index();
    }

    fn build_index(&mut self) {
        self.index.clear();
        // Per source: (rule index, the event types it is limited to, if any).
        type Entry = (u32, Option<TypeKeys>);
        let mut constrained: FxHashMap<&'static str, Vec<Entry>> = FxHashMap::default();
        for (i, r) in self.rules.iter().enumerate() {
            let Some(c) = &r.compiled else { continue };
            if !r.enabled || self.min_priority.is_some_and(|m| !r.priority.at_least(m)) {
                continue;
            }
            let Some(source) = harrier_events::source(&r.source) else {
                continue;
            };
            let keys = TypeField::of(source).and_then(|tf| type_constraint(&c.node, tf));
            constrained
                .entry(source.name)
                .or_default()
                .push((i as u32, keys));
        }
        for (source, rules) in constrained {
            let any: Vec<u32> = rules
                .iter()
                .filter(|(_, n)| n.is_none())
                .map(|(i, _)| *i)
                .collect();
            // Rules the type does not pin, indexed by the second field's exact values.
            let info = harrier_events::source(source);
            let second_tf = info.and_then(TypeField::second_of);
            let mut by_second: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
            let mut any_rest: Vec<u32> = Vec::new();
            for &i in &any {
                let keys = second_tf.and_then(|tf| {
                    let c = self.rules[i as usize].compiled.as_ref()?;
                    type_constraint(&c.node, tf).filter(|k| k.prefixes.is_empty())
                });
                match keys {
                    Some(k) => {
                        for v in k.exact {
                            by_second.entry(v).or_default().push(i);
                        }
                    }
                    None => any_rest.push(i),
                }
            }
            // Read through the generic path field: it gives numbers as text and arrays as
            // several values, so no rule that could hold is left out.
            let second = match (&by_second.is_empty(), info.and_then(|s| s.second_field)) {
                (false, Some((_, path))) => {
                    info.and_then(|s| s.resolve("json.path", Some(&path.join("."))).ok())
                }
                _ => None,
            };
            if second.is_none() {
                any_rest = any.clone();
                by_second.clear();
            }
            let mut by_type: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
            let mut by_prefix: BTreeMap<Box<str>, Vec<u32>> = BTreeMap::new();
            for (i, keys) in &rules {
                for k in keys.iter().flat_map(|k| &k.exact) {
                    by_type.entry(k.clone()).or_default().push(*i);
                }
                for p in keys.iter().flat_map(|k| &k.prefixes) {
                    by_prefix.entry(p.clone()).or_default().push(*i);
                }
            }
            let by_type = by_type
                .into_iter()
                .map(|(k, mut v)| {
                    v.extend(&any_rest);
                    // A known type meets the rules of its prefixes here, in one list.
                    for (p, rs) in &by_prefix {
                        if k.starts_with(&**p) {
                            v.extend(rs);
                        }
                    }
                    v.sort_unstable();
                    v.dedup();
                    (k, v.into_boxed_slice())
                })
                .collect();
            let all: Vec<u32> = rules.iter().map(|(i, _)| *i).collect();
            self.index.insert(
                source,
                SourceIndex {
                    by_type,
                    by_prefix: by_prefix
                        .into_iter()
                        .map(|(p, v)| (p, v.into_boxed_slice()))
                        .collect(),
                    second,
                    by_second: by_second
                        .into_iter()
                        .map(|(k, v)| (k, v.into_boxed_slice()))
                        .collect(),
                    any_rest: any_rest.into(),
                    any: any.into(),
                    all: all.into(),
                },
            );
        }
    }

    /// The rules of `source` that are evaluated on every event, because their condition does not
    /// pin the event type (their names, in load order).
    pub fn unindexed(&self, source: &str) -> Vec<&str> {
        self.index
            .get(source)
            .map(|i| {
                i.any_rest
                    .iter()
                    .map(|r| self.rules[*r as usize].name.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The active rules of `source` with their compiled conditions, in load order.
    pub(crate) fn active(&self, source: &str) -> impl Iterator<Item = (&Rule, &Node)> {
        self.index
            .get(source)
            .into_iter()
            .flat_map(|i| i.all.iter())
            .filter_map(|&r| {
                let rule = &self.rules[r as usize];
                rule.compiled.as_ref().map(|c| (rule, &c.node))
            })
    }

    /// Whether any rule runs on events of `source`.
    pub fn has_rules_for(&self, source: &SourceInfo) -> bool {
        self.index.contains_key(source.name)
    }

    /// Appends to `out` the indexes of the rules that match `ev`, in load order.
    #[inline]
    pub fn matching<E: Event + ?Sized>(&self, ev: &E, out: &mut Vec<u32>) {
        let before = out.len();
        let unsorted = self.for_each_candidate(ev, |r| {
            if let Some(c) = &self.rules[r as usize].compiled {
                if c.node.eval(ev) {
                    out.push(r);
                }
            }
        });
        if unsorted {
            // Back to load order, in place (no allocation per event); a rule under two
            // matching prefixes came twice.
            out[before..].sort_unstable();
            let mut kept = before;
            for i in before..out.len() {
                if kept == before || out[kept - 1] != out[i] {
                    out[kept] = out[i];
                    kept += 1;
                }
            }
            out.truncate(kept);
        }
    }

    /// Evaluates rule `i`'s condition alone on `ev` (for profiles: [`RuleSet::candidates`]
    /// says which rules an event meets).
    pub fn eval_rule<E: Event + ?Sized>(&self, i: u32, ev: &E) -> bool {
        self.rules[i as usize]
            .compiled
            .as_ref()
            .is_some_and(|c| c.node.eval(ev))
    }

    /// The rules `ev` is evaluated against: those of its source that can match its event type,
    /// in load order.
    pub fn candidates<E: Event + ?Sized>(&self, ev: &E) -> Vec<u32> {
        let mut v = Vec::new();
        if self.for_each_candidate(ev, |r| v.push(r)) {
            v.sort_unstable();
            v.dedup();
        }
        v
    }

    /// Calls `f` with each rule `ev` must be evaluated against; returns whether they came out
    /// of load order (rules of a type prefix or of the second field after the rest).
    #[inline]
    fn for_each_candidate<E: Event + ?Sized>(&self, ev: &E, mut f: impl FnMut(u32)) -> bool {
        let Some(idx) = self.index.get(ev.source().name) else {
            return false;
        };
        if idx.by_type.is_empty() && idx.by_prefix.is_empty() && idx.by_second.is_empty() {
            idx.any.iter().for_each(|&r| f(r));
            return false;
        }
        // The index is keyed by lower-cased type (Sigma matches case-insensitively); a key too
        // long for the buffer meets every rule of the source, which stays correct.
        let mut buf = [0u8; 128];
        let lower = match ev.type_key() {
            Some(k) => lowered(&k, &mut buf),
            None => {
                idx.any.iter().for_each(|&r| f(r));
                return false;
            }
        };
        let Some(lower) = lower else {
            idx.all.iter().for_each(|&r| f(r));
            return false;
        };
        let mut extra = false;
        if let Some(rs) = idx.by_type.get(lower) {
            rs.iter().for_each(|&r| f(r));
        } else {
            idx.any_rest.iter().for_each(|&r| f(r));
            for (p, rs) in idx.by_prefix.iter() {
                if lower.starts_with(&**p) {
                    rs.iter().for_each(|&r| f(r));
                    extra = true;
                }
            }
        }
        if let Some(second) = &idx.second {
            let mut buf2 = [0u8; 128];
            match ev.extract(second) {
                Some(harrier_events::Value::Str(v)) => match lowered(&v, &mut buf2) {
                    Some(l) => {
                        if let Some(rs) = idx.by_second.get(l) {
                            rs.iter().for_each(|&r| f(r));
                            extra = true;
                        }
                    }
                    // Too long to look up: every rule of the second index.
                    None => {
                        idx.by_second.values().flatten().for_each(|&r| f(r));
                        extra = true;
                    }
                },
                // Absent (or not a string): no rule of the second index can hold, except
                // through multi-valued or absent-field tests, which the index leaves out.
                None => {}
                Some(_) => {
                    idx.by_second.values().flatten().for_each(|&r| f(r));
                    extra = true;
                }
            }
        }
        extra
    }

    /// Renders rule `i`'s output for `ev`.
    pub fn render<E: Event + ?Sized>(&self, i: u32, ev: &E) -> Rendered<'_> {
        match &self.rules[i as usize].compiled {
            Some(c) => c.output.render(ev),
            None => Rendered::default(),
        }
    }

    /// Every loaded rule, runnable or not, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with index `i`.
    pub fn rule(&self, i: u32) -> &Rule {
        &self.rules[i as usize]
    }

    /// Number of rules that will run.
    pub fn active_count(&self) -> usize {
        let mut seen: Vec<u32> = self
            .index
            .values()
            .flat_map(|s| s.all.iter().copied())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }
}

/// `s` lower-cased into `buf`, if it fits and stays UTF-8.
#[inline]
fn lowered<'b>(s: &str, buf: &'b mut [u8; 128]) -> Option<&'b str> {
    let lower = buf.get_mut(..s.len())?;
    lower.copy_from_slice(s.as_bytes());
    lower.make_ascii_lowercase();
    std::str::from_utf8(lower).ok()
}

/// How a rule's repeated alerts fold (the `noise` key of a Harrier rule): alerts whose `key`
/// output fields are equal are one occurrence within `window` (event time); outputs deliver
/// the first and keep the rest as suppressed, `detect` prints the first and the count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noise {
    /// Output fields whose values make the key (with the rule name).
    pub key: Vec<String>,
    /// The window, ns.
    pub window_ns: i64,
}
