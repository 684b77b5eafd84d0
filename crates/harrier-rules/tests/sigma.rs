//! Sigma conformance: one test per modifier and condition form, each with an event that must
//! match and a near-miss that must not.

use harrier_events::cloudtrail::{CloudTrailEvent, Scratch};
use harrier_rules::{Diagnostic, RuleSet, Severity};

const EVENT: &str = r#"{
  "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "awsRegion": "us-east-1",
  "sourceIPAddress": "10.1.2.3", "userAgent": "aws-cli/2.15 Python/3.11", "readOnly": false,
  "userIdentity": {"type": "IAMUser", "userName": "alice", "arn": "arn:aws:iam::111122223333:user/alice"},
  "requestParameters": {"userName": "alice", "path": "C:\\Windows\\*star", "count": 443, "cmd": "run -enc aGVsbG8=",
                        "host": ["a.example.com", "b.example.com"], "items": [{"port": 22}, {"port": 443}], "nothing": null,
                        "wide": "YwBtAGQA", "obj": {"k": "v"}},
  "responseElements": null
}"#;

fn rule(detection: &str) -> String {
    format!(
        "title: T\nid: 11111111-2222-3333-4444-555555555555\nlevel: high\ntags: [attack.persistence]\n\
         logsource:\n  product: aws\n  service: cloudtrail\ndetection:\n{detection}\n"
    )
}

fn load(text: &str) -> (RuleSet, Vec<Diagnostic>) {
    RuleSet::load([("sigma.yml", text)])
}

fn fires_on(detection: &str, event: &str) -> bool {
    let text = rule(detection);
    let (rules, diags) = load(&text);
    let errs: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    assert!(errs.is_empty(), "{errs:#?}");
    assert!(rules.rules()[0].is_runnable(), "{diags:#?}");
    let scratch = Scratch::default();
    let ev = CloudTrailEvent::new(event.as_bytes(), 1, &scratch);
    let mut out = Vec::new();
    rules.matching(&ev, &mut out);
    !out.is_empty()
}

fn fires(detection: &str) -> bool {
    fires_on(detection, EVENT)
}

fn sel(body: &str) -> String {
    format!("  selection:\n{body}\n  condition: selection")
}

#[test]
fn plain_values_are_case_insensitive_and_lists_are_or() {
    assert!(fires(&sel("    eventName: createaccesskey")));
    assert!(!fires(&sel("    eventName: CreateUser")));
    assert!(fires(&sel(
        "    eventName:\n      - CreateUser\n      - CreateAccessKey"
    )));
    assert!(!fires(&sel(
        "    eventName:\n      - CreateUser\n      - DeleteUser"
    )));
    // Fields of one map are ANDed.
    assert!(fires(&sel(
        "    eventName: CreateAccessKey\n    awsRegion: us-east-1"
    )));
    assert!(!fires(&sel(
        "    eventName: CreateAccessKey\n    awsRegion: eu-west-1"
    )));
    // A list of maps is ORed.
    assert!(fires(&sel(
        "    - eventName: nope\n    - awsRegion: us-east-1"
    )));
    assert!(!fires(&sel("    - eventName: nope\n    - awsRegion: nope")));
}

#[test]
fn cased() {
    assert!(fires(&sel("    eventName|cased: CreateAccessKey")));
    assert!(!fires(&sel("    eventName|cased: createaccesskey")));
}

#[test]
fn wildcards_and_escapes() {
    assert!(fires(&sel("    eventName: Create*Key")));
    assert!(fires(&sel("    eventName: Create?ccessKey")));
    assert!(!fires(&sel("    eventName: Create?Key")));
    // `\\*` is a literal backslash then a wildcard; the backslash before W is literal.
    assert!(fires(&sel(
        r"    requestParameters.path: 'C:\Windows\\*star'"
    )));
    assert!(!fires(&sel(
        r"    requestParameters.path: 'C:\Windows\\*stars'"
    )));
    assert!(fires(&sel(
        r"    requestParameters.path|endswith: '\*star'"
    )));
    assert!(!fires(&sel(
        r"    requestParameters.path|endswith: '\*sta'"
    )));
}

