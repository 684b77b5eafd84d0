//! Structured fields: answers that string matching cannot be trusted to give, computed from the
//! request's JSON (docs/fields.md, "Structured fields").
//!
//! - what an IAM policy document allows (admin, every IAM action, IAM privilege escalation);
//! - who a role trust policy lets in (anyone, another account);
//! - whether a security-group change opens ports to the world (any `/0`, IPv4 or IPv6);
//! - whether an S3 ACL or bucket policy makes a bucket publicly writable or readable.
//!
//! Every function reads the bytes it is given and never panics on unexpected shapes: a value of
//! the wrong type is treated as absent.

use std::borrow::Cow;
use std::ops::Range;

use crate::json::{self, Kind};

/// The value at `r` as a list of items: an array's elements, or the value itself.
pub(crate) fn items(b: &[u8], r: Range<usize>) -> Vec<Range<usize>> {
    match json::kind_at(b, r.start) {
        Kind::Array => json::Elements::new(b, r.start)
            .map_while(Result::ok)
            .collect(),
        Kind::Null => Vec::new(),
        _ => vec![r],
    }
}

/// Member `key` of the object at `r`, if `r` is an object that has it.
pub(crate) fn member(b: &[u8], r: &Range<usize>, key: &str) -> Option<Range<usize>> {
    if json::kind_at(b, r.start) != Kind::Object {
        return None;
    }
    json::find_member(b, r.start, key.as_bytes()).ok().flatten()
}

/// The string at `r`, if it is one.
pub(crate) fn string(b: &[u8], r: Range<usize>) -> Option<Cow<'_, str>> {
    if json::kind_at(b, r.start) != Kind::String {
        return None;
    }
    json::decode_string(b, r).ok()
}

/// A string or a list of strings.
fn strings(b: &[u8], r: Range<usize>) -> Vec<String> {
    items(b, r)
        .into_iter()
        .filter_map(|i| string(b, i).map(Cow::into_owned))
        .collect()
}

/// Case-insensitive IAM-style wildcard match (`*` any run, `?` one character).
pub(crate) fn wildcard(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (
        pattern.to_ascii_lowercase().chars().collect(),
        s.to_ascii_lowercase().chars().collect(),
    );
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// How much an IAM policy grants, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    /// Nothing that reaches IAM.
    None,
    /// Some IAM action that lets a principal raise its own privileges.
    IamEscalation,
    /// Every IAM action (`iam:*`).
    IamFull,
    /// Every action of every service (`*`).
    Admin,
}

impl Grant {
    /// The field value.
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::None => "none",
            Grant::IamEscalation => "iam_escalation",
            Grant::IamFull => "iam_full",
            Grant::Admin => "admin",
        }
    }
}

/// IAM actions that let a principal give itself (or another) more power.
pub const ESCALATION_ACTIONS: [&str; 15] = [
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:PassRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:AddUserToGroup",
    "iam:CreateUser",
];

/// Probe actions: a pattern matching one of these matches actions nobody listed.
const ANY_ACTION: &str = "zzzzservice:ZzzzAction";
const ANY_IAM_ACTION: &str = "iam:ZzzzAction";

fn grant_of_patterns(patterns: &[String], negated: bool) -> Grant {
    let hit = |a: &str| patterns.iter().any(|p| wildcard(p, a)) != negated;
    if hit(ANY_ACTION) {
        Grant::Admin
    } else if hit(ANY_IAM_ACTION) {
        Grant::IamFull
    } else if ESCALATION_ACTIONS.iter().any(|a| hit(a)) {
        Grant::IamEscalation
    } else {
        Grant::None
    }
}

