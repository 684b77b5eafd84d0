//! The Falco rule language, end to end: each test loads rules from text, evaluates them on a
//! CloudTrail record, and names the rules that must (and must not) fire.

use harrier_events::cloudtrail::{CloudTrailEvent, Scratch};
use harrier_rules::{Diagnostic, RuleSet};

const EVENT: &str = r#"{
  "eventVersion": "1.09",
  "userIdentity": {"type": "IAMUser", "userName": "Alice", "arn": "arn:aws:iam::111122223333:user/Alice",
                   "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE"},
  "eventTime": "2026-11-20T10:00:00Z",
  "eventSource": "iam.amazonaws.com",
  "eventName": "CreateAccessKey",
  "awsRegion": "us-east-1",
  "sourceIPAddress": "198.51.100.23",
  "userAgent": "aws-cli/2.15.30",
  "requestParameters": {"userName": "bob", "path": "/usr/local/bin/xmrig", "note": "aGVsbG8=", "count": 7},
  "responseElements": {"accessKey": {"accessKeyId": "AKIANEW", "status": "Active"}},
  "additionalEventData": {"bytesTransferredIn": 100, "bytesTransferredOut": 23.9},
  "readOnly": false,
  "eventID": "e-1"
}"#;

/// Loads `body` (rule items, each with source aws_cloudtrail) and returns the names of the rules
/// that fire on `event`.
fn fire_on(body: &str, event: &str) -> Vec<String> {
    let (rules, diags) = RuleSet::load([("t.yaml", body)]);
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    fired(&rules, event)
}

/// The names of the rules of `rules` that fire on `event`, in load order.
fn fired(rules: &RuleSet, event: &str) -> Vec<String> {
    let scratch = Scratch::default();
    let ev = CloudTrailEvent::new(event.as_bytes(), 1, &scratch);
    let mut out = Vec::new();
    rules.matching(&ev, &mut out);
    out.into_iter()
        .map(|i| rules.rule(i).name.clone())
        .collect()
}

fn rule(name: &str, cond: &str) -> String {
    format!(
        "- rule: {name}\n  desc: d\n  condition: {}\n  output: o\n  priority: WARNING\n  source: aws_cloudtrail\n",
        serde_json::to_string(cond).unwrap()
    )
}

/// Whether one condition holds on EVENT.
fn holds(cond: &str) -> bool {
    !fire_on(&rule("r", cond), EVENT).is_empty()
}

fn errors_of(body: &str) -> Vec<String> {
    let (_, diags) = RuleSet::load([("bad.yaml", body)]);
    diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect()
}

#[test]
fn comparison_operators() {
    assert!(holds("ct.name = CreateAccessKey"));
    assert!(holds("ct.name == 'CreateAccessKey'"));
    assert!(!holds("ct.name = createaccesskey"));
    assert!(holds("ct.name != DeleteTrail"));
    assert!(!holds("ct.name != CreateAccessKey"));
    assert!(holds("ct.region < us-west-1") && !holds("ct.region > us-west-1"));
    assert!(holds("ct.region <= us-east-1") && holds("ct.region >= us-east-1"));
    // Numeric fields compare as numbers.
    assert!(holds("s3.bytes = 123") && holds("s3.bytes > 99") && !holds("s3.bytes < 100"));
    assert!(holds("s3.bytes.out <= 23") && holds("s3.bytes.in >= 0x64") && holds("evt.num > 0"));
}

#[test]
fn string_operators() {
    assert!(holds("ct.useragent contains cli/2") && !holds("ct.useragent contains CLI"));
    assert!(holds("ct.useragent icontains CLI/2"));
    assert!(holds("ct.useragent startswith aws-") && !holds("ct.useragent startswith cli"));
    assert!(holds("ct.useragent endswith '2.15.30'") && !holds("ct.useragent endswith aws"));
    assert!(holds("ct.user.arn glob 'arn:aws:iam::*:user/A?ice'"));
    assert!(!holds("ct.user.arn glob 'arn:aws:iam::*:role/*'"));
    assert!(holds("ct.user iglob 'ALI*'") && !holds("ct.user glob 'ALI*'"));
    assert!(holds("ct.srcip regex '198\\.51\\.[0-9]+\\.23'"));
    // regex must match the whole value, as in Falco.
    assert!(!holds("ct.srcip regex '51\\.100'"));
    // bcontains/bstartswith take hex bytes: "aws" = 617773.
    assert!(holds("ct.useragent bcontains 2d636c69") && holds("ct.useragent bstartswith 617773"));
    assert!(!holds("ct.useragent bstartswith 636c69"));
}

