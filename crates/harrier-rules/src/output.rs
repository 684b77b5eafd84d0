//! Output templates: `%field` and `%field[arg]` substituted with the event's values, `<NA>` for
//! a missing value.

use harrier_events::Event;

use crate::ast::Operand;
use crate::compile::Compiler;
use crate::matcher::CompiledOperand;

/// A compiled output template.
#[derive(Debug)]
pub struct OutputTemplate {
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Lit(String),
    Field(CompiledOperand),
    /// A field the source knows of but does not fill yet: always `<NA>`.
    Missing(String),
}

/// A rendered output: the message and each field's value (`None` when missing).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered<'r> {
    /// The message.
    pub text: String,
    /// Every field the template names, in order, with its value.
    pub fields: Vec<(&'r str, Option<String>)>,
}

fn is_field_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.'
}

impl OutputTemplate {
    /// Compiles `text`, resolving each field with `compiler`'s source. Errors name the field.
    pub fn compile(text: &str, compiler: &Compiler<'_>) -> Result<Self, String> {
        // Folded YAML scalars (`output: >`) end with a newline that is not part of the message.
        let text = text.trim();
        let b = text.as_bytes();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        let mut last = 0;
        while i < b.len() {
            if b[i] != b'%' {
                i += 1;
                continue;
            }
            lit.push_str(&text[last..i]);
            let start = i + 1;
            let mut j = start;
            while j < b.len() && is_field_char(b[j]) {
                j += 1;
            }
            // A trailing dot ends the sentence, not the field name.
            while j > start && b[j - 1] == b'.' {
                j -= 1;
            }
            let name = &text[start..j];
            if name.is_empty() || !name.contains('.') {
                lit.push('%');
                i += 1;
                last = i;
                continue;
            }
            let mut arg = None;
            if b.get(j) == Some(&b'[') {
                match text[j..].find(']') {
                    Some(k) => {
                        arg = Some(text[j + 1..j + k].to_string());
                        j += k + 1;
                    }
                    None => return Err(format!("output: missing ']' after '%{name}['")),
                }
            }
            let operand = Operand {
                transformers: Vec::new(),
                field: name.to_string(),
                arg,
                at: 0,
            };
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            if compiler.is_missing(name) {
                parts.push(Part::Missing(name.to_string()));
            } else {
                let compiled = compiler
                    .operand(&operand)
                    .map_err(|e| format!("output: {e}"))?;
                parts.push(Part::Field(compiled));
            }
            i = j;
            last = j;
        }
        lit.push_str(&text[last..]);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(OutputTemplate { parts })
    }

    /// Renders the template for an event.
    pub fn render<E: Event + ?Sized>(&self, ev: &E) -> Rendered<'_> {
        let mut r = Rendered::default();
        for p in &self.parts {
            match p {
                Part::Lit(s) => r.text.push_str(s),
                Part::Missing(name) => {
                    r.text.push_str("<NA>");
                    if !r.fields.iter().any(|(n, _)| n == name) {
                        r.fields.push((name.as_str(), None));
                    }
                }
                Part::Field(op) => {
                    let v = op.value(ev).map(|v| v.to_string());
                    r.text.push_str(v.as_deref().unwrap_or("<NA>"));
                    if !r.fields.iter().any(|(n, _)| *n == op.text) {
                        r.fields.push((op.text.as_str(), v));
                    }
                }
            }
        }
        r
    }

    /// The fields the template reads.
    pub fn fields(&self) -> impl Iterator<Item = &CompiledOperand> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(f) => Some(f),
            Part::Lit(_) | Part::Missing(_) => None,
        })
    }
}
