//! Sigma condition expressions: `selection and not 1 of filter_*`, `all of them`, parentheses.

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// All hold.
    And(Vec<Cond>),
    /// One holds.
    Or(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
    /// A search identifier.
    Ident(String),
    /// `1 of pattern` (`any` true) or `all of pattern`; pattern `them` is every identifier.
    Of {
        /// `1 of` / `any of` (true) or `all of` (false).
        any: bool,
        /// Identifier pattern with `*` wildcards, or `them`.
        pattern: String,
    },
}

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 100;

/// Parses a condition. Aggregations (`| count() > 5`) are reported as unsupported.
pub fn parse(text: &str) -> Result<Cond, String> {
    if let Some(i) = text.find('|') {
        return Err(format!(
            "aggregation '{}' (Sigma 1.0 '| count()' syntax) is not supported: write it as a correlation rule",
            text[i..].trim()
        ));
    }
    let tokens = tokenize(text)?;
    let mut p = P {
        t: tokens,
        i: 0,
        depth: 0,
    };
    let c = p.or()?;
    if p.i < p.t.len() {
        return Err(format!("unexpected '{}' in condition", p.t[p.i]));
    }
    Ok(c)
}

fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' | ')' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c if c.is_alphanumeric() || matches!(c, '_' | '*' | '-' | '.') => cur.push(c),
            other => return Err(format!("unexpected character '{other}' in condition")),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    if out.is_empty() {
        return Err("empty condition".into());
    }
    Ok(out)
}

struct P {
    t: Vec<String>,
    i: usize,
    depth: usize,
}

impl P {
    fn peek_kw(&self, kw: &str) -> bool {
        self.t
            .get(self.i)
            .is_some_and(|t| t.eq_ignore_ascii_case(kw))
    }

    fn or(&mut self) -> Result<Cond, String> {
        let mut items = vec![self.and()?];
        while self.peek_kw("or") {
            self.i += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut items = vec![self.not()?];
        while self.peek_kw("and") {
            self.i += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::And(items)
        })
    }

    fn not(&mut self) -> Result<Cond, String> {
        if self.peek_kw("not") {
            self.i += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err("condition nested too deeply".into());
            }
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Cond::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, String> {
        let Some(tok) = self.t.get(self.i).cloned() else {
            return Err("condition ends where a search identifier was expected".into());
        };
        self.i += 1;
        match tok.to_ascii_lowercase().as_str() {
            "(" => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err("condition nested too deeply".into());
                }
                let c = self.or()?;
                self.depth -= 1;
                if self.t.get(self.i).map(String::as_str) != Some(")") {
                    return Err("expected ')' in condition".into());
                }
                self.i += 1;
                Ok(c)
            }
            "1" | "any" | "all" => {
                if !self.peek_kw("of") {
                    return Err(format!("expected 'of' after '{tok}'"));
                }
                self.i += 1;
                let pattern = self
                    .t
                    .get(self.i)
                    .cloned()
                    .ok_or("expected a pattern after 'of'")?;
                self.i += 1;
                Ok(Cond::Of {
                    any: tok != "all",
                    pattern,
                })
            }
            ")" | "and" | "or" | "of" => Err(format!("unexpected '{tok}' in condition")),
            _ => Ok(Cond::Ident(tok)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sigma_conditions() {
        assert_eq!(parse("selection").unwrap(), Cond::Ident("selection".into()));
        let c = parse("selection and not 1 of filter_main_*").unwrap();
        assert_eq!(
            c,
            Cond::And(vec![
                Cond::Ident("selection".into()),
                Cond::Not(Box::new(Cond::Of {
                    any: true,
                    pattern: "filter_main_*".into()
                }))
            ])
        );
        let c = parse("all of them or (a and b)").unwrap();
        assert!(matches!(c, Cond::Or(ref v) if v.len() == 2));
        assert!(parse("selection | count() > 5")
            .unwrap_err()
            .contains("aggregation"));
        assert!(parse("(a and b").is_err());
        assert!(parse("a and").is_err());
        assert!(parse("1 x").is_err());
    }
}
