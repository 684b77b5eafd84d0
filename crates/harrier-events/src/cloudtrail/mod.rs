//! CloudTrail records: the `aws_cloudtrail` source with every field of Falco's CloudTrail plugin.
//!
//! Field semantics follow the plugin (see docs/fields.md): string fields are absent when the JSON
//! value is missing or is not a string; `ct.request`, `ct.response`, `ct.additionaleventdata` and
//! `ct.serviceeventdetails` are the compact JSON text of their object; booleans read as
//! `"true"`/`"false"`. `json.value[/ptr]` and `jevt.value[/ptr]` return the string at the
//! pointer, or the compact JSON text of any other value.

use std::borrow::Cow;

use crate::event::Event;
use crate::field::{common, Extract, FieldArg, FieldRef, SourceInfo, Value};

mod analysis;
mod fields;
use crate::json::{self, JsonError};
use crate::time;
pub use analysis::{
    is_world, managed_policy_grant, policy_grants, trust_exposure, Grant, ESCALATION_ACTIONS,
};
use fields::*;
pub use fields::{FIELDS, SOURCE};

use crate::lazy::Record;
pub use crate::lazy::Scratch;

/// One CloudTrail record, parsed lazily: top-level members are indexed only as far as the fields
/// asked for require.
pub struct CloudTrailEvent<'a> {
    rec: Record<'a>,
    num: u64,
}

impl<'a> std::ops::Deref for CloudTrailEvent<'a> {
    type Target = Record<'a>;
    fn deref(&self) -> &Record<'a> {
        &self.rec
    }
}

impl<'a> CloudTrailEvent<'a> {
    /// Wraps the bytes of one record (a JSON object). `num` is its sequence number in the run.
    pub fn new(buf: &'a [u8], num: u64, scratch: &'a Scratch) -> Self {
        CloudTrailEvent {
            rec: Record::new(buf, scratch),
            num,
        }
    }

    /// Wraps a record already indexed (classified) as CloudTrail.
    pub fn from_record(rec: Record<'a>, num: u64) -> Self {
        CloudTrailEvent { rec, num }
    }

