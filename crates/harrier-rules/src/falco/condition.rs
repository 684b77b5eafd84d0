//! Parser for Falco condition expressions.
//!
//! Grammar and precedence follow libsinsp's filter parser: `or` binds looser than `and`, which
//! binds looser than `not`; a bare identifier is a macro reference; `field[arg]`, transformers
//! (`tolower(...)`) and `val(field)` are supported. Recursion is bounded by [`MAX_DEPTH`].

use crate::ast::{Check, Expr, ListItem, ListModifier, Op, Operand, Rhs, Transformer};

/// Deepest nesting of parentheses and `not` accepted.
pub const MAX_DEPTH: usize = 200;

/// A condition syntax error at a byte offset of the condition text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the condition.
    pub at: usize,
    /// What was expected.
    pub message: String,
}

type R<T> = Result<T, ParseError>;

/// Parses a condition.
pub fn parse(text: &str) -> R<Expr> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.ws();
    if p.i == p.b.len() {
        return Err(p.err("empty condition"));
    }
    let e = p.or()?;
    p.ws();
    if p.i < p.b.len() {
        return Err(p.err(&format!("unexpected '{}'", p.rest_word())));
    }
    Ok(e)
}

/// Parses a standalone value list such as an exception's `(a, b)`; used by tests and tools.
pub fn parse_list(text: &str) -> R<Vec<ListItem>> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.ws();
    p.list_items()
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}
fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}
fn is_bare(c: u8) -> bool {
    !matches!(
        c,
        b'(' | b')' | b'"' | b'\'' | b'=' | b',' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c
    )
}

impl<'a> Parser<'a> {
    fn err(&self, msg: &str) -> ParseError {
        ParseError {
            at: self.i,
            message: msg.to_string(),
        }
    }

