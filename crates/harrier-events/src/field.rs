//! Field tables: the names a rule can read from an event of a given source, their types and how
//! they are extracted.

use std::borrow::Cow;
use std::fmt;

/// The type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Text.
    String,
    /// An unsigned 64-bit number.
    U64,
    /// A list of strings (only `exists`, `in` and `intersects` apply).
    StringList,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::String => "string",
            FieldType::U64 => "uint64",
            FieldType::StringList => "list of strings",
        })
    }
}

/// What argument a field takes between brackets, as in `json.value[/a/b]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSpec {
    /// No argument.
    None,
    /// An optional non-negative index (`ec2.imageids[0]`).
    OptionalIndex,
    /// A required JSON pointer (`json.value[/requestParameters/name]`).
    RequiredPointer,
    /// A required dotted path (`json.path[requestParameters.bucketName]`).
    RequiredPath,
    /// A required free-form key (`ka.uri.param[command]`).
    RequiredKey,
    /// An optional free-form key (`proc.env[HOME]`, or `proc.env` for all).
    OptionalKey,
}

/// How a field's value is read from the event JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extract {
    /// A string at this object path; absent if missing or not a string.
    Str(&'static [&'static str]),
    /// The value at this path as compact JSON text (strings unquoted).
    Json(&'static [&'static str]),
    /// A boolean at this path as `"true"`/`"false"`.
    Bool(&'static [&'static str]),
    /// Computed by the source's own code; the number identifies the computation.
    Special(u16),
}

/// One field of a source's table.
#[derive(Debug, Clone, Copy)]
pub struct FieldInfo {
    /// Full name, e.g. `ct.user`.
    pub name: &'static str,
    /// Type of the value.
    pub ty: FieldType,
    /// Argument the field takes.
    pub arg: ArgSpec,
    /// How it is extracted.
    pub extract: Extract,
    /// One-line description.
    pub desc: &'static str,
}

/// A source of events and its field table.
#[derive(Debug)]
pub struct SourceInfo {
    /// The source name used in rules (`source: aws_cloudtrail`).
    pub name: &'static str,
    /// Every field events of this source expose.
    pub fields: &'static [FieldInfo],
    /// The field naming the kind of event (e.g. `ct.name`); rules are indexed by its values.
    pub type_field: Option<&'static str>,
    /// The JSON member the type field reads (`eventName`), so that generic path fields over it
    /// (Sigma's `eventName`) use the same index.
    pub type_path: Option<&'static [&'static str]>,
    /// A second field rules are indexed by when their condition does not pin the type (the
    /// CloudTrail identity type: `userIdentity.type = Root`), with the JSON member it reads.
    pub second_field: Option<(&'static str, &'static [&'static str])>,
    /// Field names this source's upstream (Falco) has but Harrier does not fill yet: a rule
    /// naming one is loaded but not run, and reported with the field (any other unknown name
    /// is an error).
    pub missing: &'static [&'static str],
}

/// A field resolved against a source's table, with its parsed argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// Index into the source's field table.
    pub id: u16,
    /// Parsed argument.
    pub arg: FieldArg,
}

/// A field argument after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldArg {
    /// No argument.
    None,
    /// A list index.
    Index(usize),
    /// A JSON pointer split into unescaped tokens.
    Pointer(Vec<String>),
    /// A dotted path split at the dots.
    Path(Vec<String>),
    /// A free-form key.
    Key(String),
}

/// Why a field name could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// No such field in this source.
    #[error("unknown field '{field}' for source '{source_name}'")]
    Unknown {
        /// The field as written.
        field: String,
        /// The source searched.
        source_name: String,
    },
    /// The field needs an argument that was not given.
    #[error("field '{0}' requires an argument, e.g. '{0}[/path/to/key]'")]
    MissingArg(String),
    /// An argument was given to a field that takes none.
    #[error("field '{0}' does not take an argument")]
    UnexpectedArg(String),
    /// The argument is not of the expected form.
    #[error("bad argument '{arg}' for field '{field}': {why}")]
    BadArg {
        /// The field.
        field: String,
        /// The argument as written.
        arg: String,
        /// What was expected.
        why: &'static str,
    },
}

impl FieldInfo {
    /// A string field read as JSON text at `path` (strings unescaped).
    pub const fn json(
        name: &'static str,
        path: &'static [&'static str],
        desc: &'static str,
    ) -> Self {
        FieldInfo {
            name,
            ty: FieldType::String,
            arg: ArgSpec::None,
            extract: Extract::Json(path),
            desc,
        }
    }

    /// A field computed by its source's code `code`.
    pub const fn special(
        name: &'static str,
        ty: FieldType,
        arg: ArgSpec,
        code: u16,
        desc: &'static str,
    ) -> Self {
        FieldInfo {
            name,
            ty,
            arg,
            extract: Extract::Special(code),
            desc,
        }
    }
}

impl SourceInfo {
    /// Looks a field up by name.
    pub fn field(&self, name: &str) -> Option<(u16, &'static FieldInfo)> {
        self.fields
            .iter()
            .position(|f| f.name == name)
            .map(|i| (i as u16, &self.fields[i]))
    }

