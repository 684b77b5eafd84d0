//! The bodies of the SQS messages that announce new log files.
//!
//! Three shapes reach a queue:
//! - CloudTrail's own notification, `{"s3Bucket": "b", "s3ObjectKey": ["k", ...]}`, published to
//!   SNS and so usually wrapped in an SNS envelope (`{"Type": "Notification", "Message": "..."}`),
//!   or bare with raw message delivery;
//! - an S3 event notification, `{"Records": [{"eventSource": "aws:s3", "s3": {"bucket":
//!   {"name": "b"}, "object": {"key": "k"}}}]}`, with URL-encoded keys, sent to SQS directly;
//! - the same S3 event wrapped in an SNS envelope.
//!
//! S3's `s3:TestEvent` (sent when notifications are set up) names no object: it is valid and
//! has nothing to read.

use serde_json::Value;

/// Largest body accepted (SQS's own limit is 256 KiB).
pub const MAX_BODY: usize = 1 << 20;

/// One object a notification announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Object key (decoded).
    pub key: String,
}

/// Which shape a body had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// CloudTrail's notification.
    CloudTrail,
    /// An S3 event notification.
    S3Event,
    /// S3's test event.
    S3Test,
}

/// A parsed notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The shape.
    pub shape: Shape,
    /// Whether it came wrapped in an SNS envelope.
    pub via_sns: bool,
    /// The objects to read, in order.
    pub objects: Vec<ObjectRef>,
}

/// Why a body is not a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// Too large.
    #[error("message body of {0} bytes is over the {MAX_BODY}-byte limit")]
    TooLarge(usize),
    /// Not JSON.
    #[error("message body is not JSON: {0}")]
    NotJson(String),
    /// JSON, but none of the known shapes.
    #[error("expected a CloudTrail notification (s3Bucket, s3ObjectKey), an S3 event notification (Records[].s3) or either inside an SNS envelope; {0}")]
    UnknownShape(String),
}

/// Parses a message body.
pub fn parse(body: &str) -> Result<Notification, NotificationError> {
    if body.len() > MAX_BODY {
        return Err(NotificationError::TooLarge(body.len()));
    }
    let v: Value =
        serde_json::from_str(body).map_err(|e| NotificationError::NotJson(e.to_string()))?;
    // An SNS envelope: the payload is a JSON string in Message.
    if v.get("Type").and_then(Value::as_str) == Some("Notification") {
        let msg = v.get("Message").and_then(Value::as_str).ok_or_else(|| {
            NotificationError::UnknownShape("SNS envelope without a Message string".into())
        })?;
        if msg.len() > MAX_BODY {
            return Err(NotificationError::TooLarge(msg.len()));
        }
        let inner: Value = serde_json::from_str(msg)
            .map_err(|e| NotificationError::NotJson(format!("in the SNS Message: {e}")))?;
        let mut n = parse_payload(&inner)?;
        n.via_sns = true;
        return Ok(n);
    }
    parse_payload(&v)
}

fn parse_payload(v: &Value) -> Result<Notification, NotificationError> {
    let unknown = |why: &str| NotificationError::UnknownShape(why.to_string());
    if let Some(bucket) = v.get("s3Bucket") {
        let bucket = bucket
            .as_str()
            .ok_or_else(|| unknown("s3Bucket is not a string"))?;
        let keys = v
            .get("s3ObjectKey")
            .and_then(Value::as_array)
            .ok_or_else(|| unknown("s3ObjectKey is not an array"))?;
        let objects = keys
            .iter()
            .map(|k| {
                k.as_str()
                    .map(|k| ObjectRef {
                        bucket: bucket.to_string(),
                        key: k.to_string(),
                    })
                    .ok_or_else(|| unknown("an s3ObjectKey item is not a string"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Notification {
            shape: Shape::CloudTrail,
            via_sns: false,
            objects,
        });
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notification {
            shape: Shape::S3Test,
            via_sns: false,
            objects: Vec::new(),
        });
    }
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        let mut objects = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if r.get("eventSource").and_then(Value::as_str) != Some("aws:s3") {
                return Err(unknown(&format!(
                    "Records[{i}] is not an aws:s3 event (a CloudTrail log file itself?)"
                )));
            }
            let name = r.get("eventName").and_then(Value::as_str).unwrap_or("");
            if !name.starts_with("ObjectCreated:") {
                // Deletions and the like announce nothing to read.
                continue;
            }
            let bucket = r
                .pointer("/s3/bucket/name")
                .and_then(Value::as_str)
                .ok_or_else(|| unknown(&format!("Records[{i}].s3.bucket.name is missing")))?;
            let key = r
                .pointer("/s3/object/key")
                .and_then(Value::as_str)
                .ok_or_else(|| unknown(&format!("Records[{i}].s3.object.key is missing")))?;
            objects.push(ObjectRef {
                bucket: bucket.to_string(),
                key: url_decode(key),
            });
        }
        return Ok(Notification {
            shape: Shape::S3Event,
            via_sns: false,
            objects,
        });
    }
    Err(unknown("found neither s3Bucket nor Records"))
}