#[test]
fn contains_startswith_endswith_and_all() {
    assert!(fires(&sel("    userAgent|contains: CLI/2")));
    assert!(!fires(&sel("    userAgent|contains: boto3")));
    assert!(fires(&sel("    userAgent|startswith: aws-cli")));
    assert!(!fires(&sel("    userAgent|startswith: cli")));
    assert!(fires(&sel("    userAgent|endswith: python/3.11")));
    assert!(!fires(&sel("    userAgent|endswith: python")));
    assert!(fires(&sel(
        "    userAgent|contains|all:\n      - aws-cli\n      - Python"
    )));
    assert!(!fires(&sel(
        "    userAgent|contains|all:\n      - aws-cli\n      - boto3"
    )));
    assert!(fires(&sel(
        "    userAgent|contains:\n      - aws-cli\n      - boto3"
    )));
}

#[test]
fn regex_with_flags() {
    assert!(fires(&sel("    userIdentity.arn|re: ':user/al[a-z]+$'")));
    assert!(!fires(&sel("    userIdentity.arn|re: ':role/'")));
    assert!(!fires(&sel("    userIdentity.arn|re: ':USER/'")));
    assert!(fires(&sel("    userIdentity.arn|re|i: ':USER/'")));
}

#[test]
fn base64_utf16_and_windash() {
    assert!(fires(&sel(
        "    requestParameters.cmd|base64|contains: hello"
    )));
    assert!(!fires(&sel(
        "    requestParameters.cmd|base64|contains: world"
    )));
    assert!(fires(&sel(
        "    requestParameters.cmd|base64offset|contains: hello"
    )));
    assert!(fires(&sel("    requestParameters.wide|wide|base64: cmd")));
    assert!(!fires(&sel(
        "    requestParameters.wide|utf16be|base64: cmd"
    )));
    assert!(fires(&sel(
        "    requestParameters.cmd|windash|contains: ' /enc '"
    )));
    assert!(!fires(&sel("    requestParameters.cmd|contains: ' /enc '")));
}

#[test]
fn numbers_booleans_cidr_and_comparisons() {
    // JSON numbers and booleans match the rule's text.
    assert!(fires(&sel("    requestParameters.count: 443")));
    assert!(fires(&sel("    requestParameters.count: '443'")));
    assert!(fires(&sel("    readOnly: 'false'")));
    assert!(!fires(&sel("    readOnly: 'true'")));
    assert!(fires(&sel("    requestParameters.count|gt: 400")));
    assert!(!fires(&sel("    requestParameters.count|lt: 400")));
    assert!(
        fires(&sel("    requestParameters.count|gte: 443"))
            && fires(&sel("    requestParameters.count|lte: 443"))
    );
    assert!(fires(&sel("    sourceIPAddress|cidr: 10.0.0.0/8")));
    assert!(!fires(&sel("    sourceIPAddress|cidr: 192.168.0.0/16")));
}

#[test]
fn null_exists_and_neq() {
    // null: absent field, or JSON null.
    assert!(fires(&sel("    errorCode: null")));
    assert!(fires(&sel("    responseElements: null")));
    assert!(fires(&sel("    requestParameters.nothing: null")));
    assert!(!fires(&sel("    eventName: null")));
    assert!(fires(&sel("    errorCode|exists: false")));
    assert!(!fires(&sel("    errorCode|exists: true")));
    assert!(fires(&sel("    eventName|exists: true")));
    assert!(fires(&sel("    eventName|neq: CreateUser")));
    assert!(!fires(&sel("    eventName|neq: CreateAccessKey")));
}

#[test]
fn nested_paths_lists_in_the_event_and_objects() {
    assert!(fires(&sel("    requestParameters.host: b.example.com")));
    assert!(!fires(&sel("    requestParameters.host: c.example.com")));
    // Dotted paths go through arrays: any element matches.
    assert!(fires(&sel("    requestParameters.items.port: 22")));
    assert!(!fires(&sel("    requestParameters.items.port: 80")));
    // A string test on an object reads its compact JSON text.
    assert!(fires(&sel(
        "    requestParameters.obj|contains: '\"k\":\"v\"'"
    )));
}

#[test]
fn fieldref_compares_two_fields() {
    assert!(fires(&sel(
        "    userIdentity.userName|fieldref: requestParameters.userName"
    )));
    assert!(!fires(&sel(
        "    userIdentity.userName|fieldref: awsRegion"
    )));
    assert!(fires(&sel(
        "    userIdentity.arn|fieldref|endswith: requestParameters.userName"
    )));
}

#[test]
fn keywords_search_the_whole_event() {
    assert!(fires(
        "  keywords:\n    - 'b.example'\n  condition: keywords"
    ));
    assert!(!fires(
        "  keywords:\n    - 'z.example'\n  condition: keywords"
    ));
}

