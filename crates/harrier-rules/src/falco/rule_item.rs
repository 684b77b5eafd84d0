//! Reading one `rule` item: its keys, exceptions, and the changes an override makes.

use super::condition;
use super::loader::{string_list, Ctx, ExceptionDef, How, RuleDef};
use crate::priority::Priority;
use crate::yaml::{Node, Pos};

pub(super) fn new_rule(cx: &mut Ctx<'_>, item: &Node, name: &str, label: &str) -> Option<RuleDef> {
    let mut ok = true;
    let mut req_str = |key: &str, cx: &mut Ctx<'_>| -> (String, Pos) {
        match item.get(key) {
            Some(n) => match n.as_str() {
                Some(s) => (s.to_string(), n.pos()),
                None => {
                    cx.error(
                        n.pos(),
                        Some(label),
                        format!("'{key}' must be a string, found {}", n.kind()),
                    );
                    ok = false;
                    (String::new(), n.pos())
                }
            },
            None => {
                cx.error(
                    item.pos(),
                    Some(label),
                    format!("missing required key '{key}'"),
                );
                ok = false;
                (String::new(), item.pos())
            }
        }
    };
    let (condition, cond_pos) = req_str("condition", cx);
    let (output, output_pos) = req_str("output", cx);
    let (desc, _) = req_str("desc", cx);
    let (prio, prio_pos) = req_str("priority", cx);
    let priority = match prio.parse::<Priority>() {
        Ok(p) => p,
        Err(e) => {
            if !prio.is_empty() {
                cx.error(prio_pos, Some(label), e.to_string());
            }
            ok = false;
            Priority::Debug
        }
    };
    if !condition.is_empty() {
        if let Err(e) = condition::parse(&condition) {
            cx.error(
                cond_pos,
                Some(label),
                format!("condition: {} (at offset {})", e.message, e.at),
            );
            ok = false;
        }
    }
    let source = item
        .get("source")
        .and_then(|n| n.as_str())
        .unwrap_or("syscall")
        .to_string();
    let enabled = match item.get("enabled") {
        None => true,
        Some(n) => n.as_bool().unwrap_or_else(|| {
            cx.error(n.pos(), Some(label), "'enabled' must be true or false");
            ok = false;
            true
        }),
    };
    let tags = match item.get("tags") {
        None => Vec::new(),
        Some(n) => string_list(n).unwrap_or_else(|| {
            cx.error(n.pos(), Some(label), "'tags' must be a list of strings");
            ok = false;
            Vec::new()
        }),
    };
    let exceptions = match item.get("exceptions") {
        None => Vec::new(),
        Some(n) => parse_exceptions(cx, n, label).unwrap_or_else(|| {
            ok = false;
            Vec::new()
        }),
    };
    let noise = match item.get("noise") {
        None => None,
        Some(n) => match parse_noise(n) {
            Ok(v) => Some(v),
            Err(e) => {
                cx.error(n.pos(), Some(label), e);
                ok = false;
                None
            }
        },
    };
    let skip = item
        .get("skip-if-unknown-filter")
        .and_then(Node::as_bool)
        .unwrap_or(false);
    ok.then(|| RuleDef {
        name: name.to_string(),
        desc,
        condition,
        cond_pos,
        output,
        output_pos,
        priority,
        source,
        enabled,
        tags,
        exceptions,
        skip_if_unknown_filter: skip,
        noise,
        file: cx.file.to_string(),
        pos: item.pos(),
    })
}

/// `noise: {key: [field, ...], window: 4h}`.
fn parse_noise(n: &Node) -> Result<crate::ruleset::Noise, String> {
    let key = n
        .get("key")
        .and_then(string_list)
        .filter(|k| !k.is_empty())
        .ok_or("'noise' needs 'key': a non-empty list of output fields")?;
    let window = n
        .get("window")
        .and_then(Node::as_str)
        .ok_or("'noise' needs 'window': a duration such as 30m, 4h or 1d")?;
    let d = harrier_events::time::parse_duration(window)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            format!("noise: window '{window}': expected a duration such as 30m, 4h or 1d")
        })?;
    if let Node::Map(entries, _) = n {
        for (k, _) in entries {
            if !matches!(k.as_str(), Some("key" | "window")) {
                return Err(format!(
                    "noise: unknown key '{}': expected key and window",
                    k.as_str().unwrap_or("?")
                ));
            }
        }
    }
    Ok(crate::ruleset::Noise {
        key,
        window_ns: i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
    })
}

