//! Runtime events from Harrier's kernel sensor: the `syscall` source, with Falco's syscall
//! field names.
//!
//! An event is one JSON object the sensor writes (and `harrier detect` can read back):
//!
//! ```json
//! {"source":"syscall","ts":1732590000000000000,"id":"1732590000000000000-4242",
//!  "hostname":"node-1",
//!  "evt":{"type":"openat","res":"SUCCESS","rawres":3,"is_open_write":true,
//!         "args":{"name":"/etc/ld.so.preload","flags":"O_WRONLY|O_CREAT|O_TRUNC"}},
//!  "proc":{"pid":4242,"tid":4242,"vpid":7,"ppid":4200,"name":"bash","exe":"bash",
//!          "exepath":"/usr/bin/bash","args":["-i"],"cwd":"/root/","tty":34816,
//!          "ancestors":[{"name":"runc","exepath":"/usr/bin/runc","pid":4200,"args":[]}],
//!          "env":{"LD_PRELOAD":"/tmp/x.so"},"is_exe_upper_layer":false},
//!  "user":{"uid":0,"name":"root","loginuid":4294967295},"group":{"gid":0,"name":"root"},
//!  "fd":{"num":3,"name":"/etc/ld.so.preload","type":"file","typechar":"f",
//!        "directory":"/etc","filename":"ld.so.preload"},
//!  "container":{"id":"3f2a6b1c9d0e","name":"nginx"},
//!  "k8s":{"pod":{"name":"web-1","uid":"..."},"ns":{"name":"prod"}}}
//! ```
//!
//! `proc.ancestors` starts at the parent. Every number is a JSON number.

mod fields;

use std::borrow::Cow;
use std::ops::Range;

use crate::event::Event;
use crate::field::{common, Extract, FieldArg, FieldRef, SourceInfo, Value};
use crate::json::{self, JsonError, Kind};
use crate::lazy::{Record, Scratch};
use fields::*;
pub use fields::{ALL as FIELDS, MISSING};

/// The `syscall` source.
pub static SOURCE: SourceInfo = SourceInfo {
    name: "syscall",
    fields: &fields::ALL,
    type_field: Some("evt.type"),
    type_path: Some(&["evt", "type"]),
    second_field: None,
    missing: fields::MISSING,
};

/// Whether a record is a sensor event (`"source": "syscall"`).
pub fn is_syscall(rec: &Record<'_>) -> bool {
    rec.str_at(&["source"]).as_deref() == Some("syscall")
}

/// One sensor event, read lazily.
pub struct SyscallEvent<'a> {
    rec: Record<'a>,
    num: u64,
}

impl<'a> std::ops::Deref for SyscallEvent<'a> {
    type Target = Record<'a>;
    fn deref(&self) -> &Record<'a> {
        &self.rec
    }
}

impl<'a> SyscallEvent<'a> {
    /// Wraps the bytes of one event. `num` is its sequence number in the run.
    pub fn new(buf: &'a [u8], num: u64, scratch: &'a Scratch) -> Self {
        SyscallEvent {
            rec: Record::new(buf, scratch),
            num,
        }
    }

    /// Wraps a record already recognised as a sensor event.
    pub fn from_record(rec: Record<'a>, num: u64) -> Self {
        SyscallEvent { rec, num }
    }