#[test]
fn condition_forms() {
    let base = "  sel_a:\n    eventName: CreateAccessKey\n  sel_b:\n    awsRegion: us-east-1\n  filter_x:\n    userIdentity.type: Root\n  filter_y:\n    userIdentity.type: AssumedRole\n";
    let c = |cond: &str| fires(&format!("{base}  condition: {cond}"));
    assert!(c("sel_a and sel_b") && !c("sel_a and filter_x"));
    assert!(c("sel_a or filter_x") && !c("filter_x or filter_y"));
    assert!(c("sel_a and not filter_x") && !c("not sel_a"));
    assert!(c("all of sel_*") && !c("all of filter_*"));
    assert!(c("1 of sel_*") && !c("1 of filter_*"));
    assert!(c("1 of them") && !c("all of them"));
    assert!(c("(filter_x or sel_b) and sel_a") && !c("filter_x or (sel_b and filter_y)"));
    assert!(c("sel_a and not 1 of filter_*"));
    // A list of conditions: any.
    assert!(fires(&format!(
        "{base}  condition:\n    - filter_x\n    - sel_a"
    )));
}

#[test]
fn alerts_keep_one_shape() {
    let text = rule(&sel("    eventName: CreateAccessKey"));
    let (rules, _) = load(&text);
    let r = &rules.rules()[0];
    assert_eq!(r.name, "T");
    assert_eq!(r.priority, harrier_rules::Priority::Error);
    assert_eq!(
        r.tags,
        vec![
            "attack.persistence",
            "sigma_id:11111111-2222-3333-4444-555555555555"
        ]
    );
    assert_eq!(r.language.as_str(), "sigma");
    let scratch = Scratch::default();
    let ev = CloudTrailEvent::new(EVENT.as_bytes(), 1, &scratch);
    let out = rules.render(0, &ev);
    assert!(
        out.text.starts_with(
            "T: eventName=CreateAccessKey (CreateAccessKey by alice [IAMUser] from 10.1.2.3"
        ),
        "{}",
        out.text
    );
}

#[test]
fn errors_and_unsupported_features_are_reported() {
    let (_, d) = load(&rule(&sel("    eventName|containz: x")));
    assert!(
        d[0].is_error() && d[0].message.contains("unknown modifier 'containz'"),
        "{d:?}"
    );
    assert!(
        d[0].to_string().contains("sigma rule 'T'")
            && d[0].to_string().contains("field 'eventName'")
    );
    let (r, d) = load(&rule(&sel("    src_ip|expand: '%ips%'")));
    assert_eq!(d[0].severity, Severity::Warning);
    assert!(!r.rules()[0].is_runnable());
    let (r, d) = load(&rule(
        "  selection:\n    eventName: x\n  timeframe: 5m\n  condition: selection | count() > 5",
    ));
    assert!(d[0].message.contains("aggregation") && !r.rules()[0].is_runnable());
    let (_, d) = load(&rule(
        "  selection:\n    eventName: x\n  condition: selection and missing",
    ));
    assert!(d[0].message.contains("unknown search identifier 'missing'"));
    let (r, d) = load("title: C\ncorrelation:\n  type: event_count\n  rules: [x]\n");
    assert!(d[0].message.contains("correlation") && !r.rules()[0].is_runnable());
    let (r, d) = load(
        "title: K\nlogsource:\n  product: windows\ndetection:\n  s:\n    a: b\n  condition: s\n",
    );
    assert!(d[0].message.contains("not a source Harrier reads") && !r.rules()[0].is_runnable());
}

#[test]
fn sigma_and_falco_rules_mix_in_one_rule_set() {
    let falco = "- rule: F\n  desc: d\n  condition: ct.name = CreateAccessKey\n  output: o\n  priority: WARNING\n  source: aws_cloudtrail\n";
    let sigma = rule(&sel("    eventName: CreateAccessKey"));
    let (rules, diags) = RuleSet::load([("f.yaml", falco), ("s.yml", sigma.as_str())]);
    assert!(diags.is_empty(), "{diags:?}");
    let scratch = Scratch::default();
    let ev = CloudTrailEvent::new(EVENT.as_bytes(), 1, &scratch);
    let mut out = Vec::new();
    rules.matching(&ev, &mut out);
    let names: Vec<&str> = out.iter().map(|i| rules.rule(*i).name.as_str()).collect();
    assert_eq!(names, vec!["F", "T"]);
}