/// What a policy document (JSON text) allows, and its allowed action patterns. `None` when the
/// text is not a JSON object.
pub fn policy_grants(doc: &[u8]) -> Option<(Grant, Vec<String>)> {
    let start = json::skip_ws(doc, 0);
    json::skip_value(doc, start).ok()?;
    let root = start..doc.len();
    let stmts = member(doc, &root, "Statement")?;
    let mut best = Grant::None;
    let mut actions = Vec::new();
    for st in items(doc, stmts) {
        let effect = member(doc, &st, "Effect").and_then(|r| string(doc, r));
        if effect.as_deref() != Some("Allow") {
            continue;
        }
        let scope = resource_scope(doc, &st);
        if let Some(a) = member(doc, &st, "Action") {
            let pats = strings(doc, a);
            best = best.max(grant_of_patterns(&pats, false).within(scope));
            actions.extend(pats);
        }
        if let Some(na) = member(doc, &st, "NotAction") {
            let pats = strings(doc, na);
            best = best.max(grant_of_patterns(&pats, true).within(scope));
            actions.extend(pats.iter().map(|p| format!("NOT {p}")));
        }
    }
    Some((best, actions))
}

/// How far a statement's resources reach.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every resource (`"*"`, a `NotResource`, or no resource element at all).
    All,
    /// Every IAM resource of some kind (`arn:aws:iam::*:role/*`, `arn:aws:iam::123:user/*`).
    IamWildcard,
    /// Named IAM resources (a user, a role).
    IamNamed,
    /// Named resources only, none of them IAM.
    Limited,
}

fn resource_scope(doc: &[u8], st: &std::ops::Range<usize>) -> Scope {
    if member(doc, st, "NotResource").is_some() {
        return Scope::All;
    }
    let Some(r) = member(doc, st, "Resource") else {
        return Scope::All;
    };
    let res = strings(doc, r);
    if res.iter().any(|r| r == "*") {
        Scope::All
    } else if res
        .iter()
        .any(|r| r.starts_with("arn:aws:iam::") && r.contains('*'))
    {
        Scope::IamWildcard
    } else if res.iter().any(|r| r.starts_with("arn:aws:iam::")) {
        Scope::IamNamed
    } else {
        Scope::Limited
    }
}

impl Grant {
    /// What a grant amounts to on `scope`: every action on named resources is not
    /// administrator access (CIS: `"Action": "*"` with `"Resource": "*"`); on every IAM
    /// resource of a kind it still lets the holder rewrite IAM.
    fn within(self, scope: Scope) -> Grant {
        match (self, scope) {
            (g, Scope::All) => g,
            (Grant::Admin | Grant::IamFull, Scope::IamWildcard) => Grant::IamFull,
            (g, Scope::IamWildcard) => g,
            // Full control of a named user or role can still raise that principal's rights.
            (Grant::None, Scope::IamNamed) => Grant::None,
            (_, Scope::IamNamed) => Grant::IamEscalation,
            (Grant::IamEscalation, Scope::Limited) => Grant::IamEscalation,
            (_, Scope::Limited) => Grant::None,
        }
    }
}

/// What an AWS-managed policy attached by ARN grants.
pub fn managed_policy_grant(arn: &str) -> Grant {
    match arn.rsplit('/').next().unwrap_or("") {
        "AdministratorAccess" => Grant::Admin,
        "IAMFullAccess" => Grant::IamFull,
        _ => Grant::None,
    }
}

/// Who a role trust policy lets assume the role: `any` (a `*` principal), `external` (an AWS
/// account other than `own_account`), `internal`, or `None` when the text has no statement.
pub fn trust_exposure(doc: &[u8], own_account: Option<&str>) -> Option<&'static str> {
    let start = json::skip_ws(doc, 0);
    json::skip_value(doc, start).ok()?;
    let root = start..doc.len();
    let stmts = member(doc, &root, "Statement")?;
    let mut level = 0;
    for st in items(doc, stmts) {
        if member(doc, &st, "Effect")
            .and_then(|r| string(doc, r))
            .as_deref()
            != Some("Allow")
        {
            continue;
        }
        let Some(p) = member(doc, &st, "Principal") else {
            continue;
        };
        let mut principals = Vec::new();
        match json::kind_at(doc, p.start) {
            Kind::String => principals.extend(string(doc, p).map(Cow::into_owned)),
            Kind::Object => {
                if let Some(aws) = member(doc, &p, "AWS") {
                    principals.extend(strings(doc, aws));
                }
            }
            _ => {}
        }
        for pr in principals {
            let l = if pr == "*" {
                3
            } else {
                match account_of(&pr) {
                    Some(acct) if Some(acct) != own_account => 2,
                    _ => 1,
                }
            };
            level = level.max(l);
        }
        level = level.max(1);
    }
    Some(match level {
        3 => "any",
        2 => "external",
        _ => "internal",
    })
}