    fn rest_word(&self) -> String {
        let end = (self.i..self.b.len())
            .find(|&j| self.b[j].is_ascii_whitespace())
            .unwrap_or(self.b.len());
        self.s[self.i..end.min(self.i + 40)].to_string()
    }

    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Whether keyword `kw` starts here and is not the start of a longer word.
    fn at_keyword(&self, kw: &str) -> bool {
        let end = self.i + kw.len();
        self.s.get(self.i..end) == Some(kw)
            && self.b.get(end).is_none_or(|&c| !is_ident(c) && c != b'.')
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(&format!("condition nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn or(&mut self) -> R<Expr> {
        let mut items = vec![self.and()?];
        loop {
            self.ws();
            if self.at_keyword("or") {
                self.i += 2;
                items.push(self.and()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::Bool(false))
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> R<Expr> {
        let mut items = vec![self.not()?];
        loop {
            self.ws();
            if self.at_keyword("and") {
                self.i += 3;
                items.push(self.not()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::Bool(false))
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> R<Expr> {
        self.ws();
        if self.at_keyword("not") {
            self.i += 3;
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.check()
    }

    fn check(&mut self) -> R<Expr> {
        self.ws();
        let start = self.i;
        match self.peek() {
            None => return Err(self.err("expected a condition, found the end")),
            Some(b'(') => {
                self.i += 1;
                self.enter()?;
                let e = self.or()?;
                self.depth -= 1;
                self.ws();
                if self.peek() != Some(b')') {
                    return Err(self.err("expected ')'"));
                }
                self.i += 1;
                return Ok(e);
            }
            Some(c) if is_ident_start(c) => {}
            Some(_) => {
                return Err(self.err(&format!(
                    "expected a field or macro, found '{}'",
                    self.rest_word()
                )))
            }
        }
        let word = self.word();
        if self.peek() == Some(b'(') {
            if let Some(t) = Transformer::from_name(word) {
                let lhs = self.transformed(t, start)?;
                return self.condition(lhs, start);
            }
            if word == "val" {
                return Err(self.err("val() can only appear on the right of an operator"));
            }
        }
        if !word.contains('.') {
            if matches!(word, "and" | "or") {
                self.i = start;
                return Err(self.err(&format!("expected a condition before '{word}'")));
            }
            return Ok(Expr::Macro {
                name: word.to_string(),
                at: start,
            });
        }
        let arg = self.field_arg()?;
        let lhs = Operand {
            transformers: Vec::new(),
            field: word.to_string(),
            arg,
            at: start,
        };
        self.condition(lhs, start)
    }

    /// A word of identifier characters and dots.
    fn word(&mut self) -> &'a str {
        let start = self.i;
        while let Some(c) = self.peek() {
            if is_ident(c) || c == b'.' {
                self.i += 1;
            } else {
                break;
            }
        }
        &self.s[start..self.i]
    }

    fn field_arg(&mut self) -> R<Option<String>> {
        if self.peek() != Some(b'[') {
            return Ok(None);
        }
        self.i += 1;
        let arg = match self.peek() {
            Some(q @ (b'"' | b'\'')) => self.quoted(q)?,
            _ => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if matches!(c, b']' | b'[' | b'"' | b'\'') || c.is_ascii_whitespace() {
                        break;
                    }
                    self.i += 1;
                }
                if self.i == start {
                    return Err(self.err("expected a field argument"));
                }
                self.s[start..self.i].to_string()
            }
        };
        if self.peek() != Some(b']') {
            return Err(self.err("expected ']' after field argument"));
        }
        self.i += 1;
        Ok(Some(arg))
    }

    /// `t(` already seen as the word before the parenthesis.
    fn transformed(&mut self, t: Transformer, start: usize) -> R<Operand> {
        self.i += 1; // '('
        self.enter()?;
        self.ws();
        let inner_start = self.i;
        let inner_word = self.word();
        let mut op = if self.peek() == Some(b'(') {
            let inner = Transformer::from_name(inner_word).ok_or_else(|| ParseError {
                at: inner_start,
                message: format!("unknown transformer '{inner_word}'"),
            })?;
            self.transformed(inner, inner_start)?
        } else {
            if !inner_word.contains('.') {
                return Err(ParseError {
                    at: inner_start,
                    message: "expected a field inside the transformer".into(),
                });
            }
            let arg = self.field_arg()?;
            Operand {
                transformers: Vec::new(),
                field: inner_word.to_string(),
                arg,
                at: inner_start,
            }
        };
        self.ws();
        if self.peek() != Some(b')') {
            return Err(self.err("expected ')' closing the transformer"));
        }
        self.i += 1;
        self.depth -= 1;
        op.transformers.insert(0, t);
        op.at = start;
        Ok(op)
    }

    fn operator(&mut self) -> R<Op> {
        self.ws();
        let two = self.s.get(self.i..self.i + 2);
        let sym = match two {
            Some("<=") => Some((Op::Le, 2)),
            Some(">=") => Some((Op::Ge, 2)),
            Some("!=") => Some((Op::Ne, 2)),
            Some("==") => Some((Op::Eq, 2)),
            _ => match self.peek() {
                Some(b'=') => Some((Op::Eq, 1)),
                Some(b'<') => Some((Op::Lt, 1)),
                Some(b'>') => Some((Op::Gt, 1)),
                _ => None,
            },
        };
        if let Some((op, n)) = sym {
            self.i += n;
            return Ok(op);
        }
        for op in Op::WORDS {
            if self.at_keyword(op.as_str()) {
                self.i += op.as_str().len();
                return Ok(op);
            }
        }
        Err(self.err(&format!(
            "expected an operator, found '{}'",
            self.rest_word()
        )))
    }

    fn condition(&mut self, lhs: Operand, at: usize) -> R<Expr> {
        let op = self.operator()?;
        if op == Op::Exists {
            return Ok(Expr::Check(Box::new(Check {
                lhs,
                op,
                modifier: None,
                rhs: Rhs::None,
                at,
            })));
        }
        self.ws();
        let mut modifier = None;
        if op.takes_modifier() {
            for (kw, m) in [
                ("oneof", ListModifier::Any),
                ("anyof", ListModifier::Any),
                ("allof", ListModifier::All),
            ] {
                if self.at_keyword(kw) {
                    self.i += kw.len();
                    modifier = Some(m);
                    self.ws();
                    break;
                }
            }
        }
        let rhs = if op.takes_list() || modifier.is_some() {
            self.list_value()?
        } else {
            self.value()?
        };
        Ok(Expr::Check(Box::new(Check {
            lhs,
            op,
            modifier,
            rhs,
            at,
        })))
    }

    fn value(&mut self) -> R<Rhs> {
        self.ws();
        let start = self.i;
        match self.peek() {
            None => Err(self.err("expected a value, found the end")),
            Some(q @ (b'"' | b'\'')) => Ok(Rhs::Value {
                text: self.quoted(q)?,
                bare: false,
            }),
            Some(b'(') => Err(self.err("expected a single value, found a list")),
            Some(_) => {
                if let Some(rhs) = self.field_rhs()? {
                    return Ok(rhs);
                }
                self.i = start;
                let text = self.bare()?;
                Ok(Rhs::Value { text, bare: true })
            }
        }
    }

    /// `val(field)` or a transformer on the right-hand side.
    fn field_rhs(&mut self) -> R<Option<Rhs>> {
        let start = self.i;
        if !self.peek().is_some_and(is_ident_start) {
            return Ok(None);
        }
        let w = self.word();
        if self.peek() != Some(b'(') {
            self.i = start;
            return Ok(None);
        }
        if w == "val" {
            self.i += 1;
            self.ws();
            let fstart = self.i;
            let name = self.word();
            if !name.contains('.') {
                return Err(ParseError {
                    at: fstart,
                    message: "expected a field inside val()".into(),
                });
            }
            let arg = self.field_arg()?;
            self.ws();
            if self.peek() != Some(b')') {
                return Err(self.err("expected ')' closing val()"));
            }
            self.i += 1;
            return Ok(Some(Rhs::Field(Operand {
                transformers: Vec::new(),
                field: name.into(),
                arg,
                at: fstart,
            })));
        }
        if let Some(t) = Transformer::from_name(w) {
            return Ok(Some(Rhs::Field(self.transformed(t, start)?)));
        }
        self.i = start;
        Ok(None)
    }

    fn bare(&mut self) -> R<String> {
        let start = self.i;
        while self.peek().is_some_and(is_bare) {
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("expected a value"));
        }
        Ok(self.s[start..self.i].to_string())
    }

    fn quoted(&mut self, q: u8) -> R<String> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.i = start;
                return Err(self.err("unterminated quoted string"));
            };
            if c == q {
                self.i += 1;
                return Ok(out);
            }
            if c == b'\\' {
                match self.b.get(self.i + 1) {
                    Some(&e) if e == q || e == b'\\' => {
                        out.push(e as char);
                        self.i += 2;
                        continue;
                    }
                    _ => {}
                }
            }
            // Copy one UTF-8 character.
            let ch_len = self.s[self.i..]
                .chars()
                .next()
                .map(char::len_utf8)
                .unwrap_or(1);
            out.push_str(&self.s[self.i..self.i + ch_len]);
            self.i += ch_len;
        }
    }

    fn list_value(&mut self) -> R<Rhs> {
        self.ws();
        match self.peek() {
            Some(b'(') => Ok(Rhs::List(self.list_items()?)),
            Some(c) if is_ident_start(c) => {
                if let Some(rhs) = self.field_rhs()? {
                    return Ok(rhs);
                }
                let start = self.i;
                let w = self.bare()?;
                if w.bytes().all(is_ident) {
                    Ok(Rhs::ListName(w))
                } else {
                    self.i = start;
                    Err(self.err("expected a list: '(a, b)' or a list name"))
                }
            }
            _ => Err(self.err("expected a list: '(a, b)' or a list name")),
        }
    }

    fn list_items(&mut self) -> R<Vec<ListItem>> {
        if self.peek() != Some(b'(') {
            return Err(self.err("expected '('"));
        }
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b')') {
            self.i += 1;
            return Ok(items);
        }
        loop {
            self.ws();
            let item = match self.peek() {
                Some(q @ (b'"' | b'\'')) => ListItem {
                    text: self.quoted(q)?,
                    bare: false,
                },
                Some(_) => ListItem {
                    text: self.bare()?,
                    bare: true,
                },
                None => return Err(self.err("unterminated list")),
            };
            items.push(item);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    return Ok(items);
                }
                _ => return Err(self.err("expected ',' or ')' in list")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: &Expr) -> &Check {
        match e {
            Expr::Check(c) => c,
            other => panic!("not a check: {other:?}"),
        }
    }

    #[test]
    fn precedence_is_or_and_not() {
        // a or b and not c  ==  a or (b and (not c))
        let e = parse("ma or mb and not mc").unwrap();
        let Expr::Or(items) = e else { panic!() };
        assert_eq!(
            items[0],
            Expr::Macro {
                name: "ma".into(),
                at: 0
            }
        );
        let Expr::And(rest) = &items[1] else { panic!() };
        assert!(matches!(&rest[1], Expr::Not(inner) if matches!(**inner, Expr::Macro { .. })));
    }

    #[test]
    fn parses_operators_values_and_args() {
        let e =
            parse("json.value[/a/b]=\"x y\" and ct.name in (A, 'B', lst) and evt.dir=<").unwrap();
        let Expr::And(items) = e else { panic!() };
        let c = check(&items[0]);
        assert_eq!(c.lhs.arg.as_deref(), Some("/a/b"));
        assert_eq!(
            c.rhs,
            Rhs::Value {
                text: "x y".into(),
                bare: false
            }
        );
        let c = check(&items[1]);
        let Rhs::List(l) = &c.rhs else { panic!() };
        assert_eq!(l.len(), 3);
        assert!(!l[1].bare && l[2].bare);
        assert_eq!(
            check(&items[2]).rhs,
            Rhs::Value {
                text: "<".into(),
                bare: true
            }
        );
    }

    #[test]
    fn parses_modifiers_transformers_and_val() {
        let c = parse("tolower(basename(proc.exe)) startswith anyof (a, b)").unwrap();
        let c = check(&c);
        assert_eq!(
            c.lhs.transformers,
            vec![Transformer::ToLower, Transformer::Basename]
        );
        assert_eq!(c.modifier, Some(ListModifier::Any));
        let c = parse("ct.user != val(ct.request.username)").unwrap();
        assert!(matches!(&check(&c).rhs, Rhs::Field(o) if o.field == "ct.request.username"));
        let c = parse("proc.name in shell_binaries").unwrap();
        assert_eq!(check(&c).rhs, Rhs::ListName("shell_binaries".into()));
        let c = parse("not(ct.error exists)").unwrap();
        assert!(matches!(c, Expr::Not(_)));
        let c = parse("a.b='it\\'s'").unwrap();
        assert_eq!(
            check(&c).rhs,
            Rhs::Value {
                text: "it's".into(),
                bare: false
            }
        );
    }

    #[test]
    fn errors_name_the_offset() {
        let e = parse("ct.name = ").unwrap_err();
        assert_eq!(e.at, 10);
        let e = parse("ct.name foo x").unwrap_err();
        assert!(e.message.contains("expected an operator"), "{e:?}");
        assert_eq!(e.at, 8);
        assert!(parse("(ct.name = a").unwrap_err().message.contains("')'"));
        assert!(parse("ct.name in (a, b").is_err());
        assert!(parse("ct.name = 'abc")
            .unwrap_err()
            .message
            .contains("unterminated"));
        assert!(parse("and x").is_err());
        assert!(parse("").is_err());
        assert!(parse("ct.name = a b.c = d")
            .unwrap_err()
            .message
            .contains("unexpected"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let s = format!("{}a.b exists{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&s).unwrap_err().message.contains("nested deeper"));
        let s = format!("{}a.b exists", "not ".repeat(100_000));
        assert!(parse(&s).is_err());
    }
}