pub(super) fn parse_exceptions(
    cx: &mut Ctx<'_>,
    n: &Node,
    label: &str,
) -> Option<Vec<ExceptionDef>> {
    let Node::Seq(items, _) = n else {
        cx.error(n.pos(), Some(label), "'exceptions' must be a list");
        return None;
    };
    let mut out = Vec::new();
    for it in items {
        let Some(name) = it.get("name").and_then(|n| n.as_str()) else {
            cx.error(it.pos(), Some(label), "each exception needs a 'name'");
            return None;
        };
        let values = match it.get("values") {
            None => Vec::new(),
            Some(Node::Seq(v, _)) => v.clone(),
            Some(v) if v.is_null() => Vec::new(),
            Some(v) => {
                cx.error(
                    v.pos(),
                    Some(label),
                    format!("exception '{name}': 'values' must be a list"),
                );
                return None;
            }
        };
        out.push(ExceptionDef {
            name: name.to_string(),
            fields: it.get("fields").cloned(),
            comps: it.get("comps").cloned(),
            values,
            pos: it.pos(),
        });
    }
    Some(out)
}

pub(super) fn modify_rule(
    cx: &mut Ctx<'_>,
    rule: &mut RuleDef,
    key: &str,
    how: How,
    v: &Node,
    label: &str,
) {
    let text = || v.as_str().map(str::to_string);
    match (key, how) {
        ("condition", How::Append) => match text() {
            Some(t) => rule.condition = format!("{} {}", rule.condition, t),
            None => cx.error(v.pos(), Some(label), "'condition' must be a string"),
        },
        ("condition", How::Replace) => match text() {
            Some(t) => {
                rule.condition = t;
                rule.cond_pos = v.pos();
            }
            None => cx.error(v.pos(), Some(label), "'condition' must be a string"),
        },
        ("output", h) => match text() {
            Some(t) if h == How::Append => rule.output = format!("{} {}", rule.output, t),
            Some(t) => {
                rule.output = t;
                rule.output_pos = v.pos();
            }
            None => cx.error(v.pos(), Some(label), "'output' must be a string"),
        },
        ("desc", h) => match text() {
            Some(t) if h == How::Append => rule.desc = format!("{} {}", rule.desc, t),
            Some(t) => rule.desc = t,
            None => cx.error(v.pos(), Some(label), "'desc' must be a string"),
        },
        ("tags", h) => match string_list(v) {
            Some(t) if h == How::Append => rule.tags.extend(t),
            Some(t) => rule.tags = t,
            None => cx.error(v.pos(), Some(label), "'tags' must be a list of strings"),
        },
        ("priority", _) => match text().map(|t| t.parse::<Priority>()) {
            Some(Ok(p)) => rule.priority = p,
            Some(Err(e)) => cx.error(v.pos(), Some(label), e.to_string()),
            None => cx.error(v.pos(), Some(label), "'priority' must be a string"),
        },
        ("enabled", _) => match v.as_bool() {
            Some(b) => rule.enabled = b,
            None => cx.error(v.pos(), Some(label), "'enabled' must be true or false"),
        },
        ("skip-if-unknown-filter", _) => rule.skip_if_unknown_filter = v.as_bool().unwrap_or(false),
        ("noise", _) => match parse_noise(v) {
            Ok(n) => rule.noise = Some(n),
            Err(e) => cx.error(v.pos(), Some(label), e),
        },
        ("exceptions", h) => {
            let Some(exs) = parse_exceptions(cx, v, label) else {
                return;
            };
            if h == How::Replace {
                rule.exceptions = exs;
                return;
            }
            for ex in exs {
                match rule.exceptions.iter_mut().find(|e| e.name == ex.name) {
                    // Appending an exception with an existing name adds its values.
                    Some(existing) => existing.values.extend(ex.values),
                    None => rule.exceptions.push(ex),
                }
            }
        }
        _ => {} // capture, capture_duration, warn_evttypes: accepted, not used.
    }
}