/// The 12-digit account id in an ARN or bare account principal.
pub(crate) fn account_of(principal: &str) -> Option<&str> {
    let digits = |s: &str| s.len() == 12 && s.bytes().all(|c| c.is_ascii_digit());
    if digits(principal) {
        return Some(principal);
    }
    principal.split(':').nth(4).filter(|a| digits(a))
}

/// One ingress permission from a request, in any of its shapes.
struct Perm {
    proto: String,
    from: Option<i64>,
    to: Option<i64>,
    cidrs: Vec<String>,
}

fn int(b: &[u8], r: Option<Range<usize>>) -> Option<i64> {
    let r = r?;
    match json::kind_at(b, r.start) {
        Kind::Number => std::str::from_utf8(&b[r]).ok()?.parse().ok(),
        Kind::String => string(b, r)?.parse().ok(),
        _ => None,
    }
}

fn text(b: &[u8], r: Option<Range<usize>>) -> Option<String> {
    let r = r?;
    match json::kind_at(b, r.start) {
        Kind::String => string(b, r).map(Cow::into_owned),
        Kind::Number => std::str::from_utf8(&b[r]).ok().map(str::to_string),
        _ => None,
    }
}

fn nested_items(b: &[u8], r: &Range<usize>, key: &str) -> Vec<Range<usize>> {
    member(b, r, key)
        .and_then(|c| member(b, &c, "items"))
        .map(|i| items(b, i))
        .unwrap_or_default()
}

fn collect_perms(b: &[u8], req: &Range<usize>) -> Vec<Perm> {
    let mut out = Vec::new();
    // Legacy shape: cidrIp with ports at the top of the request.
    if let Some(c) = member(b, req, "cidrIp").and_then(|r| string(b, r)) {
        out.push(Perm {
            proto: text(b, member(b, req, "ipProtocol")).unwrap_or_else(|| "-1".into()),
            from: int(b, member(b, req, "fromPort")),
            to: int(b, member(b, req, "toPort")),
            cidrs: vec![c.into_owned()],
        });
    }
    // ipPermissions.items[] with ipRanges / ipv6Ranges.
    if let Some(perms) = member(b, req, "ipPermissions").and_then(|p| member(b, &p, "items")) {
        for p in items(b, perms) {
            let mut cidrs = Vec::new();
            for r in nested_items(b, &p, "ipRanges") {
                cidrs.extend(text(b, member(b, &r, "cidrIp")));
            }
            for r in nested_items(b, &p, "ipv6Ranges") {
                cidrs.extend(text(b, member(b, &r, "cidrIpv6")));
            }
            out.push(Perm {
                proto: text(b, member(b, &p, "ipProtocol")).unwrap_or_else(|| "-1".into()),
                from: int(b, member(b, &p, "fromPort")),
                to: int(b, member(b, &p, "toPort")),
                cidrs,
            });
        }
    }
    // ModifySecurityGroupRules: ModifySecurityGroupRulesRequest.SecurityGroupRule[].SecurityGroupRule
    if let Some(m) = member(b, req, "ModifySecurityGroupRulesRequest")
        .and_then(|m| member(b, &m, "SecurityGroupRule"))
    {
        for wrapper in items(b, m) {
            let rule = member(b, &wrapper, "SecurityGroupRule").unwrap_or(wrapper);
            let cidrs = ["CidrIpv4", "CidrIpv6"]
                .iter()
                .filter_map(|k| text(b, member(b, &rule, k)))
                .collect();
            out.push(Perm {
                proto: text(b, member(b, &rule, "IpProtocol")).unwrap_or_else(|| "-1".into()),
                from: int(b, member(b, &rule, "FromPort")),
                to: int(b, member(b, &rule, "ToPort")),
                cidrs,
            });
        }
    }
    out
}

/// Whether a CIDR covers every address (prefix length 0, IPv4 or IPv6).
pub fn is_world(cidr: &str) -> bool {
    cidr.trim().ends_with("/0")
}

