//! Turns a parsed condition into a [`Node`] for one event source: expands macros and lists,
//! resolves fields against the source's table and picks the fastest matcher for each test.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder};
use harrier_events::{FieldType, SourceInfo};
use memchr::memmem::Finder;
use regex::RegexBuilder;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::ast::{Check, Expr, ListModifier, Op, Operand, Rhs, Transformer};
use crate::glob::Glob;
use crate::matcher::{Cmp, CompiledCheck, CompiledOperand, FieldOp, Node, Test};

/// How an error about a known but unfilled field starts (the field name follows).
const MISSING_PREFIX: &str = "missing field '";

/// Deepest chain of macros using macros.
pub const MAX_MACRO_DEPTH: usize = 64;
/// Most values a compiled regex may take, in bytes of program.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// An error compiling a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// What is wrong.
    pub message: String,
    /// Offset in the condition text (of the rule, or of the macro named in `in_macro`).
    pub at: Option<usize>,
    /// The macro whose condition holds the error, if not the rule's own.
    pub in_macro: Option<String>,
    /// Set when the error is a field the source knows of but does not fill yet
    /// ([`SourceInfo::missing`]).
    pub missing_field: Option<String>,
}

/// Macros and lists visible to a condition.
pub struct Scope<'a> {
    /// Parsed macro conditions by name.
    pub macros: &'a FxHashMap<String, Expr>,
    /// List items by name (unexpanded: items may name other lists).
    pub lists: &'a FxHashMap<String, Vec<String>>,
}

/// Compiles conditions for one source, collecting every error.
pub struct Compiler<'a> {
    source: &'static SourceInfo,
    scope: &'a Scope<'a>,
    macro_stack: Vec<String>,
    /// Errors found so far.
    pub errors: Vec<CompileError>,
}