    /// The record's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.rec.buf
    }

    fn user(&self) -> Option<Cow<'a, str>> {
        let ty = self.str_at(&["userIdentity", "type"])?;
        match &*ty {
            "Root" | "IAMUser" => self.str_at(&["userIdentity", "userName"]),
            "AWSService" => self.str_at(&["userIdentity", "invokedBy"]),
            "AssumedRole" => Some(
                self.str_at(&[
                    "userIdentity",
                    "sessionContext",
                    "sessionIssuer",
                    "userName",
                ])
                .unwrap_or(Cow::Borrowed("AssumedRole")),
            ),
            "AWSAccount" => Some(Cow::Borrowed("AWSAccount")),
            "FederatedUser" => Some(Cow::Borrowed("FederatedUser")),
            _ => None,
        }
    }

    fn original_user(&self) -> Option<Cow<'a, str>> {
        let ty = self.str_at(&["userIdentity", "type"])?;
        if ty == "AssumedRole" {
            if let Some(arn) = self.str_at(&["userIdentity", "arn"]) {
                let parts: Vec<&str> = arn.split('/').collect();
                if parts.len() == 3 {
                    return Some(Cow::Owned(parts[2].to_string()));
                }
            }
            let pid = self.str_at(&["userIdentity", "principalId"])?;
            return pid.split_once(':').map(|(_, s)| Cow::Owned(s.to_string()));
        }
        self.str_at(&["userIdentity", "userName"])
    }

    fn readonly(&self) -> Option<&'static str> {
        match self.top("readOnly").map(|r| &self.buf[r]) {
            Some(b"true") => Some("true"),
            Some(_) => Some("false"),
            None => None,
        }
    }

    fn bytes_in_out(&self, which: u16) -> Option<u64> {
        let i = self.u64_at(&["additionalEventData", "bytesTransferredIn"]);
        let o = self.u64_at(&["additionalEventData", "bytesTransferredOut"]);
        match which {
            S3_BYTES_IN => i,
            S3_BYTES_OUT => o,
            _ if i.is_none() && o.is_none() => None,
            _ => Some(i.unwrap_or(0) + o.unwrap_or(0)),
        }
    }

    fn info(&self) -> String {
        let Some(user) = self.user() else {
            return "<invalid cloudtrail event: userIdentity field missing>".into();
        };
        let Some(ip) = self.str_at(&["sourceIPAddress"]) else {
            return "<invalid cloudtrail event: sourceIPAddress field missing>".into();
        };
        let Some(name) = self.str_at(&["eventName"]) else {
            return "<invalid cloudtrail event: eventName field missing>".into();
        };
        let err = if self.str_at(&["errorCode"]).is_some() {
            "!"
        } else {
            ""
        };
        let rw = if self.readonly() == Some("false") {
            "→"
        } else {
            "←"
        };
        let mut info = format!("{user} via {ip} {err}{rw} {name}");
        if name == "PutBucketPublicAccessBlock" {
            if let Some(r) = self.path(&[RP, "PublicAccessBlockConfiguration"]) {
                let cfg = &self.buf[..r.end];
                for k in [
                    "BlockPublicAcls",
                    "BlockPublicPolicy",
                    "IgnorePublicAcls",
                    "RestrictPublicBuckets",
                ] {
                    let v = json::find_member(cfg, r.start, k.as_bytes())
                        .ok()
                        .flatten()
                        .map(|v| &cfg[v] == b"true")
                        .unwrap_or(false);
                    info.push_str(&format!(" {k}={v}"));
                }
            }
            return info;
        }
        if let Some(n) = self.bytes_in_out(S3_BYTES) {
            info.push_str(&format!(" Size={n}"));
        }
        let bucket = self.str_at(&[RP, "bucketName"]);
        let key = self.str_at(&[RP, "key"]);
        match (bucket, key) {
            (Some(b), Some(k)) => info.push_str(&format!(" URI=s3://{b}/{k}")),
            (Some(b), None) => info.push_str(&format!(" Bucket={b}")),
            (None, Some(k)) => info.push_str(&format!(" Key={k}")),
            (None, None) => {
                if let Some(h) = self.str_at(&[RP, "Host"]) {
                    info.push_str(&format!(" Host={h}"));
                }
            }
        }
        info
    }

    fn ec2_name(&self) -> Option<Cow<'a, str>> {
        let items = self.path(&[RP, "tagSpecificationSet", "items"])?;
        let b = self.buf;
        if json::kind_at(b, items.start) != json::Kind::Array {
            return None;
        }
        for item in json::Elements::new(b, items.start) {
            let item = self.ok(item)?;
            if json::kind_at(b, item.start) != json::Kind::Object {
                continue;
            }
            let rt = self.ok(json::find_member(b, item.start, b"resourceType"))?;
            if rt.map(|r| &b[r] != b"\"instance\"").unwrap_or(true) {
                continue;
            }
            let Some(tags) = self.ok(json::find_member(b, item.start, b"tags"))? else {
                continue;
            };
            if json::kind_at(b, tags.start) != json::Kind::Array {
                continue;
            }
            for tag in json::Elements::new(b, tags.start) {
                let tag = self.ok(tag)?;
                if json::kind_at(b, tag.start) != json::Kind::Object {
                    continue;
                }
                let key = self.ok(json::find_member(b, tag.start, b"key"))?;
                if key.map(|r| &b[r] == b"\"Name\"").unwrap_or(false) {
                    let v = self.ok(json::find_member(b, tag.start, b"value"))??;
                    if json::kind_at(b, v.start) == json::Kind::String {
                        return self.ok(json::decode_string(b, v)).filter(|s| !s.is_empty());
                    }
                }
            }
        }
        None
    }

    fn image_ids(&self) -> Vec<Cow<'a, str>> {
        let b = self.buf;
        let mut out = Vec::new();
        let items = self.path(&["responseElements", "instancesSet", "items"]);
        if let Some(items) = items.filter(|r| json::kind_at(b, r.start) == json::Kind::Array) {
            for item in json::Elements::new(b, items.start) {
                let Some(item) = self.ok(item) else {
                    return out;
                };
                if json::kind_at(b, item.start) != json::Kind::Object {
                    continue;
                }
                if let Some(Some(r)) = self.ok(json::find_member(b, item.start, b"imageId")) {
                    if json::kind_at(b, r.start) == json::Kind::String {
                        if let Some(s) = self.ok(json::decode_string(b, r)) {
                            out.push(s);
                        }
                    }
                }
            }
        }
        if out.is_empty() {
            for p in [
                &[RP, "imageId"][..],
                &[RP, "DescribeFastLaunchImagesRequest", "ImageId", "content"],
                &[RP, "launchSpecification", "imageId"],
            ] {
                if let Some(s) = self.str_at(p) {
                    out.push(s);
                    break;
                }
            }
        }
        out
    }

    fn resources(&self) -> Option<Cow<'a, str>> {
        let r = self.top("resources")?;
        if json::kind_at(self.buf, r.start) != json::Kind::Array {
            return None;
        }
        let mut out = String::new();
        for (i, e) in json::Elements::new(self.buf, r.start).enumerate() {
            let e = self.ok(e)?;
            if i > 0 {
                out.push(',');
            }
            json::write_compact(self.buf, e, &mut out);
        }
        Some(Cow::Owned(out))
    }

    fn special(&self, code: u16, arg: &FieldArg) -> Option<Value<'a>> {
        let st = |v: Option<Cow<'a, str>>| v.map(Value::Str);
        match code {
            SHORTSRC => st(self.str_at(&["eventSource"]).map(|s| match s {
                Cow::Borrowed(b) => Cow::Borrowed(b.strip_suffix(".amazonaws.com").unwrap_or(b)),
                Cow::Owned(o) => {
                    Cow::Owned(o.strip_suffix(".amazonaws.com").unwrap_or(&o).to_string())
                }
            })),
            USER => st(self.user()),
            ORIGINALUSER => st(self.original_user()),
            ACCOUNTID => st(self
                .str_at(&["userIdentity", "accountId"])
                .or_else(|| self.str_at(&["recipientAccountId"]))),
            INFO | common::INFO => Some(Value::Str(Cow::Owned(self.info()))),
            READONLY => self.readonly().map(|v| Value::Str(Cow::Borrowed(v))),
            RESOURCES => st(self.resources()),
            S3_URI => {
                let b = self.str_at(&[RP, "bucketName"])?;
                let k = self.str_at(&[RP, "key"])?;
                Some(Value::Str(Cow::Owned(format!("s3://{b}/{k}"))))
            }
            S3_BYTES | S3_BYTES_IN | S3_BYTES_OUT => self.bytes_in_out(code).map(Value::U64),
            S3_CNT_GET | S3_CNT_PUT | S3_CNT_OTHER => {
                let name = self.str_at(&["eventName"]);
                let name = name.as_deref();
                let hit = match code {
                    S3_CNT_GET => name == Some("GetObject"),
                    S3_CNT_PUT => name == Some("PutObject"),
                    _ => !matches!(name, Some("GetObject" | "PutObject")),
                };
                hit.then_some(Value::U64(1))
            }
            EC2_NAME => st(self.ec2_name()),
            EC2_IMAGEID => self.image_ids().into_iter().next().map(Value::Str),
            EC2_IMAGEIDS => {
                let ids = self.image_ids();
                match arg {
                    FieldArg::Index(i) => ids.into_iter().nth(*i).map(Value::Str),
                    _ if ids.is_empty() => None,
                    _ => Some(Value::List(ids)),
                }
            }
            JSON_VALUE => {
                let FieldArg::Pointer(tokens) = arg else {
                    return None;
                };
                let r = self.pointer(tokens)?;
                self.ok(json::value_text(self.buf, r)).map(Value::Str)
            }
            JSON_PATH => {
                let FieldArg::Path(tokens) = arg else {
                    return None;
                };
                self.path_values(tokens)
            }
            JSON_OBJ => self
                .ok(json::value_text(self.buf, 0..self.buf.len()))
                .map(Value::Str),
            JSON_RAWTIME => st(self.str_at(&["eventTime"])),
            ALWAYS_ABSENT => None,
            POLICY_GRANTS => self
                .policy_grants()
                .map(|(g, _)| Value::Str(Cow::Borrowed(g.as_str()))),
            POLICY_ACTIONS => {
                let actions = self.policy_grants()?.1;
                match arg {
                    FieldArg::Index(i) => actions
                        .into_iter()
                        .nth(*i)
                        .map(|a| Value::Str(Cow::Owned(a))),
                    _ if actions.is_empty() => None,
                    _ => Some(Value::List(actions.into_iter().map(Cow::Owned).collect())),
                }
            }
            TRUST_EXPOSURE => self.trust_exposure().map(|t| Value::Str(Cow::Borrowed(t))),
            INGRESS_WORLD | INGRESS_WORLD_PORTS | INGRESS_ADMIN_PORT => {
                let req = self.top(RP)?;
                let ports = analysis::world_ingress(self.buf, req)?;
                let flag =
                    |b: bool| Some(Value::Str(Cow::Borrowed(if b { "true" } else { "false" })));
                match (code, arg) {
                    (INGRESS_WORLD, _) => flag(!ports.is_empty()),
                    (INGRESS_ADMIN_PORT, _) => flag(analysis::admin_port_open(&ports)),
                    (_, FieldArg::Index(i)) => {
                        ports.into_iter().nth(*i).map(|p| Value::Str(Cow::Owned(p)))
                    }
                    _ if ports.is_empty() => None,
                    _ => Some(Value::List(ports.into_iter().map(Cow::Owned).collect())),
                }
            }
            S3_PUBLIC => {
                let req = self.top(RP)?;
                analysis::s3_public(self.buf, req).map(|l| Value::Str(Cow::Borrowed(l)))
            }
            EC2_GROUPID => st(self
                .str_at(&[RP, "groupId"])
                .or_else(|| self.str_at(&[RP, "ModifySecurityGroupRulesRequest", "GroupId"]))),
            USER_KIND => self.user_kind().map(|k| Value::Str(Cow::Borrowed(k))),
            USER_MFA => self
                .user_mfa()
                .map(|m| Value::Str(Cow::Borrowed(if m { "true" } else { "false" }))),
            common::NUM
            | common::RAWTIME
            | common::TIME
            | common::TIME_ISO
            | common::DATETIME
            | common::SOURCE => common::value(code, self.num, self.timestamp_ns(), SOURCE.name),
            _ => None,
        }
    }

    /// The policy document of a permission-policy change, decoded from its JSON string.
    fn request_document(&self, key: &str) -> Option<Vec<u8>> {
        self.str_at(&[RP, key]).map(|d| d.into_owned().into_bytes())
    }

    fn policy_grants(&self) -> Option<(Grant, Vec<String>)> {
        let name = self.str_at(&["eventName"])?;
        match &*name {
            "PutUserPolicy"
            | "PutGroupPolicy"
            | "PutRolePolicy"
            | "CreatePolicy"
            | "CreatePolicyVersion" => {
                analysis::policy_grants(&self.request_document("policyDocument")?)
            }
            "AttachUserPolicy" | "AttachGroupPolicy" | "AttachRolePolicy" => {
                let arn = self.str_at(&[RP, "policyArn"])?;
                let name = arn.rsplit('/').next().unwrap_or("").to_string();
                Some((
                    analysis::managed_policy_grant(&arn),
                    vec![format!("managed:{name}")],
                ))
            }
            _ => None,
        }
    }

    fn trust_exposure(&self) -> Option<&'static str> {
        let name = self.str_at(&["eventName"])?;
        let doc = match &*name {
            "CreateRole" => self.request_document("assumeRolePolicyDocument")?,
            "UpdateAssumeRolePolicy" => self.request_document("policyDocument")?,
            _ => return None,
        };
        let own = self
            .str_at(&["recipientAccountId"])
            .or_else(|| self.str_at(&["userIdentity", "accountId"]));
        analysis::trust_exposure(&doc, own.as_deref())
    }

    fn user_kind(&self) -> Option<&'static str> {
        let ty = self.str_at(&["userIdentity", "type"])?;
        Some(match &*ty {
            "Root" | "IAMUser" | "FederatedUser" | "IdentityCenterUser" | "SAMLUser"
            | "WebIdentityUser" => "person",
            "AssumedRole" => {
                let issuer = self.str_at(&[
                    "userIdentity",
                    "sessionContext",
                    "sessionIssuer",
                    "userName",
                ]);
                if issuer.is_some_and(|i| i.starts_with("AWSReservedSSO_")) {
                    "person"
                } else {
                    "role"
                }
            }
            "AWSService" => "service",
            "AWSAccount" => "account",
            _ => return None,
        })
    }

    fn user_mfa(&self) -> Option<bool> {
        if let Some(m) = self.str_at(&[
            "userIdentity",
            "sessionContext",
            "attributes",
            "mfaAuthenticated",
        ]) {
            return Some(m == "true");
        }
        if let Some(m) = self.str_at(&["additionalEventData", "MFAUsed"]) {
            return Some(m == "Yes");
        }
        // A long-term access key (AKIA...) signs requests without any MFA.
        let key = self.str_at(&["userIdentity", "accessKeyId"])?;
        key.starts_with("AKIA").then_some(false)
    }
}