#[test]
fn exists_and_missing_fields() {
    assert!(holds("ct.user exists") && !holds("ct.error exists"));
    assert!(holds("not ct.error exists"));
    // A missing field fails every comparison, including !=; `not` makes it true.
    assert!(!holds("ct.error != AccessDenied"));
    assert!(holds("not ct.error = AccessDenied"));
    assert!(!holds("ct.errormessage contains x"));
}

#[test]
fn list_operators_and_modifiers() {
    assert!(
        holds("ct.name in (DeleteTrail, CreateAccessKey)") && !holds("ct.name in (DeleteTrail)")
    );
    assert!(holds("ct.name intersects (CreateAccessKey)"));
    assert!(holds("ct.request.username in ('bob', \"carol\")"));
    assert!(holds(
        "json.value[/requestParameters/path] pmatch (/usr/local, /opt)"
    ));
    assert!(!holds(
        "json.value[/requestParameters/path] pmatch (/usr/loc)"
    ));
    assert!(holds("ct.useragent contains oneof (xyz, cli)"));
    assert!(holds("ct.useragent contains anyof (xyz, cli)"));
    assert!(!holds("ct.useragent contains allof (xyz, cli)"));
    assert!(holds("ct.useragent contains allof (aws, cli)"));
    assert!(holds("ct.useragent startswith anyof (x, aws)"));
    assert!(holds("ct.name = oneof (A, CreateAccessKey)"));
    assert!(holds("s3.bytes in (1, 123)") && !holds("s3.bytes in (1, 2)"));
    assert!(!holds("ct.name in ()"));
}

#[test]
fn list_valued_fields() {
    let ev = r#"{"eventName":"RunInstances","responseElements":{"instancesSet":{"items":[{"imageId":"ami-1"},{"imageId":"ami-2"}]}}}"#;
    let f = |c: &str| !fire_on(&rule("r", c), ev).is_empty();
    assert!(f("ec2.imageids in (ami-1, ami-2, ami-3)"));
    assert!(
        !f("ec2.imageids in (ami-1)"),
        "in needs every value in the set"
    );
    assert!(f("ec2.imageids intersects (ami-2, ami-9)"));
    assert!(f("ec2.imageids[1] = ami-2") && f("ec2.imageid = ami-1"));
    assert!(f("ec2.imageids exists"));
    let errs = errors_of(&rule("r", "ec2.imageids contains ami"));
    assert!(errs[0].contains("holds a list"), "{errs:?}");
}

#[test]
fn precedence_and_parentheses() {
    // or < and < not: "a or b and c" is "a or (b and c)".
    assert!(holds(
        "ct.name = X or ct.name = CreateAccessKey and ct.region = us-east-1"
    ));
    assert!(holds(
        "ct.name = CreateAccessKey or ct.name = X and ct.region = nope"
    ));
    assert!(!holds(
        "(ct.name = CreateAccessKey or ct.name = X) and ct.region = nope"
    ));
    assert!(holds("not ct.name = X and ct.region = us-east-1"));
    assert!(!holds(
        "not (ct.name = CreateAccessKey and ct.region = us-east-1)"
    ));
    assert!(holds("not not ct.name = CreateAccessKey"));
    assert!(holds("not(ct.name = X)"));
}

#[test]
fn transformers_and_val() {
    assert!(holds("tolower(ct.user) = alice") && holds("toupper(ct.user) = ALICE"));
    assert!(holds(
        "basename(json.value[/requestParameters/path]) = xmrig"
    ));
    assert!(holds("b64(json.value[/requestParameters/note]) = hello"));
    assert!(holds("len(ct.user) = 5") && holds("len(ct.user) > 4"));
    assert!(holds("ct.user != val(ct.request.username)"));
    assert!(!holds("ct.user = val(ct.request.username)"));
    assert!(!holds(
        "tolower(ct.user) startswith val(json.value[/userIdentity/userName])"
    ));
    assert!(holds("json.value[/userIdentity/userName] = val(ct.user)"));
}