impl<'a> Compiler<'a> {
    /// A compiler for rules of `source`.
    pub fn new(source: &'static SourceInfo, scope: &'a Scope<'a>) -> Self {
        Compiler {
            source,
            scope,
            macro_stack: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn error(&mut self, message: String, at: Option<usize>) -> Node {
        let missing_field = message
            .strip_prefix(MISSING_PREFIX)
            .map(|f| f.split('\'').next().unwrap_or(f).to_string());
        self.errors.push(CompileError {
            message,
            at,
            in_macro: self.macro_stack.last().cloned(),
            missing_field,
        });
        Node::Const(false)
    }

    /// Compiles an expression.
    pub fn compile(&mut self, e: &Expr) -> Node {
        match e {
            Expr::And(items) => flatten(items.iter().map(|i| self.compile(i)).collect(), true),
            Expr::Or(items) => flatten(items.iter().map(|i| self.compile(i)).collect(), false),
            Expr::Not(inner) => match self.compile(inner) {
                Node::Not(n) => *n,
                Node::Const(b) => Node::Const(!b),
                n => Node::Not(Box::new(n)),
            },
            Expr::Bool(b) => Node::Const(*b),
            Expr::Macro { name, at } => {
                let Some(body) = self.scope.macros.get(name) else {
                    return self.error(format!("undefined macro '{name}'"), Some(*at));
                };
                if self.macro_stack.iter().any(|m| m == name) {
                    return self.error(format!("macro '{name}' refers to itself"), Some(*at));
                }
                if self.macro_stack.len() >= MAX_MACRO_DEPTH {
                    return self.error(
                        format!("macros nested deeper than {MAX_MACRO_DEPTH}"),
                        Some(*at),
                    );
                }
                self.macro_stack.push(name.clone());
                let n = self.compile(body);
                self.macro_stack.pop();
                n
            }
            Expr::Check(c) => match self.check(c) {
                Ok(n) => n,
                Err(msg) => self.error(msg, Some(c.at)),
            },
        }
    }

    /// Whether `field` is known to the source's upstream but not filled by Harrier.
    pub fn is_missing(&self, field: &str) -> bool {
        self.source.missing.contains(&field)
    }

    /// Resolves an operand against the source's field table.
    pub fn operand(&self, o: &Operand) -> Result<CompiledOperand, String> {
        if self.source.missing.contains(&o.field.as_str()) {
            return Err(format!(
                "{MISSING_PREFIX}{}' is not filled by Harrier's '{}' source yet",
                o.field, self.source.name
            ));
        }
        let field = self
            .source
            .resolve(&o.field, o.arg.as_deref())
            .map_err(|e| e.to_string())?;
        let mut ty = self.source.info(field.id).ty;
        if ty == FieldType::StringList && matches!(field.arg, harrier_events::FieldArg::Index(_)) {
            ty = FieldType::String; // `list[i]` is one element
        }
        // Transformers are written outermost first; they apply innermost first.
        let transformers: Box<[Transformer]> = o.transformers.iter().rev().copied().collect();
        for t in transformers.iter() {
            ty = match (t, ty) {
                (Transformer::Len, _) => FieldType::U64,
                (_, FieldType::StringList) => FieldType::StringList,
                _ => FieldType::String,
            };
        }
        let text = match &o.arg {
            Some(a) => format!("{}[{}]", o.field, a),
            None => o.field.clone(),
        };
        Ok(CompiledOperand {
            field,
            transformers,
            ty,
            text,
        })
    }

    fn check(&mut self, c: &Check) -> Result<Node, String> {
        let operand = self.operand(&c.lhs)?;
        if let Rhs::Field(other) = &c.rhs {
            let other = self.operand(other)?;
            let op = match c.op {
                Op::Eq => FieldOp::Cmp(Cmp::Eq),
                Op::Ne => FieldOp::Cmp(Cmp::Ne),
                Op::Lt => FieldOp::Cmp(Cmp::Lt),
                Op::Le => FieldOp::Cmp(Cmp::Le),
                Op::Gt => FieldOp::Cmp(Cmp::Gt),
                Op::Ge => FieldOp::Cmp(Cmp::Ge),
                Op::Contains => FieldOp::Contains,
                Op::IContains => FieldOp::IContains,
                Op::StartsWith => FieldOp::StartsWith,
                Op::EndsWith => FieldOp::EndsWith,
                op => {
                    return Err(format!(
                        "operator '{}' cannot compare with another field",
                        op.as_str()
                    ))
                }
            };
            let test = Test::Field(op, Box::new(other));
            return Ok(Node::Check(Box::new(CompiledCheck { operand, test })));
        }
        let test = self.test(&operand, c)?;
        Ok(Node::Check(Box::new(CompiledCheck { operand, test })))
    }

    /// Expands a list's items, splicing in the lists they name.
    fn expand_list(&self, name: &str, depth: usize, out: &mut Vec<String>) -> Result<(), String> {
        if depth > MAX_MACRO_DEPTH {
            return Err(format!(
                "list '{name}' nests lists too deeply (or refers to itself)"
            ));
        }
        let items = self
            .scope
            .lists
            .get(name)
            .ok_or_else(|| format!("undefined list '{name}'"))?;
        for it in items {
            if it != name && self.scope.lists.contains_key(it) {
                self.expand_list(it, depth + 1, out)?;
            } else {
                out.push(it.clone());
            }
        }
        Ok(())
    }

    fn rhs_values(&self, rhs: &Rhs) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        match rhs {
            Rhs::List(items) => {
                for it in items {
                    if it.bare && self.scope.lists.contains_key(&it.text) {
                        self.expand_list(&it.text, 0, &mut out)?;
                    } else {
                        out.push(it.text.clone());
                    }
                }
            }
            Rhs::ListName(n) => self.expand_list(n, 0, &mut out)?,
            Rhs::Value { text, bare } => {
                if *bare && self.scope.lists.contains_key(text) {
                    self.expand_list(text, 0, &mut out)?;
                } else {
                    out.push(text.clone());
                }
            }
            Rhs::None | Rhs::Field(_) => {}
        }
        Ok(out)
    }

    fn test(&self, operand: &CompiledOperand, c: &Check) -> Result<Test, String> {
        let ty = operand.ty;
        let op = c.op;
        if op == Op::Exists {
            return Ok(Test::Exists);
        }
        let values = self.rhs_values(&c.rhs)?;
        if ty == FieldType::StringList {
            let set: FxHashSet<Box<str>> = values.iter().map(|v| v.as_str().into()).collect();
            return match op {
                Op::In => Ok(Test::ListIn(set)),
                // Falco: a multi-valued field (proc.aname) equals a value when any value does.
                Op::Eq if values.len() == 1 => Ok(Test::ListIntersects(set)),
                Op::Intersects => Ok(Test::ListIntersects(set)),
                _ => Err(format!(
                    "field '{}' holds a list: only 'exists', 'in' and 'intersects' apply, not '{}'",
                    operand.text,
                    op.as_str()
                )),
            };
        }
        if op.takes_list() {
            return match op {
                Op::Pmatch => Ok(Test::Pmatch(
                    values.iter().map(|v| v.as_str().into()).collect(),
                )),
                _ if ty == FieldType::U64 => Ok(Test::NumSet(
                    values
                        .iter()
                        .map(|v| num(v, &operand.text))
                        .collect::<Result<_, _>>()?,
                )),
                _ => Ok(Test::Set(
                    values.iter().map(|v| v.as_str().into()).collect(),
                )),
            };
        }
        match c.modifier {
            None => {
                if values.len() != 1 {
                    return Err(format!(
                        "list used where operator '{}' takes a single value",
                        op.as_str()
                    ));
                }
                single(op, ty, &values[0], &operand.text)
            }
            Some(m) => {
                if values.is_empty() {
                    return Ok(Test::Any(Box::new([])));
                }
                if m == ListModifier::Any {
                    if op == Op::Eq && ty == FieldType::String {
                        return Ok(Test::Set(
                            values.iter().map(|v| v.as_str().into()).collect(),
                        ));
                    }
                    if matches!(op, Op::Contains | Op::IContains) {
                        return Ok(Test::ContainsAny(aho(&values, op == Op::IContains)?));
                    }
                }
                let tests = values
                    .iter()
                    .map(|v| single(op, ty, v, &operand.text))
                    .collect::<Result<Box<[_]>, _>>()?;
                Ok(if m == ListModifier::All {
                    Test::All(tests)
                } else {
                    Test::Any(tests)
                })
            }
        }
    }
}

fn aho(values: &[String], case_insensitive: bool) -> Result<AhoCorasick, String> {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(case_insensitive)
        .build(values)
        .map_err(|e| format!("cannot build substring matcher: {e}"))
}

fn num(v: &str, field: &str) -> Result<i128, String> {
    crate::matcher::parse_num(v)
        .ok_or_else(|| format!("field '{field}' is numeric: expected a number, found '{v}'"))
}

fn hex_bytes(v: &str) -> Result<Vec<u8>, String> {
    let v = v.trim();
    if !v.len().is_multiple_of(2) {
        return Err(format!(
            "expected an even number of hex digits, found '{v}'"
        ));
    }
    (0..v.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&v[i..i + 2], 16)
                .map_err(|_| format!("expected hex digits, found '{v}'"))
        })
        .collect()
}

