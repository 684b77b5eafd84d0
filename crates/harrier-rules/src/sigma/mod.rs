//! Sigma rules, compiled into the same matcher as Falco rules.
//!
//! A Sigma file is recognised by its content (a YAML mapping with `detection`, or a
//! `correlation`). Field names are JSON paths into the event (`requestParameters.bucketName`),
//! read through the source's `json.path` field, which goes through arrays. Values and modifiers
//! are compiled by [`values`]; conditions by [`condition`].

pub mod condition;
pub mod values;

use harrier_events::SourceInfo;
use rustc_hash::FxHashMap;

use crate::ast::Operand;
use crate::compile::{Compiler, Scope};
use crate::diag::{Diagnostic, Severity};
use crate::matcher::{CompiledCheck, FieldOp, Node, Test};
use crate::output::OutputTemplate;
use crate::priority::Priority;
use crate::ruleset::{Language, Rule};
use crate::yaml::{Node as Y, Pos};
use condition::Cond;
use values::{merge, value_tests, ModError, Mods, Scalar};

/// The event source a Sigma `logsource` maps to.
pub fn source_for(product: Option<&str>, service: Option<&str>) -> Option<&'static str> {
    match (product, service) {
        (Some("aws"), Some("cloudtrail")) => Some("aws_cloudtrail"),
        (Some("kubernetes"), Some("audit")) => Some("k8s_audit"),
        _ => None,
    }
}

/// Context appended to every Sigma alert of a source: who, what, where.
fn context_for(source: &str) -> &'static str {
    match source {
        "aws_cloudtrail" => {
            "(%ct.name by %ct.user [%ct.user.identitytype] from %ct.srcip, account %ct.user.accountid, region %ct.region)"
        }
        "k8s_audit" => "(%ka.verb %ka.target.resource %ka.target.namespace/%ka.target.name by %ka.user.name from %ka.sourceips)",
        _ => "",
    }
}

fn priority_of(level: &str) -> Option<Priority> {
    Some(match level.to_ascii_lowercase().as_str() {
        "informational" => Priority::Informational,
        "low" => Priority::Notice,
        "medium" => Priority::Warning,
        "high" => Priority::Error,
        "critical" => Priority::Critical,
        _ => return None,
    })
}

/// Whether parsed YAML documents are a Sigma file.
pub fn is_sigma(docs: &[Y]) -> bool {
    docs.iter().any(|d| {
        d.get("detection").is_some() || d.get("correlation").is_some() || d.get("action").is_some()
    })
}

fn scalar(n: &Y) -> Option<Scalar> {
    match n {
        Y::Scalar { value, quoted, .. } => {
            if !quoted && matches!(value.as_str(), "null" | "Null" | "NULL" | "~") {
                Some(Scalar::Null)
            } else {
                Some(Scalar::Text(value.clone()))
            }
        }
        _ => None,
    }
}

/// Deep-merges `over` onto `base` (Sigma's `action: global` documents).
fn merge_docs(base: &Y, over: &Y) -> Y {
    match (base, over) {
        (Y::Map(b, pos), Y::Map(o, _)) => {
            let mut out: Vec<(Y, Y)> = b.clone();
            for (k, v) in o {
                match out.iter_mut().find(|(bk, _)| bk.as_str() == k.as_str()) {
                    Some((_, bv)) => *bv = merge_docs(bv, v),
                    None => out.push((k.clone(), v.clone())),
                }
            }
            Y::Map(out, *pos)
        }
        (_, o) => o.clone(),
    }
}

struct Ctx<'a> {
    file: &'a str,
    diags: &'a mut Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn push(&mut self, severity: Severity, pos: Pos, item: &str, message: String) {
        self.diags.push(Diagnostic {
            severity,
            file: self.file.to_string(),
            pos,
            item: Some(item.to_string()),
            message,
        });
    }
}