#[test]
fn json_pointer_fields() {
    assert!(holds(
        "json.value[/responseElements/accessKey/status] = Active"
    ));
    assert!(holds("jevt.value[/requestParameters/count] = 7"));
    assert!(holds("json.value[/readOnly] = false"));
    assert!(holds("json.value[/responseElements/accessKey] = '{\"accessKeyId\":\"AKIANEW\",\"status\":\"Active\"}'"));
    assert!(!holds("json.value[/nope/deeper] exists"));
}

#[test]
fn macros_and_lists() {
    let body = r#"
- list: base_names
  items: [DeleteTrail]
- list: names
  items: [base_names, CreateAccessKey]
- macro: is_named
  condition: ct.name in (names)
- macro: from_cli
  condition: ct.useragent startswith aws-cli
- macro: both
  condition: is_named and from_cli
- rule: M
  desc: d
  condition: both and ct.region in (regions)
  output: o
  priority: INFO
  source: aws_cloudtrail
- list: regions
  items: ["us-east-1"]
- rule: N
  desc: d
  condition: ct.name in (base_names)
  output: o
  priority: INFO
  source: aws_cloudtrail
"#;
    // Lists inside lists, macros inside macros; the near-miss N must not fire.
    assert_eq!(fire_on(body, EVENT), vec!["M"]);
}

#[test]
fn exceptions_rewrite_like_falco() {
    let body = |values: &str| {
        format!(
            r#"
- rule: Key created
  desc: d
  condition: ct.name = CreateAccessKey
  output: o
  priority: WARNING
  source: aws_cloudtrail
  exceptions:
    - name: user_and_target
      fields: [ct.user, ct.request.username]
      comps: [=, in]
      values: {values}
    - name: regions
      fields: ct.region
      values: [eu-west-3]
    - name: no_values
      fields: [ct.user]
"#
        )
    };
    assert_eq!(
        fire_on(&body("[[Alice, [carol]]]"), EVENT),
        vec!["Key created"]
    );
    assert!(fire_on(&body("[[Alice, [carol, bob]]]"), EVENT).is_empty());
    assert!(fire_on(&body("[[Mallory, [x]], [Alice, [bob]]]"), EVENT).is_empty());
    let errs = errors_of(&body("[[Alice]]"));
    assert!(errs[0].contains("exception 'user_and_target'"), "{errs:?}");
}

#[test]
fn override_append_and_replace() {
    let base = r#"
- list: users
  items: [root]
- macro: m
  condition: ct.region = nope
- rule: R
  desc: d
  condition: ct.user in (users)
  output: o
  priority: WARNING
  source: aws_cloudtrail
  tags: [a]
"#;
    assert!(fire_on(base, EVENT).is_empty());
    let appended =
        format!("{base}\n- list: users\n  items: [Alice]\n  override:\n    items: append\n");
    assert_eq!(fire_on(&appended, EVENT), vec!["R"]);
    let legacy = format!("{base}\n- list: users\n  items: [Alice]\n  append: true\n");
    assert_eq!(fire_on(&legacy, EVENT), vec!["R"]);
    let cond = format!("{base}\n- rule: R\n  condition: or ct.region = us-east-1\n  override:\n    condition: append\n");
    assert_eq!(fire_on(&cond, EVENT), vec!["R"]);
    let replaced =
        format!("{base}\n- rule: R\n  condition: ct.name = CreateAccessKey\n  override:\n    condition: replace\n");
    assert_eq!(fire_on(&replaced, EVENT), vec!["R"]);
    let disabled =
        format!("{replaced}\n- rule: R\n  enabled: false\n  override:\n    enabled: replace\n");
    assert!(fire_on(&disabled, EVENT).is_empty());
    let legacy_disable = format!("{replaced}\n- rule: R\n  enabled: false\n");
    assert!(fire_on(&legacy_disable, EVENT).is_empty());
    let macro_append = format!(
        "{base}\n- macro: m\n  condition: or ct.region = us-east-1\n  append: true\n- rule: R\n  condition: m\n  override:\n    condition: replace\n"
    );
    assert_eq!(fire_on(&macro_append, EVENT), vec!["R"]);
    let prio = format!(
        "{replaced}\n- rule: R\n  priority: CRITICAL\n  override:\n    priority: replace\n"
    );
    let (rules, _) = RuleSet::load([("t.yaml", prio.as_str())]);
    assert_eq!(rules.rules()[0].priority, harrier_rules::Priority::Critical);
    // Overriding something never defined, or appending to an unappendable key, is an error.
    assert!(
        errors_of("- rule: Ghost\n  condition: x\n  override:\n    condition: append\n")[0]
            .contains("not defined")
    );
    let bad = format!("{base}\n- rule: R\n  priority: INFO\n  override:\n    priority: append\n");
    assert!(errors_of(&bad)[0].contains("cannot be appended"));
    let both = format!(
        "{base}\n- rule: R\n  condition: x\n  append: true\n  override:\n    condition: append\n"
    );
    assert!(errors_of(&both)[0].contains("cannot be used together"));
}

