//! Kubernetes audit events: the `k8s_audit` source with the fields of Falco's k8saudit plugin.
//!
//! An event is one `audit.k8s.io` `Event` object (v1 or v1beta1; `EventList` items are split by
//! the reader). Every field is a string; list fields give one value per container, volume,
//! subject or rule. A record without `auditID` has no `ka.*` field at all, as in the plugin.
//! Where the plugin has known bugs Harrier implements the intended behaviour (docs/fields.md):
//! `ka.sourceips` reads the request's `sourceIPs`, and `eff_run_as_user`/`eff_run_as_group` read
//! the container's `securityContext`, then the pod's.

mod fields;

use std::borrow::Cow;
use std::ops::Range;

use crate::event::Event;
use crate::field::{common, Extract, FieldArg, FieldRef, SourceInfo, Value};
use crate::json::{self, JsonError, Kind};
use crate::lazy::{Record, Scratch};
use crate::time;
use fields::*;
pub use fields::{FIELDS, SOURCE};

/// One Kubernetes audit event, read lazily.
pub struct K8sAuditEvent<'a> {
    rec: Record<'a>,
    num: u64,
}

impl<'a> std::ops::Deref for K8sAuditEvent<'a> {
    type Target = Record<'a>;
    fn deref(&self) -> &Record<'a> {
        &self.rec
    }
}

const RO: &str = "requestObject";
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// The repository part of an image reference, as the plugin computes it: cut at the first `:`,
/// then at the first `@`.
pub fn image_repository(image: &str) -> &str {
    let a = image.split(':').next().unwrap_or(image);
    a.split('@').next().unwrap_or(a)
}

/// The tag of an image reference: `latest` when none is given (as the runtime assumes),
/// `digest` when it is pinned by digest.
pub fn image_tag(image: &str) -> &str {
    if image.contains('@') {
        return "digest";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) if !tag.is_empty() => tag,
        _ => "latest",
    }
}