    fn text(&self, r: Range<usize>) -> Option<Cow<'a, str>> {
        self.ok(json::value_text(self.buf, r))
    }

    fn elements(&self, r: Range<usize>) -> Vec<Range<usize>> {
        if json::kind_at(self.buf, r.start) != Kind::Array {
            return Vec::new();
        }
        json::Elements::new(self.buf, r.start)
            .filter_map(|e| self.ok(e))
            .collect()
    }

    fn member(&self, obj: &Range<usize>, key: &str) -> Option<Range<usize>> {
        if json::kind_at(self.buf, obj.start) != Kind::Object {
            return None;
        }
        self.member_of(obj.start, key)
    }

    /// `name` followed by the strings of the array `args`, space separated.
    fn joined(&self, name: Option<Cow<'a, str>>, args: Option<Range<usize>>) -> String {
        let mut out = name.map(Cow::into_owned).unwrap_or_default();
        for a in args.map(|r| self.elements(r)).unwrap_or_default() {
            if let Some(t) = self.text(a) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&t);
            }
        }
        out
    }

    fn ancestors(&self) -> Vec<Range<usize>> {
        self.path(&["proc", "ancestors"])
            .map(|r| self.elements(r))
            .unwrap_or_default()
    }

    /// Member `key` of the process itself (level 0) or of ancestor `level - 1`, as text.
    fn level(&self, level: usize, key: &str) -> Option<Cow<'a, str>> {
        if level == 0 {
            if key == "cmdline" {
                return Some(Cow::Owned(self.joined(
                    self.str_at(&["proc", "name"]),
                    self.path(&["proc", "args"]),
                )));
            }
            return self.json_at(&["proc", key]);
        }
        let a = self.ancestors().get(level - 1)?.clone();
        if key == "cmdline" {
            let name = self.member(&a, "name").and_then(|r| self.text(r));
            return Some(Cow::Owned(self.joined(name, self.member(&a, "args"))));
        }
        self.text(self.member(&a, key)?)
    }

    /// `proc.aname` and friends: `[N]` is level N; without index every ancestor.
    fn by_level(&self, key: &str, arg: &FieldArg) -> Option<Value<'a>> {
        match arg {
            FieldArg::Index(i) => self.level(*i, key).map(Value::Str),
            _ => {
                let n = self.ancestors().len();
                let all: Vec<Cow<'a, str>> = (1..=n).filter_map(|l| self.level(l, key)).collect();
                (!all.is_empty()).then_some(Value::List(all))
            }
        }
    }

    /// The members of the object at `path` as `name=value`, space separated.
    fn pairs_text(&self, path: &[&str]) -> Option<String> {
        let r = self.path(path)?;
        if json::kind_at(self.buf, r.start) != Kind::Object {
            return None;
        }
        let mut out = String::new();
        for m in json::Members::new(self.buf, r.start).filter_map(|m| self.ok(m)) {
            let key = String::from_utf8_lossy(&self.buf[m.key.clone()]);
            let v = self.text(m.value.clone())?;
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&key);
            out.push('=');
            out.push_str(&v);
        }
        Some(out)
    }

    fn special(&self, code: u16, arg: &FieldArg) -> Option<Value<'a>> {
        let owned = |s: String| Some(Value::Str(Cow::Owned(s)));
        match code {
            ARGS => self.pairs_text(&["evt", "args"]).and_then(owned),
            DIR => Some(Value::Str(Cow::Borrowed("<"))),
            CMDLINE => self.level(0, "cmdline").map(Value::Str),
            PROC_ARGS => owned(self.joined(None, self.path(&["proc", "args"]))),
            PNAME => self.level(1, "name").map(Value::Str),
            PEXE => self.level(1, "exe").map(Value::Str),
            PEXEPATH => self.level(1, "exepath").map(Value::Str),
            PCMDLINE => self.level(1, "cmdline").map(Value::Str),
            ANAME => self.by_level("name", arg),
            AEXEPATH => self.by_level("exepath", arg),
            AEXE => self.by_level("exe", arg),
            APID => self.by_level("pid", arg),
            ACMDLINE => self.by_level("cmdline", arg),
            ENV => match arg {
                FieldArg::Key(k) => self.str_at(&["proc", "env", k]).map(Value::Str),
                _ => self.pairs_text(&["proc", "env"]).and_then(owned),
            },
            common::NUM
            | common::RAWTIME
            | common::TIME
            | common::TIME_ISO
            | common::DATETIME
            | common::SOURCE => common::value(code, self.num, self.timestamp_ns(), SOURCE.name),
            common::INFO => {
                let ty = self.str_at(&["evt", "type"]).unwrap_or(Cow::Borrowed("?"));
                let name = self.str_at(&["proc", "name"]).unwrap_or(Cow::Borrowed("?"));
                let pid = self.json_at(&["proc", "pid"]).unwrap_or(Cow::Borrowed("?"));
                owned(format!("{ty} by {name} (pid {pid})"))
            }
            _ => None,
        }
    }
}