#[test]
fn rule_index_only_skips_rules_that_cannot_match() {
    // Rules constrained through macros to other event names must not fire, others must.
    let body = r#"
- macro: trail_events
  condition: ct.name in (StopLogging, DeleteTrail)
- rule: Trail
  desc: d
  condition: trail_events and ct.user exists
  output: o
  priority: WARNING
  source: aws_cloudtrail
- rule: Any IAM
  desc: d
  condition: ct.src = iam.amazonaws.com
  output: o
  priority: WARNING
  source: aws_cloudtrail
- rule: Either
  desc: d
  condition: ct.name = StopLogging or ct.user = Alice
  output: o
  priority: WARNING
  source: aws_cloudtrail
"#;
    assert_eq!(fire_on(body, EVENT), vec!["Any IAM", "Either"]);
}

#[test]
fn errors_name_file_line_column_item_and_what_was_expected() {
    let body = "- rule: A\n  desc: d\n  condition: ct.nmae = x\n  output: o\n  priority: WARNING\n  source: aws_cloudtrail\n\
                - rule: B\n  desc: d\n  condition: ct.name = \n  output: o\n  priority: LOUD\n  source: aws_cloudtrail\n\
                - rule: C\n  desc: d\n  condition: undefined_macro\n  output: '%ct.nope'\n  priority: INFO\n  source: aws_cloudtrail\n\
                - rule: D\n  condition: ct.name = x\n";
    let errs = errors_of(body);
    let all = errs.join("\n");
    assert!(all.contains("bad.yaml:3:14: error: rule 'A': condition: unknown field 'ct.nmae' for source 'aws_cloudtrail'"), "{all}");
    assert!(
        all.contains("bad.yaml:9:14: error: rule 'B': condition: expected a value, found the end"),
        "{all}"
    );
    assert!(all.contains("rule 'B': unknown priority 'LOUD'"), "{all}");
    assert!(
        all.contains("rule 'C': condition: undefined macro 'undefined_macro'"),
        "{all}"
    );
    assert!(
        all.contains("rule 'C': output: unknown field 'ct.nope'"),
        "{all}"
    );
    assert!(
        all.contains("rule 'D': missing required key 'output'"),
        "{all}"
    );
    // Every error is listed, not only the first.
    assert!(errs.len() >= 6, "{errs:#?}");
    assert!(errors_of("- rule: [\n")[0].contains("invalid YAML"));
    assert!(errors_of("rule: x\n")[0].contains("must be a list of items"));
    assert!(errors_of(&rule("r", "ct.name regex '('"))[0].contains("invalid regex"));
    assert!(errors_of(&rule("r", "s3.bytes > lots"))[0].contains("expected a number"));
    assert!(errors_of(&rule("r", "json.value = x"))[0].contains("requires an argument"));
    assert!(errors_of("- required_engine_version: 99.0.0\n")[0].contains("require engine version"));
    let cyclic =
        "- macro: a\n  condition: b\n- macro: b\n  condition: a\n".to_string() + &rule("r", "a");
    assert!(errors_of(&cyclic)[0].contains("refers to itself"));
}