/// Percent-decodes a query component (`+` is a space). `None` on a bad escape.
fn unescape_query(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The first value of query parameter `key` in `uri`; `None` when absent or when the query does
/// not parse (a bad escape or a `;` separator), as Go's `url.ParseQuery` fails there.
pub fn uri_param(uri: &str, key: &str) -> Option<String> {
    let query = uri.split_once('?')?.1;
    let query = query.split_once('#').map(|(q, _)| q).unwrap_or(query);
    let mut found = None;
    for pair in query.split('&') {
        if pair.is_empty() {
            continue;
        }
        if pair.contains(';') {
            return None;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (unescape_query(k)?, unescape_query(v)?);
        if found.is_none() && k == key {
            found = Some(v);
        }
    }
    found
}

impl<'a> K8sAuditEvent<'a> {
    /// Wraps the bytes of one audit event. `num` is its sequence number in the run.
    pub fn new(buf: &'a [u8], num: u64, scratch: &'a Scratch) -> Self {
        K8sAuditEvent {
            rec: Record::new(buf, scratch),
            num,
        }
    }

    /// Wraps a record already indexed (classified) as an audit event.
    pub fn from_record(rec: Record<'a>, num: u64) -> Self {
        K8sAuditEvent { rec, num }
    }

    fn text(&self, r: Range<usize>) -> Option<Cow<'a, str>> {
        self.ok(json::value_text(self.buf, r))
    }

    /// The elements of the array at `path`.
    fn elements(&self, path: &[&str]) -> Option<Vec<Range<usize>>> {
        let r = self.path(path)?;
        if json::kind_at(self.buf, r.start) != Kind::Array {
            return None;
        }
        self.ok(json::Elements::new(self.buf, r.start).collect::<Result<Vec<_>, _>>())
    }

    fn member(&self, obj: &Range<usize>, key: &str) -> Option<Range<usize>> {
        if json::kind_at(self.buf, obj.start) != Kind::Object {
            return None;
        }
        self.member_of(obj.start, key)
    }

    fn member_path(&self, obj: &Range<usize>, keys: &[&str]) -> Option<Range<usize>> {
        let mut cur = obj.clone();
        for k in keys {
            cur = self.member(&cur, k)?;
        }
        Some(cur)
    }

    /// Elements of the array at `path`, or only element `idx`; `None` when missing (or `idx` is
    /// out of range).
    fn selected(&self, path: &[&str], arg: &FieldArg) -> Option<Vec<Range<usize>>> {
        let all = self.elements(path)?;
        match arg {
            FieldArg::Index(i) => Some(vec![all.get(*i)?.clone()]),
            _ => Some(all),
        }
    }

    fn list(values: Vec<Cow<'a, str>>) -> Option<Value<'a>> {
        (!values.is_empty()).then_some(Value::List(values))
    }

    fn strs_of(&self, r: Range<usize>) -> Vec<Cow<'a, str>> {
        if json::kind_at(self.buf, r.start) == Kind::Array {
            json::Elements::new(self.buf, r.start)
                .filter_map(|e| e.ok())
                .filter_map(|e| self.text(e))
                .collect()
        } else {
            self.text(r).into_iter().collect()
        }
    }

    fn subjects(&self, kind: &str, with_ns: bool) -> Option<Value<'a>> {
        let subs = match self.path(&[RO, "subjects"]) {
            None => return None,
            Some(r) if json::kind_at(self.buf, r.start) != Kind::Array => return None,
            Some(_) => self.elements(&[RO, "subjects"])?,
        };
        let mut out = Vec::new();
        for s in subs {
            let (Some(k), Some(n)) = (self.member(&s, "kind"), self.member(&s, "name")) else {
                continue;
            };
            if self.text(k).as_deref() != Some(kind) {
                continue;
            }
            let Some(name) = self.text(n) else { continue };
            if with_ns {
                let Some(ns) = self.member(&s, "namespace").and_then(|r| self.text(r)) else {
                    continue;
                };
                out.push(Cow::Owned(format!("{ns}:{name}")));
            } else {
                out.push(name);
            }
        }
        Self::list(out)
    }

    fn rules_member(&self, key: &str, arg: &FieldArg) -> Option<Value<'a>> {
        let rules = self.selected(&[RO, "rules"], arg)?;
        let mut out = Vec::new();
        for r in rules {
            if let Some(v) = self.member(&r, key) {
                if json::kind_at(self.buf, v.start) == Kind::Array {
                    out.extend(self.strs_of(v));
                }
            }
        }
        Self::list(out)
    }

    fn volumes(&self, keys: &[&str], arg: &FieldArg) -> Option<Value<'a>> {
        let vols = self.selected(&[RO, "spec", "volumes"], arg)?;
        let out = vols
            .iter()
            .filter_map(|v| self.member_path(v, keys))
            .filter_map(|r| self.text(r))
            .collect();
        Self::list(out)
    }

    fn volume_types(&self, arg: &FieldArg) -> Option<Value<'a>> {
        let vols = self.selected(&[RO, "spec", "volumes"], arg)?;
        let mut out = Vec::new();
        for v in vols {
            if json::kind_at(self.buf, v.start) != Kind::Object {
                continue;
            }
            for m in json::Members::new(self.buf, v.start).filter_map(|m| m.ok()) {
                let key = String::from_utf8_lossy(&self.buf[m.key.clone()]).into_owned();
                if key != "name" {
                    out.push(Cow::Owned(key));
                }
            }
        }
        Self::list(out)
    }

    fn hostpath_matches(&self, key: &str) -> Option<Value<'a>> {
        let vols = self.elements(&[RO, "spec", "volumes"])?;
        let hit = vols
            .iter()
            .filter_map(|v| self.member_path(v, &["hostPath", "path"]))
            .filter_map(|r| self.text(r))
            .any(|p| match key.strip_suffix('*') {
                Some(prefix) => p.starts_with(prefix),
                None => p == key,
            });
        Some(Value::Str(Cow::Borrowed(if hit {
            "true"
        } else {
            "false"
        })))
    }

    /// A per-container field: `list` is 0..3 (containers, initContainers, ephemeralContainers).
    fn container_field(&self, list: usize, suffix: u16, arg: &FieldArg) -> Option<Value<'a>> {
        let name = CONTAINER_LISTS[list];
        let cs = self.selected(&[RO, "spec", name], arg)?;
        let strict = |key: &str, repo: bool| -> Option<Value<'a>> {
            let mut out = Vec::new();
            for c in &cs {
                let v = self.text(self.member(c, key)?)?;
                out.push(if repo {
                    Cow::Owned(image_repository(&v).to_string())
                } else {
                    v
                });
            }
            Self::list(out)
        };
        let skip_nil = |keys: &[&str]| -> Option<Value<'a>> {
            Self::list(
                cs.iter()
                    .filter_map(|c| self.member_path(c, keys))
                    .filter_map(|r| self.text(r))
                    .collect(),
            )
        };
        let joined = |key: &str| -> Option<Value<'a>> {
            let mut out = Vec::new();
            for c in &cs {
                let Some(r) = self.member(c, key) else {
                    continue;
                };
                if json::kind_at(self.buf, r.start) != Kind::Array {
                    return None;
                }
                let mut parts = Vec::new();
                for e in json::Elements::new(self.buf, r.start) {
                    let e = self.ok(e)?;
                    if json::kind_at(self.buf, e.start) != Kind::String {
                        return None;
                    }
                    parts.push(self.text(e)?.into_owned());
                }
                out.push(Cow::Owned(parts.join(" ")));
            }
            Self::list(out)
        };
        let effective = |key: &str| -> Option<Value<'a>> {
            let pod = self
                .path(&[RO, "spec", "securityContext", key])
                .and_then(|r| self.text(r));
            let out = cs
                .iter()
                .map(|c| {
                    self.member_path(c, &["securityContext", key])
                        .and_then(|r| self.text(r))
                        .or_else(|| pod.clone())
                        .unwrap_or(Cow::Borrowed("0"))
                })
                .collect();
            Self::list(out)
        };
        match suffix {
            0 => strict("name", false),
            1 => strict("image", false),
            2 => strict("image", true),
            3 => joined("command"),
            4 => joined("args"),
            5 => skip_nil(&["securityContext", "privileged"]),
            6 => skip_nil(&["securityContext", "allowPrivilegeEscalation"]),
            7 => skip_nil(&["securityContext", "readOnlyRootFilesystem"]),
            8 => skip_nil(&["securityContext", "runAsUser"]),
            9 => effective("runAsUser"),
            10 => skip_nil(&["securityContext", "runAsGroup"]),
            11 => effective("runAsGroup"),
            12 => skip_nil(&["securityContext", "procMount"]),
            13 => skip_nil(&["securityContext", "capabilities", "add"]),
            14 => {
                let mut out = Vec::new();
                for c in &cs {
                    let Some(ports) = self.member(c, "ports") else {
                        continue;
                    };
                    if json::kind_at(self.buf, ports.start) != Kind::Array {
                        return None;
                    }
                    for p in json::Elements::new(self.buf, ports.start).filter_map(|p| p.ok()) {
                        if let Some(v) = self
                            .member(&p, "hostPort")
                            .or_else(|| self.member(&p, "containerPort"))
                        {
                            out.extend(self.text(v));
                        }
                    }
                }
                Self::list(out)
            }
            _ => None,
        }
    }

    fn special(&self, code: u16, arg: &FieldArg) -> Option<Value<'a>> {
        let st = |v: Option<Cow<'a, str>>| v.map(Value::Str);
        match code {
            USER_GROUPS => {
                let r = self.path(&["user", "groups"])?;
                if json::kind_at(self.buf, r.start) != Kind::Array {
                    return None;
                }
                Self::list(self.strs_of(r))
            }
            URI_PARAM => {
                let FieldArg::Key(k) = arg else { return None };
                let uri = self.str_at(&["requestURI"])?;
                uri_param(&uri, k).map(|v| Value::Str(Cow::Owned(v)))
            }
            TARGET_POD_NAME => {
                if self.str_at(&["objectRef", "resource"]).as_deref() != Some("pods") {
                    return None;
                }
                if self
                    .str_at(&["objectRef", "subresource"])
                    .is_some_and(|s| !s.is_empty())
                {
                    return None;
                }
                st(self.json_at(&["responseObject", "metadata", "name"]))
            }
            SUBJECTS => Self::list(
                self.elements(&[RO, "subjects"])?
                    .into_iter()
                    .filter_map(|s| self.text(s))
                    .collect(),
            ),
            SUBJECT_USERS => self.subjects("User", false),
            SUBJECT_SAS => self.subjects("ServiceAccount", false),
            SUBJECT_SA_NS => self.subjects("ServiceAccount", true),
            SUBJECT_GROUPS => self.subjects("Group", false),
            HAS_NAME => Some(Value::Str(Cow::Borrowed("true"))),
            C0_IMAGE | C0_REPO => {
                let first = self
                    .elements(&[RO, "spec", "containers"])?
                    .into_iter()
                    .next()?;
                let image = self.text(self.member(&first, "image")?)?;
                Some(Value::Str(if code == C0_REPO {
                    Cow::Owned(image_repository(&image).to_string())
                } else {
                    image
                }))
            }
            ANY_PRIVILEGED => {
                let cs = self.elements(&[RO, "spec", "containers"])?;
                let any = cs.iter().any(|c| {
                    self.member_path(c, &["securityContext", "privileged"])
                        .is_some_and(|r| &self.buf[r] == b"true")
                });
                Some(Value::Str(Cow::Borrowed(if any {
                    "true"
                } else {
                    "false"
                })))
            }
            ROLE_RULES => Self::list(
                self.elements(&[RO, "rules"])?
                    .into_iter()
                    .filter_map(|s| self.text(s))
                    .collect(),
            ),
            RULES_APIGROUPS => self.rules_member("apiGroups", arg),
            RULES_NONRES => self.rules_member("nonResourceURLs", arg),
            RULES_VERBS => self.rules_member("verbs", arg),
            RULES_RESOURCES => self.rules_member("resources", arg),
            SERVICE_PORTS => self
                .path(&[RO, "spec", "ports"])
                .and_then(|r| self.text(r))
                .map(|t| Value::List(vec![t])),
            SUPP_GROUPS => {
                let r = self.path(&[RO, "spec", "securityContext", "supplementalGroups"])?;
                if json::kind_at(self.buf, r.start) != Kind::Array {
                    return None;
                }
                Self::list(self.strs_of(r))
            }
            VOL_HOSTPATH => self.volumes(&["hostPath", "path"], arg),
            VOL_FLEX => self.volumes(&["flexVolume", "driver"], arg),
            VOL_TYPE => self.volume_types(arg),
            VOL_HOSTPATH_KEY => {
                let FieldArg::Key(k) = arg else { return None };
                self.hostpath_matches(k)
            }
            SOURCEIPS => {
                let ips = self.selected(&["sourceIPs"], arg)?;
                let out: Vec<Cow<'a, str>> = ips.into_iter().filter_map(|r| self.text(r)).collect();
                match arg {
                    FieldArg::Index(_) => out.into_iter().next().map(Value::Str),
                    _ => Self::list(out),
                }
            }
            SOURCE_PUBLIC => {
                let first = self.selected(&["sourceIPs"], &FieldArg::Index(0))?;
                let ip = self.text(first.into_iter().next()?)?;
                let public = ip.parse::<std::net::IpAddr>().is_ok_and(is_public);
                Some(Value::Str(Cow::Borrowed(if public {
                    "true"
                } else {
                    "false"
                })))
            }
            IMAGE_TAGS => {
                let cs = self.selected(&[RO, "spec", "containers"], arg)?;
                let tags = cs
                    .iter()
                    .filter_map(|c| self.member(c, "image"))
                    .filter_map(|r| self.text(r))
                    .map(|image| Cow::Owned(image_tag(&image).to_string()))
                    .collect();
                Self::list(tags)
            }
            JSON_VALUE => {
                let FieldArg::Pointer(tokens) = arg else {
                    return None;
                };
                let r = self.pointer(tokens)?;
                self.text(r).map(Value::Str)
            }
            JSON_OBJ => self
                .text(json::skip_ws(self.buf, 0)..self.buf.len())
                .map(Value::Str),
            JSON_RAWTIME => self
                .timestamp_ns()
                .map(|t| Value::Str(Cow::Owned(t.to_string()))),
            JSON_PATH => {
                let FieldArg::Path(tokens) = arg else {
                    return None;
                };
                self.path_values(tokens)
            }
            common::NUM
            | common::RAWTIME
            | common::TIME
            | common::TIME_ISO
            | common::DATETIME
            | common::SOURCE => common::value(code, self.num, self.timestamp_ns(), SOURCE.name),
            common::INFO => {
                let verb = self.str_at(&["verb"]).unwrap_or(Cow::Borrowed("?"));
                let uri = self.str_at(&["requestURI"]).unwrap_or(Cow::Borrowed("?"));
                let user = self
                    .str_at(&["user", "username"])
                    .unwrap_or(Cow::Borrowed("?"));
                Some(Value::Str(Cow::Owned(format!("{user} {verb} {uri}"))))
            }
            c if (100..160).contains(&c) => {
                let (list, suffix) = ((c - 100) / 20, (c - 100) % 20);
                // ephemeralContainers has no host_port.
                if list == 2 && suffix == 14 {
                    return None;
                }
                self.container_field(list as usize, suffix, arg)
            }
            _ => None,
        }
    }
}