impl Event for CloudTrailEvent<'_> {
    fn raw(&self) -> &[u8] {
        self.rec.bytes()
    }

    fn source(&self) -> &'static SourceInfo {
        &SOURCE
    }

    fn extract(&self, field: &FieldRef) -> Option<Value<'_>> {
        match FIELDS[field.id as usize].extract {
            Extract::Str(p) => self.str_at(p).map(Value::Str),
            Extract::Json(p) => self.json_at(p).map(Value::Str),
            Extract::Bool(p) => self
                .bool_at(p)
                .map(|v| Value::Str(Cow::Borrowed(if v { "true" } else { "false" }))),
            Extract::Special(code) => self.special(code, &field.arg),
        }
    }

    fn type_key(&self) -> Option<Cow<'_, str>> {
        self.str_at(&["eventName"])
    }

    fn timestamp_ns(&self) -> Option<i64> {
        self.str_at(&["eventTime"])
            .and_then(|t| time::parse_rfc3339(&t))
    }

    fn event_id(&self) -> Option<Cow<'_, str>> {
        self.str_at(&["eventID"])
    }

    fn error(&self) -> Option<JsonError> {
        self.rec.error()
    }

    fn validate(&self) -> Option<JsonError> {
        self.rec.validate()
    }
}

/// Why a record is not treated as a CloudTrail event to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// An `AwsCloudTrailInsight` record.
    Insight,
    /// No `eventName` string.
    NoEventName,
}

/// Classifies a record before evaluation. Only a record without a top-level `eventName` is
/// looked at further (Insight records keep theirs under `insightDetails`), so the common case
/// costs one member lookup.
pub fn classify(ev: &CloudTrailEvent<'_>) -> Result<(), SkipReason> {
    if ev.str_at(&["eventName"]).is_some() {
        return Ok(());
    }
    if ev.str_at(&["eventType"]).as_deref() == Some("AwsCloudTrailInsight")
        || ev.str_at(&["eventCategory"]).as_deref() == Some("Insight")
    {
        return Err(SkipReason::Insight);
    }
    Err(SkipReason::NoEventName)
}