#[test]
fn skip_if_unknown_filter_makes_unknown_fields_a_warning() {
    let body = "- rule: A\n  desc: d\n  condition: ct.nope = x\n  output: o\n  priority: INFO\n  source: aws_cloudtrail\n  skip-if-unknown-filter: true\n";
    let (rules, diags) = RuleSet::load([("t.yaml", body)]);
    assert!(diags.iter().all(|d| !d.is_error()));
    assert!(!rules.rules()[0].is_runnable());
}

#[test]
fn output_templates_render_fields_and_na() {
    let body = "- rule: O\n  desc: d\n  condition: ct.name exists\n  output: 'by %ct.user (%ct.user.identitytype) err=%ct.error ptr=%json.value[/requestParameters/userName]. 100%'\n  priority: INFO\n  source: aws_cloudtrail\n";
    let (rules, _) = RuleSet::load([("t.yaml", body)]);
    let scratch = Scratch::default();
    let ev = CloudTrailEvent::new(EVENT.as_bytes(), 1, &scratch);
    let r = rules.render(0, &ev);
    assert_eq!(r.text, "by Alice (IAMUser) err=<NA> ptr=bob. 100%");
    assert_eq!(r.fields[2], ("ct.error", None));
    assert_eq!(r.fields[3].0, "json.value[/requestParameters/userName]");
}

#[test]
fn priorities_filter_and_rules_for_other_sources_do_not_run() {
    let body = format!(
        "{}{}- rule: S\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: EMERGENCY\n\
         - rule: G\n  desc: d\n  condition: g.name = x\n  output: o\n  priority: EMERGENCY\n  source: gcp_auditlog\n",
        rule("W", "ct.name exists"),
        rule("W2", "ct.name exists").replace("WARNING", "critical")
    );
    let (mut rules, diags) = RuleSet::load([("t.yaml", body.as_str())]);
    assert!(diags
        .iter()
        .any(|d| d.message.contains("unknown-source") && d.message.contains("'gcp_auditlog'")));
    // A rule without `source` is a syscall rule: it compiles, and never runs on CloudTrail.
    assert!(rules.rules()[2].is_runnable() && rules.rules()[2].source == "syscall");
    rules.set_min_priority(harrier_rules::Priority::Error);
    let scratch = Scratch::default();
    let ev = CloudTrailEvent::new(EVENT.as_bytes(), 1, &scratch);
    let mut out = Vec::new();
    rules.matching(&ev, &mut out);
    assert_eq!(out, vec![1]);
}