/// Loads the Sigma rules of one file (already parsed) into `out`.
pub fn load_docs(file: &str, docs: Vec<Y>, out: &mut Vec<Rule>, diags: &mut Vec<Diagnostic>) {
    let mut cx = Ctx { file, diags };
    let mut global: Option<Y> = None;
    for doc in docs {
        if doc.is_null() {
            continue;
        }
        match doc.get("action").and_then(Y::as_str) {
            Some("global") => {
                global = Some(doc);
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            _ => {}
        }
        let doc = match &global {
            Some(g) => merge_docs(g, &doc),
            None => doc,
        };
        if let Some(r) = load_rule(&mut cx, &doc) {
            out.push(r);
        }
    }
}

fn load_rule(cx: &mut Ctx<'_>, doc: &Y) -> Option<Rule> {
    let pos = doc.pos();
    let title = doc.get("title").and_then(Y::as_str).map(str::to_string);
    let label = format!("sigma rule '{}'", title.as_deref().unwrap_or("<untitled>"));
    let Some(title) = title else {
        cx.push(Severity::Error, pos, &label, "missing 'title'".into());
        return None;
    };
    let id = doc.get("id").and_then(Y::as_str).unwrap_or("").to_string();
    let mut tags: Vec<String> = match doc.get("tags") {
        Some(Y::Seq(items, _)) => items
            .iter()
            .filter_map(Y::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    if !id.is_empty() {
        tags.push(format!("sigma_id:{id}"));
    }
    let desc = doc
        .get("description")
        .and_then(Y::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    let level = doc.get("level").and_then(Y::as_str).unwrap_or("medium");
    let priority = match priority_of(level) {
        Some(p) => p,
        None => {
            cx.push(Severity::Error, pos, &label, format!("unknown level '{level}': expected informational, low, medium, high or critical"));
            return None;
        }
    };
    let mut rule = Rule::new_uncompiled(
        title.clone(),
        desc,
        priority,
        String::new(),
        tags,
        cx.file.to_string(),
        pos,
        Language::Sigma,
    );

    if let Some(c) = doc.get("correlation") {
        let kind = c.get("type").and_then(Y::as_str).unwrap_or("?");
        rule.source = "correlation".into();
        cx.push(
            Severity::Warning,
            pos,
            &label,
            format!("correlation rules ({kind}) are not supported yet: loaded, not run"),
        );
        return Some(rule);
    }
    let logsource = doc.get("logsource");
    let product = logsource.and_then(|l| l.get("product")).and_then(Y::as_str);
    let service = logsource.and_then(|l| l.get("service")).and_then(Y::as_str);
    let Some(detection) = doc.get("detection") else {
        cx.push(Severity::Error, pos, &label, "missing 'detection'".into());
        return None;
    };
    let Some(source_name) = source_for(product, service) else {
        rule.source = format!("{}/{}", product.unwrap_or("-"), service.unwrap_or("-"));
        cx.push(
            Severity::Warning,
            pos,
            &label,
            format!(
                "logsource {} is not a source Harrier reads: loaded, not run",
                rule.source
            ),
        );
        return Some(rule);
    };
    rule.source = source_name.to_string();
    let Some(source) = harrier_events::source(source_name) else {
        cx.push(
            Severity::Warning,
            pos,
            &label,
            format!("unknown-source: waiting for source '{source_name}': loaded, not run"),
        );
        return Some(rule);
    };
    match compile_detection(source, detection, &title) {
        Ok((node, fields)) => {
            let empty_m = FxHashMap::default();
            let empty_l = FxHashMap::default();
            let scope = Scope {
                macros: &empty_m,
                lists: &empty_l,
            };
            let compiler = Compiler::new(source, &scope);
            let mut text = format!("{title}:");
            for f in fields.iter().take(6) {
                text.push_str(&format!(" {f}=%json.path[{f}]"));
            }
            text.push(' ');
            text.push_str(context_for(source_name));
            match OutputTemplate::compile(&text, &compiler) {
                Ok(output) => rule.set_compiled(node, output),
                Err(e) => cx.push(Severity::Error, pos, &label, e),
            }
        }
        Err((sev, p, msg)) => {
            cx.push(sev, p.unwrap_or(detection.pos()), &label, msg);
            if sev == Severity::Error {
                return None;
            }
        }
    }
    Some(rule)
}

type Fail = (Severity, Option<Pos>, String);

/// Compiles `detection` into one condition; returns it and the fields it names.
fn compile_detection(
    source: &'static SourceInfo,
    detection: &Y,
    title: &str,
) -> Result<(Node, Vec<String>), Fail> {
    let Y::Map(entries, _) = detection else {
        return Err((
            Severity::Error,
            None,
            "'detection' must be a mapping".into(),
        ));
    };
    let empty_m = FxHashMap::default();
    let empty_l = FxHashMap::default();
    let scope = Scope {
        macros: &empty_m,
        lists: &empty_l,
    };
    let compiler = Compiler::new(source, &scope);
    let mut idents: Vec<(String, Node)> = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut cond_texts: Vec<(String, Pos)> = Vec::new();
    for (k, v) in entries {
        let key = k.as_str().unwrap_or("");
        match key {
            "condition" => match v {
                Y::Seq(items, _) => cond_texts.extend(
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(|s| (s.to_string(), i.pos()))),
                ),
                other => cond_texts.push((other.as_str().unwrap_or("").to_string(), other.pos())),
            },
            "timeframe" => {}
            _ => {
                let node = search(&compiler, v, &mut fields).map_err(|(sev, p, m)| {
                    (sev, p.or(Some(k.pos())), format!("search '{key}': {m}"))
                })?;
                idents.push((key.to_string(), node));
            }
        }
    }
    if cond_texts.is_empty() {
        return Err((
            Severity::Error,
            None,
            "'detection' has no 'condition'".into(),
        ));
    }
    let mut conds = Vec::new();
    for (text, pos) in cond_texts {
        let c = condition::parse(&text).map_err(|e| {
            let sev = if e.contains("aggregation") {
                Severity::Warning
            } else {
                Severity::Error
            };
            (
                sev,
                Some(pos),
                format!(
                    "condition: {e}{}",
                    if sev == Severity::Warning {
                        ": loaded, not run"
                    } else {
                        ""
                    }
                ),
            )
        })?;
        conds.push(
            build(&c, &idents)
                .map_err(|e| (Severity::Error, Some(pos), format!("condition: {e}")))?,
        );
    }
    let _ = title;
    let node = if conds.len() == 1 {
        conds.remove(0)
    } else {
        Node::Or(conds.into())
    };
    Ok((node, fields))
}

fn matches_pattern(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((pre, post)) => {
            name.len() >= pre.len() + post.len()
                && name.starts_with(pre)
                && name[pre.len()..].ends_with(post)
        }
    }
}

fn build(c: &Cond, idents: &[(String, Node)]) -> Result<Node, String> {
    Ok(match c {
        Cond::And(items) => Node::And(
            items
                .iter()
                .map(|i| build(i, idents))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Or(items) => Node::Or(
            items
                .iter()
                .map(|i| build(i, idents))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Not(i) => Node::Not(Box::new(build(i, idents)?)),
        Cond::Ident(name) => {
            let (_, n) = idents
                .iter()
                .find(|(k, _)| k == name)
                .ok_or_else(|| format!("unknown search identifier '{name}'"))?;
            n.clone()
        }
        Cond::Of { any, pattern } => {
            let chosen: Vec<Node> = idents
                .iter()
                .filter(|(k, _)| {
                    if pattern == "them" {
                        !k.starts_with('_')
                    } else {
                        matches_pattern(pattern, k)
                    }
                })
                .map(|(_, n)| n.clone())
                .collect();
            if chosen.is_empty() {
                return Err(format!("'{pattern}' matches no search identifier"));
            }
            if *any {
                Node::Or(chosen.into())
            } else {
                Node::And(chosen.into())
            }
        }
    })
}

/// One search identifier: a map (AND of fields), a list of maps (OR), or keywords.
fn search(compiler: &Compiler<'_>, v: &Y, fields: &mut Vec<String>) -> Result<Node, Fail> {
    match v {
        Y::Map(entries, _) => {
            let mut parts = Vec::new();
            for (k, val) in entries {
                let key = k.as_str().unwrap_or("");
                parts.push(
                    field(compiler, key, val, fields)
                        .map_err(|(s, p, m)| (s, p.or(Some(k.pos())), m))?,
                );
            }
            Ok(Node::And(parts.into()))
        }
        Y::Seq(items, _) if items.iter().all(|i| matches!(i, Y::Map(..))) => Ok(Node::Or(
            items
                .iter()
                .map(|i| search(compiler, i, fields))
                .collect::<Result<_, _>>()?,
        )),
        Y::Seq(..) | Y::Scalar { .. } => keywords(compiler, v),
    }
}

fn keywords(compiler: &Compiler<'_>, v: &Y) -> Result<Node, Fail> {
    let vals: Vec<Scalar> = match v {
        Y::Seq(items, _) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    };
    let operand = compiler
        .operand(&Operand {
            transformers: Vec::new(),
            field: "json.obj".into(),
            arg: None,
            at: 0,
        })
        .map_err(|e| (Severity::Error, None, format!("keyword search: {e}")))?;
    let m = Mods {
        contains: true,
        ..Default::default()
    };
    let mut tests = Vec::new();
    for s in &vals {
        tests.extend(value_tests(s, &m).map_err(|e| (Severity::Error, None, e))?);
    }
    Ok(Node::Check(Box::new(CompiledCheck {
        operand,
        test: merge(tests, false),
    })))
}

fn field(
    compiler: &Compiler<'_>,
    key: &str,
    val: &Y,
    fields: &mut Vec<String>,
) -> Result<Node, Fail> {
    let mut parts = key.split('|');
    let name = parts.next().unwrap_or("");
    let mods: Vec<&str> = parts.collect();
    let m = Mods::parse(&mods).map_err(|e| match e {
        ModError::Unknown(x) => (
            Severity::Error,
            None,
            format!("field '{name}': unknown modifier '{x}'"),
        ),
        ModError::Unsupported(x) => (
            Severity::Warning,
            None,
            format!("field '{name}': modifier '{x}' is not supported: loaded, not run"),
        ),
    })?;
    if name.is_empty() {
        return Err((
            Severity::Error,
            None,
            "a field name is required before modifiers".into(),
        ));
    }
    if !fields.iter().any(|f| f == name) {
        fields.push(name.to_string());
    }
    let operand = |path: &str| {
        compiler
            .operand(&Operand {
                transformers: Vec::new(),
                field: "json.path".into(),
                arg: Some(path.to_string()),
                at: 0,
            })
            .map_err(|e| (Severity::Error, None, format!("field '{path}': {e}")))
    };
    let op = operand(name)?;
    let vals: Vec<Scalar> = match val {
        Y::Seq(items, _) => items
            .iter()
            .map(|i| {
                scalar(i).ok_or_else(|| {
                    (
                        Severity::Error,
                        Some(i.pos()),
                        format!("field '{name}': values must be scalars"),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Y::Map(..) => {
            return Err((
                Severity::Error,
                Some(val.pos()),
                format!("field '{name}': a value cannot be a mapping"),
            ))
        }
        other => vec![scalar(other).unwrap_or(Scalar::Null)],
    };
    let check = |test: Test| {
        Node::Check(Box::new(CompiledCheck {
            operand: op.clone(),
            test,
        }))
    };
    let node = if m.exists {
        let want = match vals.as_slice() {
            [Scalar::Text(t)] if t == "true" => true,
            [Scalar::Text(t)] if t == "false" => false,
            _ => {
                return Err((
                    Severity::Error,
                    None,
                    format!("field '{name}': 'exists' takes true or false"),
                ))
            }
        };
        let n = check(Test::Exists);
        if want {
            n
        } else {
            Node::Not(Box::new(n))
        }
    } else if m.fieldref {
        let fop = if m.contains {
            FieldOp::Contains
        } else if m.startswith {
            FieldOp::StartsWith
        } else if m.endswith {
            FieldOp::EndsWith
        } else {
            FieldOp::Cmp(crate::matcher::Cmp::Eq)
        };
        let mut nodes = Vec::new();
        for v in &vals {
            let Scalar::Text(other) = v else {
                return Err((
                    Severity::Error,
                    None,
                    format!("field '{name}': fieldref needs a field name"),
                ));
            };
            nodes.push(check(Test::Field(fop, Box::new(operand(other)?))));
        }
        if m.all {
            Node::And(nodes.into())
        } else {
            Node::Or(nodes.into())
        }
    } else if m.all && vals.len() > 1 {
        let mut nodes = Vec::new();
        for v in &vals {
            let t = value_tests(v, &m)
                .map_err(|e| (Severity::Error, None, format!("field '{name}': {e}")))?;
            nodes.push(check(Test::AnyElement(Box::new(merge(t, false)))));
        }
        Node::And(nodes.into())
    } else {
        let mut tests = Vec::new();
        for v in &vals {
            tests.extend(
                value_tests(v, &m)
                    .map_err(|e| (Severity::Error, None, format!("field '{name}': {e}")))?,
            );
        }
        if tests.is_empty() {
            return Err((Severity::Error, None, format!("field '{name}': no value")));
        }
        check(Test::AnyElement(Box::new(merge(tests, false))))
    };
    Ok(if m.neq {
        Node::Not(Box::new(node))
    } else {
        node
    })
}