fn single(op: Op, ty: FieldType, v: &str, field: &str) -> Result<Test, String> {
    let cmp = match op {
        Op::Eq => Some(Cmp::Eq),
        Op::Ne => Some(Cmp::Ne),
        Op::Lt => Some(Cmp::Lt),
        Op::Le => Some(Cmp::Le),
        Op::Gt => Some(Cmp::Gt),
        Op::Ge => Some(Cmp::Ge),
        _ => None,
    };
    if let Some(c) = cmp {
        return Ok(if ty == FieldType::U64 {
            Test::Num(c, num(v, field)?)
        } else {
            Test::Str(c, v.into())
        });
    }
    Ok(match op {
        Op::Contains => Test::Contains(Finder::new(v.as_bytes()).into_owned()),
        Op::IContains => Test::ContainsAny(aho(&[v.to_string()], true)?),
        Op::BContains => Test::BContains(Finder::new(&hex_bytes(v)?).into_owned()),
        Op::BStartsWith => Test::BStartsWith(hex_bytes(v)?.into()),
        Op::StartsWith => Test::StartsWith(v.into()),
        Op::EndsWith => Test::EndsWith(v.into()),
        Op::Glob => Test::Glob(Glob::new(v, false)),
        Op::IGlob => Test::Glob(Glob::new(v, true)),
        Op::Regex => Test::Regex(
            RegexBuilder::new(&format!(r"\A(?:{v})\z"))
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| format!("invalid regex '{v}': {e}"))?,
        ),
        other => {
            return Err(format!(
                "operator '{}' does not take a single value",
                other.as_str()
            ))
        }
    })
}

/// Merges nested `and`/`or` of the same kind and folds constants.
fn flatten(children: Vec<Node>, is_and: bool) -> Node {
    let mut out = Vec::with_capacity(children.len());
    for c in children {
        match c {
            Node::And(items) if is_and => out.extend(items.into_vec()),
            Node::Or(items) if !is_and => out.extend(items.into_vec()),
            Node::Const(b) if b == is_and => {}
            Node::Const(b) => return Node::Const(b),
            n => out.push(n),
        }
    }
    match out.len() {
        0 => Node::Const(is_and),
        1 => out.pop().unwrap_or(Node::Const(is_and)),
        _ if is_and => Node::And(out.into()),
        _ => Node::Or(out.into()),
    }
}

/// What identifies the source's type field in a compiled condition: the field itself
/// (`ct.name`), or the generic path field over the same JSON member (`json.path[eventName]`).
#[derive(Debug, Clone, Copy)]
pub struct TypeField<'a> {
    /// Id of the type field.
    pub field: u16,
    /// Id of the source's `json.path` field and the path of the type member, if any.
    pub path: Option<(u16, &'a [&'a str])>,
}