impl Event for SyscallEvent<'_> {
    fn raw(&self) -> &[u8] {
        self.rec.bytes()
    }

    fn source(&self) -> &'static SourceInfo {
        &SOURCE
    }

    fn extract(&self, field: &FieldRef) -> Option<Value<'_>> {
        match fields::ALL[field.id as usize].extract {
            Extract::Json(p) => self.json_at(p).map(Value::Str),
            Extract::Str(p) => self.str_at(p).map(Value::Str),
            Extract::Bool(p) => self
                .bool_at(p)
                .map(|v| Value::Str(Cow::Borrowed(if v { "true" } else { "false" }))),
            Extract::Special(code) => self.special(code, &field.arg),
        }
    }

    fn type_key(&self) -> Option<Cow<'_, str>> {
        self.str_at(&["evt", "type"])
    }

    fn timestamp_ns(&self) -> Option<i64> {
        self.u64_at(&["ts"]).map(|t| t.min(i64::MAX as u64) as i64)
    }

    fn event_id(&self) -> Option<Cow<'_, str>> {
        self.str_at(&["id"])
    }

    fn error(&self) -> Option<JsonError> {
        self.rec.error()
    }

    fn validate(&self) -> Option<JsonError> {
        self.rec.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EV: &str = r#"{"source":"syscall","ts":5,"id":"5-9","evt":{"type":"execve","res":"SUCCESS","rawres":0,"args":{"filename":"/tmp/xmrig"}},
        "proc":{"pid":9,"vpid":1,"name":"xmrig","exe":"./xmrig","exepath":"/tmp/xmrig","args":["-o","stratum+tcp://pool:3333"],
        "ancestors":[{"name":"bash","exepath":"/bin/bash","pid":8,"args":["-i"]},{"name":"runc","pid":2,"args":[]}],"env":{"LD_PRELOAD":"/tmp/h.so"}},
        "fd":{"num":-1},"container":{"id":"abc"}}"#;

    fn get(name: &str, arg: Option<&str>) -> Option<String> {
        let scratch = Scratch::default();
        let ev = SyscallEvent::new(EV.as_bytes(), 1, &scratch);
        let f = SOURCE.resolve(name, arg).unwrap();
        ev.extract(&f).map(|v| v.to_string())
    }

    #[test]
    fn process_fields() {
        assert_eq!(get("proc.name", None).as_deref(), Some("xmrig"));
        assert_eq!(
            get("proc.cmdline", None).as_deref(),
            Some("xmrig -o stratum+tcp://pool:3333")
        );
        assert_eq!(
            get("proc.args", None).as_deref(),
            Some("-o stratum+tcp://pool:3333")
        );
        assert_eq!(get("proc.pname", None).as_deref(), Some("bash"));
        assert_eq!(get("proc.pcmdline", None).as_deref(), Some("bash -i"));
        assert_eq!(get("proc.aname", Some("0")).as_deref(), Some("xmrig"));
        assert_eq!(get("proc.aname", Some("2")).as_deref(), Some("runc"));
        assert_eq!(get("proc.aname", Some("3")), None);
        assert_eq!(get("proc.aname", None).as_deref(), Some("(bash,runc)"));
        assert_eq!(get("proc.vpid", None).as_deref(), Some("1"));
        assert_eq!(get("fd.num", None).as_deref(), Some("-1"));
        assert_eq!(
            get("proc.env", Some("LD_PRELOAD")).as_deref(),
            Some("/tmp/h.so")
        );
        assert_eq!(get("proc.env", Some("HOME")), None);
        assert_eq!(
            get("evt.args", None).as_deref(),
            Some("filename=/tmp/xmrig")
        );
        assert_eq!(get("container.id", None).as_deref(), Some("abc"));
        assert_eq!(get("evt.dir", None).as_deref(), Some("<"));
    }

    #[test]
    fn every_field_resolves_and_missing_fields_are_not_in_the_table() {
        for f in SOURCE.fields {
            assert!(!MISSING.contains(&f.name), "{} is both", f.name);
        }
        let mut names: Vec<_> = SOURCE.fields.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SOURCE.fields.len(), "duplicate field names");
    }
}