    /// The field with index `id`.
    pub fn info(&self, id: u16) -> &'static FieldInfo {
        &self.fields[id as usize]
    }

    /// Resolves `name[arg]` against this table.
    pub fn resolve(&self, name: &str, arg: Option<&str>) -> Result<FieldRef, FieldError> {
        let (id, info) = self.field(name).ok_or_else(|| FieldError::Unknown {
            field: name.to_string(),
            source_name: self.name.to_string(),
        })?;
        let arg = match (info.arg, arg) {
            (ArgSpec::None, None)
            | (ArgSpec::OptionalIndex, None)
            | (ArgSpec::OptionalKey, None) => FieldArg::None,
            (ArgSpec::OptionalKey, Some(a)) => FieldArg::Key(a.to_string()),
            (ArgSpec::None, Some(_)) => return Err(FieldError::UnexpectedArg(name.into())),
            (ArgSpec::RequiredKey, Some(a)) => FieldArg::Key(a.to_string()),
            (ArgSpec::RequiredPointer | ArgSpec::RequiredPath | ArgSpec::RequiredKey, None) => {
                return Err(FieldError::MissingArg(name.into()))
            }
            (ArgSpec::RequiredPath, Some(a)) => {
                let parts: Vec<String> = a.split('.').map(str::to_string).collect();
                if parts.iter().any(String::is_empty) {
                    return Err(FieldError::BadArg {
                        field: name.into(),
                        arg: a.into(),
                        why: "expected a dotted path such as requestParameters.bucketName",
                    });
                }
                FieldArg::Path(parts)
            }
            (ArgSpec::OptionalIndex, Some(a)) => {
                FieldArg::Index(a.trim().parse().map_err(|_| FieldError::BadArg {
                    field: name.into(),
                    arg: a.into(),
                    why: "expected a non-negative index",
                })?)
            }
            (ArgSpec::RequiredPointer, Some(a)) => {
                FieldArg::Pointer(parse_pointer(a).ok_or_else(|| FieldError::BadArg {
                    field: name.into(),
                    arg: a.into(),
                    why: "expected a JSON pointer starting with '/'",
                })?)
            }
        };
        Ok(FieldRef { id, arg })
    }
}

/// Splits an RFC 6901 JSON pointer into unescaped tokens. `""` is the whole document.
pub fn parse_pointer(p: &str) -> Option<Vec<String>> {
    if p.is_empty() {
        return Some(Vec::new());
    }
    let rest = p.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// A field value extracted from an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// Text, borrowed from the event when possible.
    Str(Cow<'a, str>),
    /// A number.
    U64(u64),
    /// A list of strings.
    List(Vec<Cow<'a, str>>),
    /// Every value found along a dotted path, in document order; `None` stands for a JSON
    /// `null`. Scalars are their text, objects their compact JSON.
    Multi(Vec<Option<Cow<'a, str>>>),
}

impl Value<'_> {
    /// The value as text, if it is a single string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::U64(n) => write!(f, "{n}"),
            Value::Multi(items) => {
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(it.as_deref().unwrap_or("null"))?;
                }
                Ok(())
            }
            Value::List(items) => {
                f.write_str("(")?;
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(it)?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Fields every source has (`evt.*`). Sources include these in their tables.
pub mod common {
    use super::*;

    /// `evt.num`: the event's sequence number in this run.
    pub const NUM: u16 = 1000;
    /// `evt.time`: event time as ISO 8601 with nanoseconds.
    pub const TIME: u16 = 1001;
    /// `evt.time.iso8601`.
    pub const TIME_ISO: u16 = 1002;
    /// `evt.datetime`.
    pub const DATETIME: u16 = 1003;
    /// `evt.rawtime`: nanoseconds since the epoch.
    pub const RAWTIME: u16 = 1004;
    /// `evt.source`.
    pub const SOURCE: u16 = 1005;
    /// `evt.plugininfo`: the source's one-line summary of the event.
    pub const INFO: u16 = 1006;

    /// The `evt.*` entries, to be appended to each source's table.
    pub const FIELDS: [FieldInfo; 7] = [
        f(
            "evt.num",
            FieldType::U64,
            NUM,
            "sequence number of the event in this run",
        ),
        f(
            "evt.time",
            FieldType::String,
            TIME,
            "event time, ISO 8601 with nanoseconds",
        ),
        f(
            "evt.time.iso8601",
            FieldType::String,
            TIME_ISO,
            "event time, ISO 8601",
        ),
        f(
            "evt.datetime",
            FieldType::String,
            DATETIME,
            "event time, YYYY-MM-DD HH:MM:SS",
        ),
        f(
            "evt.rawtime",
            FieldType::U64,
            RAWTIME,
            "event time in nanoseconds since the epoch",
        ),
        f(
            "evt.source",
            FieldType::String,
            SOURCE,
            "name of the event source",
        ),
        f(
            "evt.plugininfo",
            FieldType::String,
            INFO,
            "one-line summary of the event",
        ),
    ];

    /// The value of a common field (`evt.num`, `evt.time`...) for an event numbered `num` with
    /// time `ts` (ns) from `source`; `None` for other codes (and for `evt.plugininfo`, which
    /// each source computes), or when the event has no time.
    pub fn value(
        code: u16,
        num: u64,
        ts: Option<i64>,
        source: &'static str,
    ) -> Option<Value<'static>> {
        match code {
            NUM => Some(Value::U64(num)),
            RAWTIME => ts.map(|t| Value::U64(t.max(0) as u64)),
            TIME | TIME_ISO => ts.map(|t| Value::Str(Cow::Owned(crate::time::format_iso8601(t)))),
            DATETIME => ts.map(|t| Value::Str(Cow::Owned(crate::time::format_datetime(t)))),
            SOURCE => Some(Value::Str(Cow::Borrowed(source))),
            _ => None,
        }
    }

    const fn f(name: &'static str, ty: FieldType, code: u16, desc: &'static str) -> FieldInfo {
        FieldInfo {
            name,
            ty,
            arg: ArgSpec::None,
            extract: Extract::Special(code),
            desc,
        }
    }
}
