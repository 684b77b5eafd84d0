//! Rule exceptions, rewritten into the condition as Falco does:
//! `final = (condition) and not EX1 and not EX2 ...`.
//!
//! - `fields` a list: `EX = (f1 c1 v1 and f2 c2 v2) or (...)`, one disjunct per value tuple;
//!   `comps` defaults to `=` for each field.
//! - `fields` one field: `comps` defaults to `in`; `EX = field comp (v1, v2, ...)`.
//! - An exception without values adds nothing.

use crate::ast::{Check, Expr, ListItem, ListModifier, Op, Operand, Rhs};
use crate::falco::loader::ExceptionDef;
use crate::yaml::Node;

/// Parses a comparison as written in `comps` (`=`, `in`, `startswith`, `contains oneof`...).
fn parse_comp(s: &str) -> Option<(Op, Option<ListModifier>)> {
    let mut words = s.split_whitespace();
    let op = Op::parse(words.next()?)?;
    let m = match words.next() {
        None => None,
        Some("oneof" | "anyof") => Some(ListModifier::Any),
        Some("allof") => Some(ListModifier::All),
        Some(_) => return None,
    };
    if words.next().is_some() || (m.is_some() && !op.takes_modifier()) {
        return None;
    }
    Some((op, m))
}

fn field_operand(f: &str) -> Operand {
    // `json.value[/a/b]` style arguments are allowed in exception fields.
    let (field, arg) = match f.find('[') {
        Some(i) if f.ends_with(']') => {
            (f[..i].to_string(), Some(f[i + 1..f.len() - 1].to_string()))
        }
        _ => (f.to_string(), None),
    };
    Operand {
        transformers: Vec::new(),
        field,
        arg,
        at: 0,
    }
}

fn rhs_for(op: Op, m: Option<ListModifier>, v: &Node) -> Result<Rhs, String> {
    let list_like = op.takes_list() || m.is_some();
    match v {
        Node::Seq(items, _) if list_like => Ok(Rhs::List(
            items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(|t| ListItem {
                            text: t.to_string(),
                            bare: true,
                        })
                        .ok_or_else(|| "exception list values must be strings".to_string())
                })
                .collect::<Result<_, _>>()?,
        )),
        Node::Scalar { value, .. } if list_like => Ok(Rhs::List(vec![ListItem {
            text: value.clone(),
            bare: true,
        }])),
        Node::Scalar { value, .. } => Ok(Rhs::Value {
            text: value.clone(),
            bare: false,
        }),
        other => Err(format!(
            "expected a single value for '{}', found {}",
            op.as_str(),
            other.kind()
        )),
    }
}

/// Builds `not EX` terms for a rule's exceptions. Errors name the exception.
pub fn exception_terms(exceptions: &[ExceptionDef]) -> Result<Vec<Expr>, String> {
    let mut out = Vec::new();
    for ex in exceptions {
        if ex.values.is_empty() {
            continue;
        }
        let name = &ex.name;
        let Some(fields) = &ex.fields else {
            return Err(format!("exception '{name}' has values but no 'fields'"));
        };
        let term = match fields {
            Node::Seq(fs, _) => {
                let fs: Vec<&str> = fs
                    .iter()
                    .map(|f| {
                        f.as_str()
                            .ok_or_else(|| format!("exception '{name}': fields must be strings"))
                    })
                    .collect::<Result<_, _>>()?;
                let comps: Vec<String> = match &ex.comps {
                    None => vec!["=".to_string(); fs.len()],
                    Some(Node::Seq(cs, _)) => cs
                        .iter()
                        .map(|c| c.as_str().unwrap_or("").to_string())
                        .collect(),
                    Some(_) => {
                        return Err(format!(
                            "exception '{name}': 'comps' must be a list when 'fields' is"
                        ))
                    }
                };
                if comps.len() != fs.len() {
                    return Err(format!(
                        "exception '{name}': {} fields but {} comps",
                        fs.len(),
                        comps.len()
                    ));
                }
                let comps: Vec<(Op, Option<ListModifier>)> = comps
                    .iter()
                    .map(|c| {
                        parse_comp(c)
                            .ok_or_else(|| format!("exception '{name}': unknown comparison '{c}'"))
                    })
                    .collect::<Result<_, _>>()?;
                let mut disjuncts = Vec::new();
                for tuple in &ex.values {
                    let Node::Seq(vals, _) = tuple else {
                        return Err(format!(
                            "exception '{name}': each value must be a list of {} items",
                            fs.len()
                        ));
                    };
                    if vals.len() != fs.len() {
                        return Err(format!(
                            "exception '{name}': a value has {} items, fields has {}",
                            vals.len(),
                            fs.len()
                        ));
                    }
                    let mut conj = Vec::new();
                    for ((f, (op, m)), v) in fs.iter().zip(&comps).zip(vals) {
                        let rhs =
                            rhs_for(*op, *m, v).map_err(|e| format!("exception '{name}': {e}"))?;
                        conj.push(Expr::Check(Box::new(Check {
                            lhs: field_operand(f),
                            op: *op,
                            modifier: *m,
                            rhs,
                            at: 0,
                        })));
                    }
                    disjuncts.push(if conj.len() == 1 {
                        conj.remove(0)
                    } else {
                        Expr::And(conj)
                    });
                }
                if disjuncts.len() == 1 {
                    disjuncts.remove(0)
                } else {
                    Expr::Or(disjuncts)
                }
            }
            Node::Scalar { value: f, .. } => {
                let comp = ex.comps.as_ref().and_then(Node::as_str).unwrap_or("in");
                let (op, m) = parse_comp(comp)
                    .ok_or_else(|| format!("exception '{name}': unknown comparison '{comp}'"))?;
                if !(op.takes_list() || m.is_some()) {
                    return Err(format!(
                        "exception '{name}': with a single field, 'comps' must be in, pmatch, intersects or a string operator with oneof/anyof/allof"
                    ));
                }
                let items = ex
                    .values
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(|t| ListItem {
                                text: t.to_string(),
                                bare: true,
                            })
                            .ok_or_else(|| format!("exception '{name}': values must be strings"))
                    })
                    .collect::<Result<_, _>>()?;
                Expr::Check(Box::new(Check {
                    lhs: field_operand(f),
                    op,
                    modifier: m,
                    rhs: Rhs::List(items),
                    at: 0,
                }))
            }
            Node::Map(..) => {
                return Err(format!(
                    "exception '{name}': 'fields' must be a field or a list of fields"
                ))
            }
        };
        out.push(Expr::Not(Box::new(term)));
    }
    Ok(out)
}
