//! Field extraction on real CloudTrail records from ../shared/corpus and on crafted ones.

use std::path::PathBuf;

use harrier_events::cloudtrail::{CloudTrailEvent, Scratch, SOURCE};
use harrier_events::{Event, Value};

fn corpus_record(file: &str, index: usize) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/cloudtrail/stratus-red-team")
        .join(file);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Pretty-printed, as CloudTrail delivers them in the corpus: the scanner must not care.
    serde_json::to_vec_pretty(&v[index]).unwrap()
}

/// Extracts `field` (with optional `[arg]`) as text; None when absent.
fn get(bytes: &[u8], field: &str) -> Option<String> {
    let scratch = Scratch::default();
    let ev = CloudTrailEvent::new(bytes, 42, &scratch);
    let (name, arg) = match field.find('[') {
        Some(i) => (&field[..i], Some(&field[i + 1..field.len() - 1])),
        None => (field, None),
    };
    let f = SOURCE.resolve(name, arg).unwrap_or_else(|e| panic!("{e}"));
    let v = ev.extract(&f).map(|v| v.to_string());
    assert_eq!(ev.error(), None, "{field}");
    v
}

#[test]
fn iam_user_record_fields() {
    let r = corpus_record("aws.defense-evasion.cloudtrail-stop.json", 0);
    let g = |f: &str| get(&r, f);
    assert_eq!(
        g("ct.id").as_deref(),
        Some("10163ed2-2253-469d-a5ee-cbc6651f8934")
    );
    assert_eq!(g("ct.name").as_deref(), Some("StopLogging"));
    assert_eq!(g("ct.src").as_deref(), Some("cloudtrail.amazonaws.com"));
    assert_eq!(g("ct.shortsrc").as_deref(), Some("cloudtrail"));
    assert_eq!(g("ct.time").as_deref(), Some("2024-07-31T13:06:24Z"));
    assert_eq!(g("ct.user").as_deref(), Some("christophe"));
    assert_eq!(g("ct.originaluser").as_deref(), Some("christophe"));
    assert_eq!(g("ct.user.identitytype").as_deref(), Some("IAMUser"));
    assert_eq!(
        g("ct.user.arn").as_deref(),
        Some("arn:aws:iam::143434273843:user/christophe")
    );
    assert_eq!(
        g("ct.user.principalid").as_deref(),
        Some("AIDAOC1SYDVN0AF0FMMR")
    );
    assert_eq!(g("ct.user.accountid").as_deref(), Some("143434273843"));
    assert_eq!(g("ct.region").as_deref(), Some("apiso-centralnorth-2r"));
    assert_eq!(g("ct.srcip").as_deref(), Some("86.245.153.234"));
    assert_eq!(
        g("ct.useragent").as_deref(),
        Some("stratus-red-team_c97089f1-1ae3-4ecc-b006-f5e8fd0f2571")
    );
    assert_eq!(
        g("ct.request.name").as_deref(),
        Some("stratus-red-team-ct-stop-trail-buykxbqejv")
    );
    assert_eq!(
        g("ct.request").as_deref(),
        Some(r#"{"name":"stratus-red-team-ct-stop-trail-buykxbqejv"}"#)
    );
    assert_eq!(g("ct.response").as_deref(), Some("null"));
    assert_eq!(g("ct.readonly").as_deref(), Some("false"));
    assert_eq!(g("ct.managementevent").as_deref(), Some("true"));
    assert_eq!(g("ct.eventcategory").as_deref(), Some("Management"));
    assert_eq!(g("ct.eventtype").as_deref(), Some("AwsApiCall"));
    assert_eq!(
        g("ct.requestid").as_deref(),
        Some("14c891b6-11b5-4787-ae97-64a974977078")
    );
    assert_eq!(g("ct.recipientaccountid").as_deref(), Some("143434273843"));
    assert_eq!(g("ct.tlsdetails.tlsversion").as_deref(), Some("TLSv1.3"));
    assert_eq!(
        g("ct.tlsdetails.ciphersuite").as_deref(),
        Some("TLS_AES_128_GCM_SHA256")
    );
    assert_eq!(
        g("ct.tlsdetails.clientprovidedhostheader").as_deref(),
        Some("cloudtrail.apiso-centralnorth-2r.amazonaws.com")
    );
    assert_eq!(
        g("ct.info").as_deref(),
        Some("christophe via 86.245.153.234 → StopLogging")
    );
    assert_eq!(g("evt.plugininfo"), g("ct.info"));
    assert_eq!(
        g("evt.time").as_deref(),
        Some("2024-07-31T13:06:24.000000000Z")
    );
    assert_eq!(g("evt.datetime").as_deref(), Some("2024-07-31 13:06:24"));
    assert_eq!(g("evt.rawtime").as_deref(), Some("1722431184000000000"));
    assert_eq!(g("evt.num").as_deref(), Some("42"));
    assert_eq!(g("evt.source").as_deref(), Some("aws_cloudtrail"));
    assert_eq!(
        g("json.value[/userIdentity/accessKeyId]").as_deref(),
        Some("AKIAGGWFBBHBE7D3M9WI")
    );
    assert_eq!(g("json.value[/managementEvent]").as_deref(), Some("true"));
    assert_eq!(g("json.rawtime").as_deref(), Some("2024-07-31T13:06:24Z"));
    for absent in [
        "ct.error",
        "ct.errormessage",
        "ct.request.username",
        "ct.response.subnetid",
        "ct.resources",
        "ct.vpcendpointid",
        "ct.addendum.reason",
        "ct.additionaleventdata",
        "s3.bucket",
        "s3.uri",
        "s3.bytes",
        "ec2.name",
        "ec2.imageids",
        "ecr.repository",
        "iam.role",
        "ct.request.documentname",
        "json.value[/requestParameters/nope]",
    ] {
        assert_eq!(g(absent), None, "{absent}");
    }
    assert_eq!(g("s3.cnt.other").as_deref(), Some("1"));
    assert_eq!(g("s3.cnt.get"), None);
}

#[test]
fn assumed_role_record_fields() {
    let r = corpus_record("aws.credential-access.ec2-get-password-data.json", 0);
    let g = |f: &str| get(&r, f);
    assert_eq!(g("ct.user.identitytype").as_deref(), Some("AssumedRole"));
    assert_eq!(
        g("ct.user").as_deref(),
        Some("stratus-red-team-ec2-get-password-data-role")
    );
    assert_eq!(
        g("ct.originaluser").as_deref(),
        Some("aws-go-sdk-1722375070115152000")
    );
    assert_eq!(
        g("ct.error").as_deref(),
        Some("Client.UnauthorizedOperation")
    );
    assert!(g("ct.errormessage")
        .unwrap()
        .starts_with("You are not authorized"));
    assert_eq!(g("ct.readonly").as_deref(), Some("true"));
    let info = g("ct.info").unwrap();
    assert!(info.ends_with("!← GetPasswordData"), "{info}");
}

#[test]
fn ec2_s3_iam_and_json_fields_on_crafted_records() {
    let run = br#"{"eventName":"RunInstances","requestParameters":{"instancesSet":{"items":[{"imageId":"ami-req"}]},
        "tagSpecificationSet":{"items":[{"resourceType":"volume","tags":[{"key":"Name","value":"vol"}]},
                                        {"resourceType":"instance","tags":[{"key":"env","value":"x"},{"key":"Name","value":"web-1"}]}]}},
        "responseElements":{"instancesSet":{"items":[{"imageId":"ami-1"},{"imageId":"ami-2"}]}},
        "resources":[{"ARN":"arn:a","type":"AWS::EC2::Instance"},{"ARN":"arn:b"}],
        "userIdentity":{"type":"AssumedRole","principalId":"AROAX:session-9","arn":"arn:aws:sts::1:assumed-role/r"}}"#;
    assert_eq!(get(run, "ec2.name").as_deref(), Some("web-1"));
    assert_eq!(get(run, "ec2.imageids").as_deref(), Some("(ami-1,ami-2)"));
    assert_eq!(get(run, "ec2.imageids[1]").as_deref(), Some("ami-2"));
    assert_eq!(get(run, "ec2.imageids[5]"), None);
    assert_eq!(get(run, "ec2.imageid").as_deref(), Some("ami-1"));
    assert_eq!(
        get(run, "ct.resources").as_deref(),
        Some(r#"{"ARN":"arn:a","type":"AWS::EC2::Instance"},{"ARN":"arn:b"}"#)
    );
    // AssumedRole without sessionIssuer: literal "AssumedRole"; original user from principalId.
    assert_eq!(get(run, "ct.user").as_deref(), Some("AssumedRole"));
    assert_eq!(get(run, "ct.originaluser").as_deref(), Some("session-9"));

    let s3 = br#"{"eventName":"GetObject","requestParameters":{"bucketName":"b","key":"k/x.txt","Host":"b.s3"},
        "additionalEventData":{"bytesTransferredIn":0,"bytesTransferredOut":1234.0},
        "userIdentity":{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"},"sourceIPAddress":"1.2.3.4"}"#;
    assert_eq!(get(s3, "s3.bucket").as_deref(), Some("b"));
    assert_eq!(get(s3, "s3.key").as_deref(), Some("k/x.txt"));
    assert_eq!(get(s3, "s3.uri").as_deref(), Some("s3://b/k/x.txt"));
    assert_eq!(get(s3, "s3.bytes").as_deref(), Some("1234"));
    assert_eq!(get(s3, "s3.bytes.in").as_deref(), Some("0"));
    assert_eq!(get(s3, "s3.cnt.get").as_deref(), Some("1"));
    assert_eq!(get(s3, "s3.cnt.other"), None);
    assert_eq!(get(s3, "ct.request.host").as_deref(), Some("b.s3"));
    assert_eq!(
        get(s3, "ct.user").as_deref(),
        Some("cloudtrail.amazonaws.com")
    );
    assert_eq!(get(s3, "ct.readonly"), None);
    assert_eq!(
        get(s3, "ct.info").as_deref(),
        Some("cloudtrail.amazonaws.com via 1.2.3.4 ← GetObject Size=1234 URI=s3://b/k/x.txt")
    );

    let iam = br#"{"eventName":"PutRolePolicy","requestParameters":{"roleName":"r1","policyName":"p1","repositoryName":"repo","imageTag":"v1",
        "a/b":{"c~d":"escaped"},"list":[10,{"x":"y"}]},"recipientAccountId":"999","userIdentity":{"type":"Root","userName":"root-name"},
        "additionalEventData":{"MFAUsed":"No"},"sessionCredentialFromConsole":"true"}"#;
    assert_eq!(get(iam, "iam.role").as_deref(), Some("r1"));
    assert_eq!(get(iam, "iam.policy").as_deref(), Some("p1"));
    assert_eq!(get(iam, "ecr.repository").as_deref(), Some("repo"));
    assert_eq!(get(iam, "ecr.imagetag").as_deref(), Some("v1"));
    assert_eq!(get(iam, "ct.user").as_deref(), Some("root-name"));
    // accountId missing from userIdentity: falls back to recipientAccountId.
    assert_eq!(get(iam, "ct.user.accountid").as_deref(), Some("999"));
    assert_eq!(
        get(iam, "ct.additionaleventdata").as_deref(),
        Some(r#"{"MFAUsed":"No"}"#)
    );
    assert_eq!(
        get(iam, "json.value[/requestParameters/a~1b/c~0d]").as_deref(),
        Some("escaped")
    );
    assert_eq!(
        get(iam, "json.value[/requestParameters/list/1/x]").as_deref(),
        Some("y")
    );
    assert_eq!(
        get(iam, "json.value[/requestParameters/list/0]").as_deref(),
        Some("10")
    );
    // Not a JSON boolean: absent, as in Falco's plugin.
    assert_eq!(get(iam, "ct.sessioncredentialfromconsole"), None);
}