/// Decodes an S3 event key: form encoding, `+` for a space and `%XX` escapes. Invalid escapes
/// are kept as they are.
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = r#"{"s3Bucket":"trail-bucket","s3ObjectKey":["AWSLogs/111122223333/CloudTrail/us-east-1/2024/07/31/a.json.gz","AWSLogs/111122223333/CloudTrail/us-east-1/2024/07/31/b.json.gz"]}"#;
    const S3: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail-bucket"},"object":{"key":"AWSLogs/111122223333/CloudTrail/us-east-1/2024/07/31/my+file%3D1.json.gz","size":10}}}]}"#;

    fn sns(inner: &str) -> String {
        serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:111122223333:t", "Message": inner}).to_string()
    }

    #[test]
    fn cloudtrail_notification_bare_and_in_sns() {
        for (body, via) in [(CT.to_string(), false), (sns(CT), true)] {
            let n = parse(&body).unwrap();
            assert_eq!((n.shape, n.via_sns), (Shape::CloudTrail, via));
            assert_eq!(n.objects.len(), 2);
            assert_eq!(n.objects[1].bucket, "trail-bucket");
            assert!(n.objects[1].key.ends_with("b.json.gz"));
        }
    }

    #[test]
    fn s3_event_bare_and_in_sns_with_decoded_keys() {
        for (body, via) in [(S3.to_string(), false), (sns(S3), true)] {
            let n = parse(&body).unwrap();
            assert_eq!((n.shape, n.via_sns), (Shape::S3Event, via));
            assert_eq!(n.objects.len(), 1);
            assert!(
                n.objects[0].key.ends_with("/my file=1.json.gz"),
                "{:?}",
                n.objects
            );
        }
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-07-31T13:00:00Z","Bucket":"trail-bucket"}"#;
        let n = parse(test).unwrap();
        assert_eq!((n.shape, n.objects.len()), (Shape::S3Test, 0));
        let deleted = S3.replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert!(parse(&deleted).unwrap().objects.is_empty());
    }

    #[test]
    fn bad_bodies_say_what_was_expected() {
        assert!(matches!(
            parse("not json"),
            Err(NotificationError::NotJson(_))
        ));
        let e = parse(r#"{"hello":1}"#).unwrap_err().to_string();
        assert!(e.contains("expected a CloudTrail notification"), "{e}");
        // A CloudTrail log file sent as a message is not a notification.
        let e = parse(r#"{"Records":[{"eventSource":"iam.amazonaws.com"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an aws:s3 event"), "{e}");
        let e = parse(r#"{"s3Bucket":"b","s3ObjectKey":"k"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("s3ObjectKey is not an array"), "{e}");
        assert!(matches!(
            parse(&sns("{oops")),
            Err(NotificationError::NotJson(m)) if m.contains("SNS Message")
        ));
        let big = " ".repeat(MAX_BODY + 1);
        assert!(matches!(parse(&big), Err(NotificationError::TooLarge(_))));
    }

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode("a+b%2Fc%3d"), "a b/c=");
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("%zz%4"), "%zz%4");
        assert_eq!(url_decode("%C3%A9"), "é");
    }
}