impl Event for K8sAuditEvent<'_> {
    fn raw(&self) -> &[u8] {
        self.rec.bytes()
    }

    fn source(&self) -> &'static SourceInfo {
        &SOURCE
    }

    fn extract(&self, field: &FieldRef) -> Option<Value<'_>> {
        let id = field.id as usize;
        if id < KA_FIELDS && self.top("auditID").is_none() {
            return None;
        }
        match FIELDS[id].extract {
            Extract::Json(p) => self.json_at(p).map(Value::Str),
            Extract::Str(p) => self.str_at(p).map(Value::Str),
            Extract::Bool(p) => self
                .bool_at(p)
                .map(|v| Value::Str(Cow::Borrowed(if v { "true" } else { "false" }))),
            Extract::Special(code) => self.special(code, &field.arg),
        }
    }

    fn type_key(&self) -> Option<Cow<'_, str>> {
        self.str_at(&["objectRef", "resource"])
    }

    fn timestamp_ns(&self) -> Option<i64> {
        self.str_at(&["stageTimestamp"])
            .and_then(|t| time::parse_rfc3339(&t))
    }

    fn event_id(&self) -> Option<Cow<'_, str>> {
        self.str_at(&["auditID"])
    }

    fn error(&self) -> Option<JsonError> {
        self.rec.error()
    }

    fn validate(&self) -> Option<JsonError> {
        self.rec.validate()
    }
}

