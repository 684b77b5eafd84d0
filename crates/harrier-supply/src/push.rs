//! An ECR push, as CloudTrail's `PutImage` or EventBridge's "ECR Image Action" tells it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use harrier_image::registry::Reference;

/// One image pushed to an ECR repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// The registry's account id.
    pub registry_id: String,
    /// The region.
    pub region: String,
    /// The repository (`shop/nginx`).
    pub repository: String,
    /// The tag pushed, if any.
    pub tag: Option<String>,
    /// The manifest digest (`sha256:...`).
    pub digest: String,
    /// Who pushed it (an ARN), when the event says (CloudTrail does, EventBridge does not).
    pub pusher: Option<String>,
    /// Whether the pusher is a person (an IAM user, the root user, or an IAM Identity Center
    /// session) rather than automation (any other role).
    pub person: bool,
    /// The access key used.
    pub access_key: Option<String>,
    /// The caller's address.
    pub source_ip: Option<String>,
    /// When, nanoseconds since the epoch.
    pub time_ns: i64,
    /// The event's id (CloudTrail `eventID`, EventBridge `id`): one push, one id.
    pub event_id: String,
    /// `cloudtrail` or `eventbridge`.
    pub via: String,
}

fn s(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Whether `d` is a `sha256:` digest of 64 hex digits.
pub fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Push {
    /// Whether the fields that make the registry's address are what ECR allows (a hostile
    /// message must not point a pull, and ECR credentials, elsewhere).
    fn well_formed(&self) -> bool {
        let account =
            self.registry_id.len() == 12 && self.registry_id.bytes().all(|b| b.is_ascii_digit());
        let region = !self.region.is_empty()
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let repo = !self.repository.is_empty()
            && !self.repository.contains("..")
            && self
                .repository
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b));
        let tag = self.tag.as_deref().is_none_or(|t| {
            !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
        account && region && repo && tag
    }

    /// The push a CloudTrail record describes: a successful `ecr.amazonaws.com` `PutImage` with
    /// a digest in its response. Anything else is `None`.
    pub fn from_cloudtrail(v: &Value) -> Option<Push> {
        if s(v, "/eventSource").as_deref() != Some("ecr.amazonaws.com")
            || s(v, "/eventName").as_deref() != Some("PutImage")
            || v.get("errorCode").is_some_and(|e| !e.is_null())
        {
            return None;
        }
        let digest = s(v, "/responseElements/image/imageId/imageDigest")?;
        if !is_digest(&digest) {
            return None;
        }
        let kind = s(v, "/userIdentity/type").unwrap_or_default();
        let pusher = s(v, "/userIdentity/arn");
        let person = match kind.as_str() {
            "IAMUser" | "Root" => true,
            // Identity Center sessions are people; other roles are automation.
            "AssumedRole" => pusher
                .as_deref()
                .is_some_and(|a| a.contains(":assumed-role/AWSReservedSSO_")),
            _ => false,
        };
        Some(Push {
            registry_id: s(v, "/responseElements/image/registryId")
                .or_else(|| s(v, "/requestParameters/registryId"))
                .or_else(|| s(v, "/recipientAccountId"))?,
            region: s(v, "/awsRegion")?,
            repository: s(v, "/responseElements/image/repositoryName")
                .or_else(|| s(v, "/requestParameters/repositoryName"))?,
            tag: s(v, "/responseElements/image/imageId/imageTag")
                .or_else(|| s(v, "/requestParameters/imageTag")),
            digest,
            pusher,
            person,
            access_key: s(v, "/userIdentity/accessKeyId"),
            source_ip: s(v, "/sourceIPAddress"),
            time_ns: s(v, "/eventTime")
                .and_then(|t| harrier_events::time::parse_rfc3339(&t))
                .unwrap_or(0),
            event_id: s(v, "/eventID")?,
            via: "cloudtrail".into(),
        })
        .filter(Push::well_formed)
    }

    /// The push an EventBridge event describes: `aws.ecr` "ECR Image Action", `PUSH`,
    /// `SUCCESS`. Another kind of event is `Ok(None)`; an ECR image action without what a push
    /// needs is an error naming the missing field.
    pub fn from_eventbridge(v: &Value) -> Result<Option<Push>, String> {
        if s(v, "/source").as_deref() != Some("aws.ecr")
            || s(v, "/detail-type").as_deref() != Some("ECR Image Action")
        {
            return Ok(None);
        }
        if s(v, "/detail/action-type").as_deref() != Some("PUSH")
            || s(v, "/detail/result").as_deref() != Some("SUCCESS")
        {
            return Ok(None);
        }
        let need = |p: &str| s(v, p).ok_or_else(|| format!("ECR Image Action without {p}"));
        let digest = need("/detail/image-digest")?;
        if !is_digest(&digest) {
            return Err(format!("ECR Image Action with a bad digest {digest:?}"));
        }
        let p = Push {
            registry_id: need("/account")?,
            region: need("/region")?,
            repository: need("/detail/repository-name")?,
            tag: s(v, "/detail/image-tag"),
            digest,
            pusher: None,
            person: false,
            access_key: None,
            source_ip: None,
            time_ns: s(v, "/time")
                .and_then(|t| harrier_events::time::parse_rfc3339(&t))
                .unwrap_or(0),
            event_id: need("/id")?,
            via: "eventbridge".into(),
        };
        if !p.well_formed() {
            return Err(format!(
                "ECR Image Action with an account, region, repository or tag ECR does not allow ({:?}, {:?}, {:?})",
                p.registry_id, p.region, p.repository
            ));
        }
        Ok(Some(p))
    }

    /// The registry host: ECR's (`<account>.dkr.ecr.<region>.amazonaws.com`), or `registry`
    /// when one is configured in its place (a mirror, a local registry in tests).
    pub fn registry_host(&self, registry: Option<&str>) -> String {
        match registry {
            Some(r) => r.to_string(),
            None => format!("{}.dkr.ecr.{}.amazonaws.com", self.registry_id, self.region),
        }
    }

    /// The image by digest, to pull.
    pub fn reference(&self, registry: Option<&str>) -> Reference {
        Reference {
            host: self.registry_host(registry),
            repository: self.repository.clone(),
            reference: self.digest.clone(),
        }
    }

    /// `repository:tag` (or `repository@digest` without a tag).
    pub fn name(&self) -> String {
        match &self.tag {
            Some(t) => format!("{}:{t}", self.repository),
            None => format!("{}@{}", self.repository, self.digest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn put_image(kind: &str, arn: &str) -> Value {
        serde_json::json!({
            "eventVersion": "1.09", "eventSource": "ecr.amazonaws.com", "eventName": "PutImage",
            "awsRegion": "eu-west-1", "eventTime": "2026-11-20T10:41:02Z", "eventID": "e-1",
            "sourceIPAddress": "203.0.113.7", "recipientAccountId": "111122223333",
            "userIdentity": {"type": kind, "arn": arn, "accessKeyId": "AKIAEXAMPLE"},
            "requestParameters": {"repositoryName": "web", "imageTag": "v1.4.2", "registryId": "111122223333"},
            "responseElements": {"image": {"registryId": "111122223333", "repositoryName": "web",
                "imageId": {"imageDigest": D, "imageTag": "v1.4.2"}}}
        })
    }

    #[test]
    fn a_put_image_record_is_a_push_by_its_caller() {
        let p = Push::from_cloudtrail(&put_image(
            "IAMUser",
            "arn:aws:iam::111122223333:user/alice",
        ))
        .unwrap();
        assert_eq!(
            (p.repository.as_str(), p.tag.as_deref(), p.digest.as_str()),
            ("web", Some("v1.4.2"), D)
        );
        assert!(p.person);
        assert_eq!(p.access_key.as_deref(), Some("AKIAEXAMPLE"));
        assert_eq!(
            p.reference(None).to_string(),
            format!("111122223333.dkr.ecr.eu-west-1.amazonaws.com/web@{D}")
        );
        assert_eq!(
            p.reference(Some("127.0.0.1:5000")).to_string(),
            format!("127.0.0.1:5000/web@{D}")
        );
        let ci = Push::from_cloudtrail(&put_image(
            "AssumedRole",
            "arn:aws:sts::111122223333:assumed-role/ci-deploy/build-17",
        ))
        .unwrap();
        assert!(!ci.person, "a pipeline's role is automation");
        let sso = Push::from_cloudtrail(&put_image(
            "AssumedRole",
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123/alice",
        ))
        .unwrap();
        assert!(sso.person);
    }

    #[test]
    fn failed_or_other_calls_are_not_pushes() {
        let mut failed = put_image("IAMUser", "arn:aws:iam::111122223333:user/alice");
        failed["errorCode"] = "ImageAlreadyExistsException".into();
        assert!(Push::from_cloudtrail(&failed).is_none());
        let mut other = put_image("IAMUser", "arn:aws:iam::111122223333:user/alice");
        other["eventName"] = "BatchGetImage".into();
        assert!(Push::from_cloudtrail(&other).is_none());
        let mut bad = put_image("IAMUser", "arn:aws:iam::111122223333:user/alice");
        bad["responseElements"]["image"]["imageId"]["imageDigest"] = "sha256:../x".into();
        assert!(Push::from_cloudtrail(&bad).is_none());
    }

    #[test]
    fn eventbridge_image_actions() {
        let ev = serde_json::json!({"version": "0", "id": "eb-1", "detail-type": "ECR Image Action",
            "source": "aws.ecr", "account": "111122223333", "time": "2026-11-16T22:04:00Z",
            "region": "us-east-2", "resources": [],
            "detail": {"result": "SUCCESS", "repository-name": "shop/nginx", "image-digest": D,
                       "action-type": "PUSH", "image-tag": "1.25.3"}});
        let p = Push::from_eventbridge(&ev).unwrap().unwrap();
        assert_eq!(p.name(), "shop/nginx:1.25.3");
        assert_eq!(p.pusher, None);
        let mut delete = ev.clone();
        delete["detail"]["action-type"] = "DELETE".into();
        assert_eq!(Push::from_eventbridge(&delete).unwrap(), None);
        let mut broken = ev.clone();
        broken["detail"]
            .as_object_mut()
            .unwrap()
            .remove("repository-name");
        let e = Push::from_eventbridge(&broken).unwrap_err();
        assert!(e.contains("repository-name"), "{e}");
        let mut hostile = ev.clone();
        hostile["account"] = "3232235777:443#".into();
        assert!(
            Push::from_eventbridge(&hostile).is_err(),
            "an account that is not 12 digits"
        );
        assert_eq!(
            Push::from_eventbridge(&serde_json::json!({"source": "aws.s3"})).unwrap(),
            None
        );
    }
}