#[test]
fn a_rule_declares_its_noise_key_and_window() {
    let body = "- rule: Root\n  desc: d\n  condition: ct.name = CreateAccessKey\n  output: root %ct.name from %ct.srcip [%ct.useragent]\n  priority: ERROR\n  source: aws_cloudtrail\n  noise:\n    key: [ct.srcip, ct.useragent]\n    window: 4h\n";
    let (rules, diags) = RuleSet::load([("t.yaml", body)]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    let n = rules.rules()[0].noise.clone().unwrap();
    assert_eq!(n.key, ["ct.srcip", "ct.useragent"]);
    assert_eq!(n.window_ns, 4 * 3600 * 1_000_000_000);
    // An override replaces it.
    let over = "- rule: Root\n  noise:\n    key: [ct.srcip]\n    window: 10m\n  override:\n    noise: replace\n";
    let (rules, diags) = RuleSet::load([("t.yaml", body), ("o.yaml", over)]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    assert_eq!(rules.rules()[0].noise.as_ref().unwrap().key, ["ct.srcip"]);
    // Mistakes are errors that say what is wrong: a key field the output does not carry (the
    // key is read from the alert), a window that is not a duration, an unknown key.
    for (bad, want) in [
        (
            "    key: [ct.user.arn]\n    window: 4h\n",
            "key field 'ct.user.arn' is not in the output",
        ),
        ("    key: [ct.srcip]\n    window: soon\n", "window 'soon'"),
        (
            "    key: [ct.srcip]\n    window: 4h\n    max: 3\n",
            "unknown key 'max'",
        ),
        ("    window: 4h\n", "needs 'key'"),
    ] {
        let text = body.replace("    key: [ct.srcip, ct.useragent]\n    window: 4h\n", bad);
        let (_, diags) = RuleSet::load([("t.yaml", text.as_str())]);
        assert!(
            diags
                .iter()
                .any(|d| d.is_error() && d.message.contains(want)),
            "{want}: {diags:#?}"
        );
    }
}

#[test]
fn rules_on_a_type_prefix_are_indexed_and_fire_in_load_order_once() {
    // CloudTrail suffixes some names with an API version (UpdateFunctionConfiguration20150331v2):
    // rules written with `startswith` on ct.name are indexed by the prefix, not run on every
    // event, and still meet every name with it, known to the index or not.
    let body = [
        rule("Unconstrained", "ct.region = us-east-1"),
        rule(
            "Two prefixes",
            "ct.name startswith Create or ct.name startswith CreateAccess",
        ),
        rule("Exact", "ct.name = CreateAccessKey"),
        rule("Other prefix", "ct.name startswith UpdateFunction"),
        rule(
            "Prefix and exact",
            "ct.name startswith Create and ct.name in (CreateUser, CreateAccessKey)",
        ),
    ]
    .concat();
    let (rules, _) = RuleSet::load([("t.yaml", body.as_str())]);
    assert_eq!(rules.unindexed("aws_cloudtrail"), ["Unconstrained"]);
    assert_eq!(
        fire_on(&body, EVENT),
        ["Unconstrained", "Two prefixes", "Exact", "Prefix and exact"]
    );
    // A name no rule names exactly: only the prefix rules and the unconstrained one.
    let versioned = EVENT.replace("CreateAccessKey", "CreateAccessKey20260101");
    assert_eq!(
        fire_on(&body, &versioned),
        ["Unconstrained", "Two prefixes"]
    );
    // Near miss: the prefix is only a substring.
    let inner = EVENT.replace("CreateAccessKey", "ReCreateAccessKey");
    assert_eq!(fire_on(&body, &inner), ["Unconstrained"]);
}

#[test]
fn rules_on_the_identity_type_alone_are_indexed_by_it() {
    // Rules that do not pin the event name but do pin userIdentity.type (Falco's field, or a
    // Sigma rule's path) run only on events of that identity type.
    let body = [
        rule("Root", "ct.user.identitytype = Root"),
        rule(
            "Root or user",
            "ct.user.identitytype in (Root, IAMUser) and ct.region = us-east-1",
        ),
        rule("Unconstrained", "ct.region = us-east-1"),
        rule("Named", "ct.name = CreateAccessKey"),
    ]
    .concat();
    let sigma = "title: Sigma root\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    userIdentity.type: root\n  condition: sel\nlevel: high\n";
    let (rules, diags) = RuleSet::load([("t.yaml", body.as_str()), ("s.yml", sigma)]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    assert_eq!(rules.unindexed("aws_cloudtrail"), ["Unconstrained"]);
    let fire = |event: &str| fired(&rules, event);
    // EVENT is an IAMUser's CreateAccessKey.
    assert_eq!(fire(EVENT), ["Root or user", "Unconstrained", "Named"]);
    let root = EVENT.replace(r#""type": "IAMUser""#, r#""type": "Root""#);
    assert_eq!(
        fire(&root),
        [
            "Root",
            "Root or user",
            "Unconstrained",
            "Named",
            "Sigma root"
        ]
    );
    // Near misses: another type, and no identity type at all.
    let role = EVENT.replace(r#""type": "IAMUser""#, r#""type": "AssumedRole""#);
    assert_eq!(fire(&role), ["Unconstrained", "Named"]);
    let none = EVENT.replace(r#""type": "IAMUser", "#, "");
    assert_eq!(fire(&none), ["Unconstrained", "Named"]);
}
