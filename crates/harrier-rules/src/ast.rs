//! The condition tree rule languages parse into, before fields, macros and lists are resolved.

/// A boolean condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All must hold.
    And(Vec<Expr>),
    /// One must hold.
    Or(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// A macro reference; `at` is the byte offset in the condition text.
    Macro {
        /// Macro name.
        name: String,
        /// Offset in the condition.
        at: usize,
    },
    /// A field test.
    Check(Box<Check>),
    /// Constant.
    Bool(bool),
}

/// `operand op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Left-hand side.
    pub lhs: Operand,
    /// Operator.
    pub op: Op,
    /// `oneof`/`anyof`/`allof` after a string operator.
    pub modifier: Option<ListModifier>,
    /// Right-hand side.
    pub rhs: Rhs,
    /// Offset of the check in the condition text.
    pub at: usize,
}

/// A field, possibly wrapped in transformers: `tolower(basename(proc.exe))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operand {
    /// Transformers, outermost first.
    pub transformers: Vec<Transformer>,
    /// Field name.
    pub field: String,
    /// Field argument (between brackets).
    pub arg: Option<String>,
    /// Offset in the condition text.
    pub at: usize,
}

/// A value transformer applied to a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformer {
    /// ASCII lower case.
    ToLower,
    /// ASCII upper case.
    ToUpper,
    /// Base64 decode.
    B64,
    /// Last path component.
    Basename,
    /// Length in bytes (or items of a list).
    Len,
}

impl Transformer {
    /// Parses a transformer name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "tolower" => Transformer::ToLower,
            "toupper" => Transformer::ToUpper,
            "b64" => Transformer::B64,
            "basename" => Transformer::Basename,
            "len" => Transformer::Len,
            _ => return None,
        })
    }
}

/// Comparison operators of the Falco language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    Exists,
    In,
    Intersects,
    Pmatch,
}

impl Op {
    /// The operator as written in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::Exists => "exists",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
        }
    }

    /// Word operators, longest first where one is a prefix of another.
    pub const WORDS: [Op; 13] = [
        Op::Contains,
        Op::IContains,
        Op::BContains,
        Op::StartsWith,
        Op::BStartsWith,
        Op::EndsWith,
        Op::Glob,
        Op::IGlob,
        Op::Regex,
        Op::Exists,
        Op::Intersects,
        Op::In,
        Op::Pmatch,
    ];

    /// Parses an operator as written (`=`, `==`, `contains`, ...).
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return Op::WORDS.into_iter().find(|o| o.as_str() == s),
        })
    }

    /// Whether the operator takes a list on its right.
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }

    /// Whether `oneof`/`anyof`/`allof` may follow it.
    pub fn takes_modifier(self) -> bool {
        matches!(
            self,
            Op::Eq
                | Op::Ne
                | Op::Contains
                | Op::IContains
                | Op::BContains
                | Op::StartsWith
                | Op::BStartsWith
                | Op::EndsWith
                | Op::Glob
                | Op::IGlob
                | Op::Regex
        )
    }
}

/// `oneof`, `anyof` (any value matches) and `allof` (every value matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListModifier {
    /// Any value matches (`oneof` and `anyof`).
    Any,
    /// Every value matches.
    All,
}

/// The right-hand side of a check.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    /// Nothing (`exists`).
    None,
    /// One value; `bare` when unquoted (a bare value may name a list).
    Value {
        /// The text.
        text: String,
        /// Unquoted.
        bare: bool,
    },
    /// A parenthesised list; a bare item may name a list to splice in.
    List(Vec<ListItem>),
    /// A bare identifier where a list is expected: a list name.
    ListName(String),
    /// Another field (`val(field)` or a transformer).
    Field(Operand),
}

/// An item of a parenthesised list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    /// The text.
    pub text: String,
    /// Unquoted.
    pub bare: bool,
}