/// The ports a security-group request opens to the world (`tcp/22`, `tcp/0-65535`, `all`), or
/// `None` when the request carries no ingress permission.
pub fn world_ingress(b: &[u8], req: Range<usize>) -> Option<Vec<String>> {
    let perms = collect_perms(b, &req);
    if perms.is_empty() {
        return None;
    }
    let mut open = Vec::new();
    for p in perms.iter().filter(|p| p.cidrs.iter().any(|c| is_world(c))) {
        let proto = p.proto.to_ascii_lowercase();
        let s = match (proto.as_str(), p.from, p.to) {
            ("-1" | "all", _, _) => "all".to_string(),
            (_, Some(f), Some(t)) if f == t => format!("{proto}/{f}"),
            (_, Some(f), Some(t)) if f <= 0 && !(0..65535).contains(&t) => {
                format!("{proto}/0-65535")
            }
            (_, Some(f), Some(t)) => format!("{proto}/{f}-{t}"),
            _ => format!("{proto}/0-65535"),
        };
        if !open.contains(&s) {
            open.push(s);
        }
    }
    Some(open)
}

/// Whether `ports` (from [`world_ingress`]) reaches a remote-administration port.
pub fn admin_port_open(ports: &[String]) -> bool {
    const ADMIN: [i64; 7] = [22, 3389, 5985, 5986, 23, 2375, 6443];
    ports.iter().any(|p| {
        if p == "all" {
            return true;
        }
        let range = p.split('/').nth(1).unwrap_or("");
        let (f, t) = match range.split_once('-') {
            Some((f, t)) => (f.parse().unwrap_or(-1), t.parse().unwrap_or(-1)),
            None => {
                let v = range.parse().unwrap_or(-1);
                (v, v)
            }
        };
        ADMIN.iter().any(|a| f <= *a && *a <= t)
    })
}

const PUBLIC_GROUPS: [&str; 2] = [
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
];

/// How public an S3 request makes a bucket: `write`, `read` or `none`. `None` when the request
/// carries no ACL or policy.
pub fn s3_public(b: &[u8], req: Range<usize>) -> Option<&'static str> {
    let mut seen = false;
    let mut level = 0; // 0 none, 1 read, 2 write
                       // Canned ACL header (a list of one string in CloudTrail).
    if let Some(canned) = member(b, &req, "x-amz-acl") {
        seen = true;
        for c in strings(b, canned) {
            level = level.max(match c.as_str() {
                "public-read-write" => 2,
                "public-read" | "authenticated-read" => 1,
                _ => 0,
            });
        }
    }
    // Grant headers: x-amz-grant-write: uri="http://acs.amazonaws.com/groups/global/AllUsers"
    for (h, l) in [
        ("x-amz-grant-write", 2),
        ("x-amz-grant-write-acp", 2),
        ("x-amz-grant-full-control", 2),
        ("x-amz-grant-read", 1),
        ("x-amz-grant-read-acp", 1),
    ] {
        if let Some(v) = member(b, &req, h) {
            seen = true;
            if strings(b, v)
                .iter()
                .any(|s| PUBLIC_GROUPS.iter().any(|g| s.contains(g)))
            {
                level = level.max(l);
            }
        }
    }
    // Full ACL document.
    if let Some(acl) =
        member(b, &req, "AccessControlPolicy").and_then(|p| member(b, &p, "AccessControlList"))
    {
        seen = true;
        if let Some(grants) = member(b, &acl, "Grant") {
            for g in items(b, grants) {
                let uri = member(b, &g, "Grantee")
                    .and_then(|ge| member(b, &ge, "URI"))
                    .and_then(|u| string(b, u));
                if !uri.is_some_and(|u| PUBLIC_GROUPS.contains(&u.as_ref())) {
                    continue;
                }
                let perm = member(b, &g, "Permission").and_then(|p| string(b, p));
                level = level.max(match perm.as_deref() {
                    Some("WRITE" | "WRITE_ACP" | "FULL_CONTROL") => 2,
                    Some("READ" | "READ_ACP") => 1,
                    _ => 0,
                });
            }
        }
    }
    // Bucket policy (an object in CloudTrail; sometimes a JSON string).
    if let Some(pol) = member(b, &req, "bucketPolicy") {
        seen = true;
        let text: Cow<[u8]> = match json::kind_at(b, pol.start) {
            Kind::String => Cow::Owned(
                string(b, pol.clone())
                    .map(|s| s.into_owned().into_bytes())
                    .unwrap_or_default(),
            ),
            _ => Cow::Borrowed(&b[pol.clone()]),
        };
        level = level.max(bucket_policy_level(&text));
    }
    seen.then_some(match level {
        2 => "write",
        1 => "read",
        _ => "none",
    })
}