/// An address on the internet: not private, loopback, link-local, carrier-grade NAT,
/// unique-local or unspecified (documentation ranges count as public: examples use them).
fn is_public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(a) => {
            let o = a.octets();
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        std::net::IpAddr::V6(a) => {
            let s = a.segments();
            !(a.is_loopback()
                || a.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_repositories_like_the_plugin() {
        assert_eq!(image_repository("nginx:1.2"), "nginx");
        assert_eq!(
            image_repository("docker.io/falcosecurity/falco:0.37"),
            "docker.io/falcosecurity/falco"
        );
        assert_eq!(image_repository("img@sha256:ab"), "img");
        assert_eq!(image_repository("myreg:5000/app:1"), "myreg");
        assert_eq!(image_tag("nginx"), "latest");
        assert_eq!(image_tag("myreg:5000/app"), "latest");
        assert_eq!(image_tag("myreg:5000/app:1.2"), "1.2");
        assert_eq!(image_tag("nginx@sha256:ab"), "digest");
    }

    #[test]
    fn uri_params() {
        let u = "/api/v1/namespaces/d/pods/p/exec?command=ls&command=-l&container=c&stdin=true";
        assert_eq!(uri_param(u, "command").as_deref(), Some("ls"));
        assert_eq!(uri_param(u, "container").as_deref(), Some("c"));
        assert_eq!(uri_param(u, "nope"), None);
        assert_eq!(uri_param("/x?cmd=a%20b+c", "cmd").as_deref(), Some("a b c"));
        assert_eq!(uri_param("/x?cmd=%zz", "cmd"), None);
        assert_eq!(uri_param("/x?a=1;b=2", "a"), None);
        assert_eq!(uri_param("/x?k=", "k").as_deref(), Some(""));
    }
}