impl TypeField<'_> {
    /// The type field of `source`, if it has one.
    pub fn of(source: &SourceInfo) -> Option<TypeField<'static>> {
        let field = source.field(source.type_field?)?.0;
        let path = match (source.field("json.path"), source.type_path) {
            (Some((id, _)), Some(p)) => Some((id, p)),
            _ => None,
        };
        Some(TypeField { field, path })
    }

    /// The second indexed field of `source` (see [`SourceInfo::second_field`]), if it has one.
    pub fn second_of(source: &SourceInfo) -> Option<TypeField<'static>> {
        let (name, p) = source.second_field?;
        let field = source.field(name)?.0;
        let path = source.field("json.path").map(|(id, _)| (id, p));
        Some(TypeField { field, path })
    }

    pub(crate) fn is(&self, o: &CompiledOperand) -> bool {
        if !o.transformers.is_empty() {
            return false;
        }
        if o.field.id == self.field {
            return true;
        }
        match (self.path, &o.field.arg) {
            (Some((id, p)), harrier_events::FieldArg::Path(tokens)) => {
                o.field.id == id
                    && tokens.len() == p.len()
                    && tokens.iter().zip(p).all(|(a, b)| a == b)
            }
            _ => false,
        }
    }
}

/// The values of the source's type field an event must have for a condition to hold:
/// lower-cased exact values, and lower-cased prefixes (`ct.name startswith
/// UpdateFunctionConfiguration`, as CloudTrail suffixes some names with an API version).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeKeys {
    /// Values the type may equal.
    pub exact: FxHashSet<Box<str>>,
    /// Prefixes the type may start with.
    pub prefixes: FxHashSet<Box<str>>,
}

impl TypeKeys {
    fn exact(values: impl IntoIterator<Item = Box<str>>) -> Self {
        TypeKeys {
            exact: values.into_iter().collect(),
            prefixes: FxHashSet::default(),
        }
    }

    /// Whether a (lower-cased) type value is admitted.
    pub fn admits(&self, v: &str) -> bool {
        self.exact.contains(v) || self.prefixes.iter().any(|p| v.starts_with(&**p))
    }

    fn union(&mut self, o: TypeKeys) {
        self.exact.extend(o.exact);
        self.prefixes.extend(o.prefixes);
    }

    /// The values both admit.
    fn intersect(&self, o: &TypeKeys) -> TypeKeys {
        let mut exact: FxHashSet<Box<str>> =
            self.exact.iter().filter(|e| o.admits(e)).cloned().collect();
        exact.extend(o.exact.iter().filter(|e| self.admits(e)).cloned());
        let mut prefixes = FxHashSet::default();
        for p in &self.prefixes {
            for q in &o.prefixes {
                if p.starts_with(&**q) {
                    prefixes.insert(p.clone());
                } else if q.starts_with(&**p) {
                    prefixes.insert(q.clone());
                }
            }
        }
        TypeKeys { exact, prefixes }
    }
}

/// The values of the type field, lower-cased, that could satisfy `t`; `None` for any value.
pub(crate) fn test_values(t: &Test) -> Option<TypeKeys> {
    let lower = |v: &str| -> Box<str> { v.to_ascii_lowercase().into() };
    match t {
        Test::Str(Cmp::Eq, v) | Test::IEq(v) => Some(TypeKeys::exact([lower(v)])),
        Test::Set(set) | Test::ISet(set) => Some(TypeKeys::exact(set.iter().map(|v| lower(v)))),
        Test::StartsWith(p) | Test::IStartsWith(p) => Some(TypeKeys {
            exact: FxHashSet::default(),
            prefixes: [lower(p)].into_iter().collect(),
        }),
        Test::AnyElement(inner) => test_values(inner),
        Test::Any(ts) => {
            let mut acc = TypeKeys::default();
            for t in ts.iter() {
                acc.union(test_values(t)?);
            }
            Some(acc)
        }
        _ => None,
    }
}

/// The values of the source's type field (e.g. `ct.name`) that an event must have for `n` to
/// possibly hold; `None` when any value could.
pub fn type_constraint(n: &Node, tf: TypeField<'_>) -> Option<TypeKeys> {
    match n {
        Node::Check(c) if tf.is(&c.operand) => test_values(&c.test),
        Node::And(items) => {
            let mut acc: Option<TypeKeys> = None;
            for i in items.iter() {
                if let Some(s) = type_constraint(i, tf) {
                    acc = Some(match acc {
                        None => s,
                        Some(a) => a.intersect(&s),
                    });
                }
            }
            acc
        }
        Node::Or(items) => {
            let mut acc = TypeKeys::default();
            for i in items.iter() {
                acc.union(type_constraint(i, tf)?);
            }
            Some(acc)
        }
        Node::Const(false) => Some(TypeKeys::default()),
        _ => None,
    }
}