/// Public level of a bucket policy: statements that Allow a `*` principal without a Condition.
fn bucket_policy_level(doc: &[u8]) -> u8 {
    let start = json::skip_ws(doc, 0);
    if json::skip_value(doc, start).is_err() {
        return 0;
    }
    let root = start..doc.len();
    let Some(stmts) = member(doc, &root, "Statement") else {
        return 0;
    };
    let mut level = 0;
    for st in items(doc, stmts) {
        if member(doc, &st, "Effect")
            .and_then(|r| string(doc, r))
            .as_deref()
            != Some("Allow")
        {
            continue;
        }
        if member(doc, &st, "Condition").is_some() {
            continue;
        }
        let public = match member(doc, &st, "Principal") {
            Some(p) if json::kind_at(doc, p.start) == Kind::String => {
                string(doc, p).as_deref() == Some("*")
            }
            Some(p) => {
                member(doc, &p, "AWS").is_some_and(|a| strings(doc, a).iter().any(|s| s == "*"))
            }
            None => false,
        };
        if !public {
            continue;
        }
        let actions = member(doc, &st, "Action")
            .map(|a| strings(doc, a))
            .unwrap_or_default();
        let can = |probe: &str| actions.iter().any(|p| wildcard(p, probe));
        if can("s3:PutObject")
            || can("s3:DeleteObject")
            || can("s3:PutBucketPolicy")
            || can("s3:PutObjectAcl")
        {
            level = level.max(2);
        } else if can("s3:GetObject") || can("s3:ListBucket") {
            level = level.max(1);
        }
    }
    level
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_iam() {
        assert!(wildcard("iam:*", "iam:CreateUser"));
        assert!(wildcard("IAM:put*", "iam:PutUserPolicy"));
        assert!(wildcard("*", "s3:GetObject"));
        assert!(wildcard("iam:?etUser", "iam:GetUser"));
        assert!(!wildcard("iam:Get*", "iam:PutUserPolicy"));
        assert!(!wildcard("s3:*", "iam:PassRole"));
    }

    fn grant(doc: &str) -> Grant {
        policy_grants(doc.as_bytes()).unwrap().0
    }

    #[test]
    fn policy_grants_every_shape() {
        assert_eq!(
            grant(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#),
            Grant::Admin
        );
        assert_eq!(
            grant(r#"{"Statement":[{"Effect":"Allow","Action":["*:*"],"Resource":"*"}]}"#),
            Grant::Admin
        );
        assert_eq!(
            grant(r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#),
            Grant::IamFull
        );
        assert_eq!(
            grant(r#"{"Statement":[{"Effect":"Allow","Action":["s3:*","iam:Put*"]}]}"#),
            Grant::IamEscalation
        );
        assert_eq!(
            grant(r#"{"Statement":[{"Effect":"Allow","Action":["s3:*","iam:Get*"]}]}"#),
            Grant::None
        );
        assert_eq!(
            grant(r#"{"Statement":[{"Effect":"Deny","Action":"*"}]}"#),
            Grant::None
        );
        // Every action, but on named resources only: not administrator access.
        assert_eq!(
            grant(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"S3*"}}"#),
            Grant::None
        );
        assert_eq!(
            grant(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":["S3*","*"]}}"#),
            Grant::Admin
        );
        assert_eq!(
            grant(
                r#"{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::1:role/*"}}"#
            ),
            Grant::IamFull
        );
        assert_eq!(
            grant(
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:iam::1:user/bob"}}"#
            ),
            Grant::IamEscalation
        );
        // Allow everything except S3: still every service.
        assert_eq!(
            grant(r#"{"Statement":[{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}]}"#),
            Grant::Admin
        );
        assert!(policy_grants(b"not json").is_none());
        assert_eq!(
            managed_policy_grant("arn:aws:iam::aws:policy/AdministratorAccess"),
            Grant::Admin
        );
        assert_eq!(
            managed_policy_grant("arn:aws:iam::aws:policy/ReadOnlyAccess"),
            Grant::None
        );
    }

    #[test]
    fn trust_exposure_classifies_principals() {
        let t = |d: &str| trust_exposure(d.as_bytes(), Some("111122223333"));
        assert_eq!(
            t(
                r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#
            ),
            Some("internal")
        );
        assert_eq!(
            t(
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::193672423079:root"}}]}"#
            ),
            Some("external")
        );
        assert_eq!(
            t(
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root"]}}]}"#
            ),
            Some("internal")
        );
        assert_eq!(
            t(r#"{"Statement":[{"Effect":"Allow","Principal":"*"}]}"#),
            Some("any")
        );
        assert_eq!(
            t(r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"}}]}"#),
            Some("any")
        );
    }

    #[test]
    fn ingress_in_every_request_shape() {
        let w = |req: &str| world_ingress(req.as_bytes(), 0..req.len());
        assert_eq!(
            w(r#"{"cidrIp":"0.0.0.0/0","fromPort":22,"toPort":22,"ipProtocol":"tcp"}"#),
            Some(vec!["tcp/22".into()])
        );
        assert_eq!(
            w(
                r#"{"ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":80,"toPort":80,"ipRanges":{"items":[{"cidrIp":"10.0.0.0/8"}]}},
                {"ipProtocol":"-1","ipv6Ranges":{"items":[{"cidrIpv6":"::/0"}]}}]}}"#
            ),
            Some(vec!["all".into()])
        );
        assert_eq!(
            w(
                r#"{"ModifySecurityGroupRulesRequest":{"GroupId":"sg-1","SecurityGroupRule":{"SecurityGroupRuleId":"sgr-1",
                "SecurityGroupRule":{"IpProtocol":"tcp","FromPort":3389,"ToPort":3389,"CidrIpv4":"0.0.0.0/0"}}}}"#
            ),
            Some(vec!["tcp/3389".into()])
        );
        assert_eq!(
            w(r#"{"cidrIp":"10.1.2.3/32","fromPort":22,"toPort":22,"ipProtocol":"tcp"}"#),
            Some(vec![])
        );
        assert_eq!(w(r#"{"groupId":"sg-1"}"#), None);
        assert!(admin_port_open(&["tcp/20-23".into()]));
        assert!(!admin_port_open(&["tcp/443".into()]));
    }

    #[test]
    fn s3_acl_and_policy_levels() {
        let s = |req: &str| s3_public(req.as_bytes(), 0..req.len());
        assert_eq!(s(r#"{"x-amz-acl":["public-read-write"]}"#), Some("write"));
        assert_eq!(s(r#"{"x-amz-acl":["private"]}"#), Some("none"));
        assert_eq!(
            s(
                r#"{"AccessControlPolicy":{"AccessControlList":{"Grant":[{"Grantee":{"URI":"http://acs.amazonaws.com/groups/global/AllUsers"},"Permission":"WRITE"}]}}}"#
            ),
            Some("write")
        );
        assert_eq!(
            s(
                r#"{"AccessControlPolicy":{"AccessControlList":{"Grant":{"Grantee":{"URI":"http://acs.amazonaws.com/groups/global/AuthenticatedUsers"},"Permission":"READ"}}}}"#
            ),
            Some("read")
        );
        assert_eq!(
            s(
                r#"{"bucketPolicy":{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}}"#
            ),
            Some("write")
        );
        assert_eq!(
            s(
                r#"{"bucketPolicy":{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:GetObject"]}]}}"#
            ),
            Some("read")
        );
        assert_eq!(
            s(
                r#"{"bucketPolicy":{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}}"#
            ),
            Some("none")
        );
        assert_eq!(s(r#"{"bucketName":"b"}"#), None);
    }
}