#[test]
fn strings_with_escapes_are_decoded() {
    let r = br#"{"eventName":"Create\u0055ser","userAgent":"a\"b\\c\u00e9"}"#;
    assert_eq!(get(r, "ct.name").as_deref(), Some("CreateUser"));
    assert_eq!(get(r, "ct.useragent").as_deref(), Some("a\"b\\cé"));
}

#[test]
fn every_field_is_resolvable_and_never_panics_on_odd_shapes() {
    // Every field against records whose members have unexpected types.
    let odd: [&[u8]; 4] = [
        br#"{"eventName":5,"userIdentity":"x","requestParameters":[1,2],"responseElements":{"instancesSet":7},"additionalEventData":{"bytesTransferredIn":"9"}}"#,
        br#"{}"#,
        br#"{"userIdentity":{"type":"AssumedRole","arn":"a/b/c/d"},"requestParameters":{"tagSpecificationSet":{"items":[1,{"resourceType":"instance","tags":5}]}}}"#,
        br#"{"eventTime":"not a time","resources":{"a":1},"readOnly":"yes"}"#,
    ];
    for rec in odd {
        let scratch = Scratch::default();
        let ev = CloudTrailEvent::new(rec, 1, &scratch);
        for f in SOURCE.fields {
            let arg = match f.arg {
                harrier_events::field::ArgSpec::RequiredPointer => Some("/a/0/b"),
                harrier_events::field::ArgSpec::RequiredPath => Some("a.b"),
                harrier_events::field::ArgSpec::RequiredKey => Some("k"),
                _ => None,
            };
            let r = SOURCE.resolve(f.name, arg).unwrap();
            let _ = ev.extract(&r);
        }
        assert_eq!(ev.error(), None);
    }
    let scratch = Scratch::default();
    let ev = CloudTrailEvent::new(br#"{"eventName":5}"#, 1, &scratch);
    assert_eq!(ev.type_key(), None);
    assert!(matches!(
        ev.extract(&SOURCE.resolve("evt.num", None).unwrap()),
        Some(Value::U64(1))
    ));
}

#[test]
fn malformed_json_is_reported_not_guessed() {
    let scratch = Scratch::default();
    let ev = CloudTrailEvent::new(
        br#"{"eventName":"X","userIdentity":{"type": }"#,
        1,
        &scratch,
    );
    assert_eq!(ev.type_key().as_deref(), Some("X"));
    assert_eq!(ev.extract(&SOURCE.resolve("ct.user", None).unwrap()), None);
    let e = ev.error().expect("syntax error recorded");
    assert_eq!(e.offset, 41);
    let ev = CloudTrailEvent::new(br#"{"eventName":"X"} trailing"#, 1, &scratch);
    assert!(ev.validate().is_some());
}
