//! A YAML document tree that remembers where each node came from, so that every rule-file error
//! can name its line and column.
//!
//! Aliases are refused (they are never needed in rule files and are the way "billion laughs"
//! inputs blow up), and nesting is limited to [`MAX_DEPTH`].

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted in a rule file.
pub const MAX_DEPTH: usize = 64;

/// A position in a file (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A scalar, with whether it was quoted (quoted scalars are always strings).
    Scalar {
        /// The text.
        value: String,
        /// Whether the scalar was written in quotes or as a block.
        quoted: bool,
        /// Where it starts.
        pos: Pos,
    },
    /// A sequence.
    Seq(Vec<Node>, Pos),
    /// A mapping, in file order.
    Map(Vec<(Node, Node)>, Pos),
}

impl Node {
    /// Where the node starts.
    pub fn pos(&self) -> Pos {
        match self {
            Node::Scalar { pos, .. } | Node::Seq(_, pos) | Node::Map(_, pos) => *pos,
        }
    }

    /// The text of a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Whether the node is a YAML null (`~`, `null` or empty plain scalar).
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { value, quoted: false, .. } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A boolean scalar.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Scalar {
                value,
                quoted: false,
                ..
            } => match value.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// Looks a key up in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries, _) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name for the node's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Scalar { .. } => "a scalar",
            Node::Seq(..) => "a sequence",
            Node::Map(..) => "a mapping",
        }
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
}

struct Builder {
    stack: Vec<(Node, Option<Node>)>,
    docs: Vec<Node>,
    error: Option<YamlError>,
}

fn pos_of(m: Marker) -> Pos {
    Pos {
        line: m.line(),
        col: m.col() + 1,
    }
}

impl Builder {
    fn insert(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some((Node::Seq(items, _), _)) => items.push(node),
            Some((Node::Map(entries, _), pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(k) => entries.push((k, node)),
            },
            Some((Node::Scalar { .. }, _)) => unreachable!("scalars are never containers"),
        }
    }

    fn fail(&mut self, pos: Pos, message: &str) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                pos,
                message: message.to_string(),
            });
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = pos_of(mark);
        match ev {
            Event::Alias(_) => self.fail(pos, "YAML aliases are not allowed in rule files"),
            Event::Scalar(value, style, _, _) => {
                let quoted = style != TScalarStyle::Plain;
                self.insert(Node::Scalar { value, quoted, pos });
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(pos, "YAML nested too deeply");
                    return;
                }
                let node = if matches!(ev, Event::SequenceStart(..)) {
                    Node::Seq(Vec::new(), pos)
                } else {
                    Node::Map(Vec::new(), pos)
                };
                self.stack.push((node, None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((node, _)) = self.stack.pop() {
                    self.insert(node);
                }
            }
            _ => {}
        }
    }
}

/// Most flow-closing lines [`parse`] re-indents in one text.
const MAX_REINDENTS: usize = 10_000;

/// Parses every document of a YAML text.
///
/// Like yaml-cpp (which Falco uses), this accepts a flow collection whose closing `]` or `}`
/// sits at its parent key's indentation, as Falco's own rule files write long lists:
///
/// ```yaml
///   items: [
///     "a",
///   ]
/// ```
///
/// The strict scanner refuses that line; since whitespace before a flow indicator is not
/// significant, the line is re-indented to match the line above it and the text parsed again.
/// Positions stay exact except for the column on such lines.
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut owned: Option<String> = None;
    for _ in 0..MAX_REINDENTS {
        let cur = owned.as_deref().unwrap_or(text);
        match parse_strict(cur) {
            Err(e) if e.message == "invalid indentation" => {
                match reindent_flow_close(cur, e.pos.line) {
                    Some(fixed) => owned = Some(fixed),
                    None => return Err(e),
                }
            }
            r => return r,
        }
    }
    parse_strict(owned.as_deref().unwrap_or(text))
}

/// Re-indents line `line` (1-based) when it starts with a flow-closing indicator.
fn reindent_flow_close(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let idx = line.checked_sub(1)?;
    let target = lines.get(idx)?;
    let trimmed = target.trim_start_matches(' ');
    if !(trimmed.starts_with(']') || trimmed.starts_with('}')) {
        return None;
    }
    let have = target.len() - trimmed.len();
    let prev = lines[..idx].iter().rev().find(|l| !l.trim().is_empty())?;
    let want = prev.len() - prev.trim_start_matches(' ').len();
    if want <= have {
        return None;
    }
    let mut out = String::with_capacity(text.len() + want);
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if i == idx {
            out.push_str(&" ".repeat(want));
            out.push_str(trimmed);
        } else {
            out.push_str(l);
        }
    }
    Some(out)
}

fn parse_strict(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut b = Builder {
        stack: Vec::new(),
        docs: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, true) {
        let m = e.marker();
        return Err(YamlError {
            pos: pos_of(*m),
            message: e.info().to_string(),
        });
    }
    match b.error {
        Some(e) => Err(e),
        None => Ok(b.docs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let docs = parse("- rule: a\n  desc: \"x\"\n").unwrap();
        let item = match &docs[0] {
            Node::Seq(items, _) => &items[0],
            _ => panic!(),
        };
        let desc = item.get("desc").unwrap();
        assert_eq!(desc.pos(), Pos { line: 2, col: 9 });
        assert!(matches!(desc, Node::Scalar { quoted: true, .. }));
    }

    #[test]
    fn refuses_aliases_and_depth() {
        assert!(parse("a: &x [1]\nb: *x\n")
            .unwrap_err()
            .message
            .contains("aliases"));
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&deep).unwrap_err().message.contains("deeply"));
        assert!(parse("a: [1, 2").is_err());
    }

    #[test]
    fn accepts_flow_close_at_parent_indent() {
        let docs =
            parse("- list: l\n  items: [\n    \"a\",\n    \"b\"\n  ]\n- list: m\n  items: [c]\n")
                .unwrap();
        let Node::Seq(items, _) = &docs[0] else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        let Node::Seq(l, _) = items[0].get("items").unwrap() else {
            panic!()
        };
        assert_eq!(l.len(), 2);
        assert_eq!(items[1].pos().line, 6);
    }
}
