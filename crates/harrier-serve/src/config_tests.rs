use super::*;

const EXAMPLE: &str = include_str!("../../../docs/harrier.example.yaml");

#[test]
fn the_documented_example_parses() {
    std::env::set_var("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/x");
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(c.sources.len(), 4);
    assert!(matches!(
        &c.sources[3],
        SourceConfig::Sensor { hidden_every: Some(h), .. } if h.0 == Duration::from_secs(300)
    ));
    assert!(c.outputs.len() >= 7);
    assert!(c.metrics.is_some());
    // Root use folds per session (address and client), not per call.
    let root = &c.noise.rules["Root Account Used"];
    assert_eq!(
        root.key.as_deref(),
        Some(&["ct.srcip".to_string(), "ct.useragent".to_string()][..])
    );
    assert_eq!(root.window, Some(Dur(Duration::from_secs(4 * 3600))));
    // The example routes Critical identity alerts to Slack.
    let slack = c.outputs.iter().find(|o| o.name() == "oncall").unwrap();
    assert_eq!(slack.filter().min_priority, Some(Prio(Priority::Critical)));
}

#[test]
fn typos_and_missing_variables_are_errors() {
    let e = parse("sources:\n  - type: sqs\n    queue_ur: x\n").unwrap_err();
    assert!(format!("{e:#}").contains("queue_ur"), "{e:#}");
    let e = parse("sources:\n  - type: kafka\n").unwrap_err();
    assert!(format!("{e:#}").contains("kafka"), "{e:#}");
    let e =
        parse("sources:\n  - type: sqs\n    queue_url: ${HARRIER_TEST_UNSET_VAR}\n").unwrap_err();
    assert!(format!("{e:#}").contains("HARRIER_TEST_UNSET_VAR"), "{e:#}");
    std::env::set_var("HARRIER_TEST_SET_VAR", "v");
    let c = parse(
        "sources:\n  - type: sqs\n    queue_url: a${HARRIER_TEST_SET_VAR}b${HARRIER_TEST_UNSET_VAR:-d}\n",
    )
    .unwrap();
    assert!(matches!(&c.sources[0], SourceConfig::Sqs { queue_url, .. } if queue_url == "avbd"));
    let e = parse("outputs: []\n").unwrap_err();
    assert!(format!("{e:#}").contains("no sources"), "{e:#}");
    let e =
        parse("sources: [{type: sqs, queue_url: q}]\noutputs: [{type: stdout}, {type: stdout}]\n")
            .unwrap_err();
    assert!(format!("{e:#}").contains("two outputs are named"), "{e:#}");
    // The incident correlation's cursor is not an output's to take; a near miss is.
    let e = parse(
        "sources: [{type: sqs, queue_url: q}]\noutputs: [{type: stdout, name: \"~incidents\"}]\n",
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("starting with `~`"), "{e:#}");
    parse(
        "sources: [{type: sqs, queue_url: q}]\noutputs: [{type: stdout, name: \"incidents~\"}]\n",
    )
    .unwrap();
    let e = parse("sources: [\n").unwrap_err();
    assert!(format!("{e:#}").contains("line"), "{e:#}");
}

#[test]
fn errors_name_the_line_and_the_key() {
    // An unknown key: its own line.
    let text =
        "sources:\n  - type: sqs\n    queue_url: q\noutputs:\n  - type: stdout\n    fromat: text\n";
    let e = parse(text).unwrap_err().to_string();
    assert!(
        e.starts_with("line 6, column 5: outputs[0]: unknown field `fromat`"),
        "{e}"
    );
    // A bad duration, priority and address: the line of the value, the key's path.
    let e = parse("sources: [{type: sqs, queue_url: q}]\nnoise:\n  window: soon\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("line 3, column 3: noise.window: \"soon\" is not a duration"),
        "{e}"
    );
    let e = parse("sources: [{type: sqs, queue_url: q}]\nrules:\n  min_priority: loud\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("line 3, column 3: rules.min_priority:"),
        "{e}"
    );
    assert!(e.contains("loud"), "{e}");
    let e = parse("sources:\n  - type: k8s_audit\n    listen: localhost-ish\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("line 3, column 5: sources[0].listen:"), "{e}");
    let e = parse("sources:\n  - type: cloudwatch_logs\n    log_group: g\n    start: whenever\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sources[0].start") && e.contains("RFC 3339"),
        "{e}"
    );
    // Aliases are refused (the rule reader's guard against "billion laughs").
    let e = parse("a: &x [1]\nb: *x\nsources: [{type: sqs, queue_url: q}]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("alias"), "{e}");
    // The file name leads when read from a file.
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("h.yaml");
    std::fs::write(&f, "sources: [{type: sqs, queue_url: q, extra: 1}]\n").unwrap();
    let e = load(&f).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: line 1", f.display())), "{e}");
}

#[test]
fn typed_values_are_parsed_at_load() {
    let c = parse(
        "sources:\n  - type: cloudwatch_logs\n    log_group: g\n    interval: 10s\n    start: 2h\n\
         outputs:\n  - type: webhook\n    url: http://x\n    timeout: 1m\n\
         metrics: {listen: '127.0.0.1:9100'}\nrules: {min_priority: Error}\n",
    )
    .unwrap();
    assert!(matches!(
        &c.sources[0],
        SourceConfig::CloudwatchLogs { interval: Some(Dur(d)), start: Some(w), .. }
            if *d == Duration::from_secs(10) && w.resolve(7_200_000_000_001) == 1
    ));
    assert!(matches!(
        &c.outputs[0],
        OutputConfig::Webhook { timeout: Some(Dur(d)), .. } if *d == Duration::from_secs(60)
    ));
    assert_eq!(
        c.metrics.unwrap().listen,
        "127.0.0.1:9100".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.rules.min_priority, Some(Prio(Priority::Error)));
}

#[test]
fn output_filters_are_read_per_output() {
    let c = parse(
        "sources: [{type: sqs, queue_url: q}]\noutputs:\n  - type: stdout\n    name: a\n    filter:\n      min_priority: critical\n      tags: [identity]\n      exclude_rules: [Noisy]\n      namespaces: [prod]\n  - type: stdout\n    name: b\n",
    )
    .unwrap();
    let r = c.outputs[0].filter().route();
    assert_eq!(r.min_priority, Some(Priority::Critical));
    assert_eq!(r.tags, ["identity"]);
    assert_eq!(r.exclude_rules, ["Noisy"]);
    assert_eq!(r.namespaces, ["prod"]);
    assert_eq!(c.outputs[1].filter(), &RouteConfig::default());
    let e = parse("sources: [{type: sqs, queue_url: q}]\noutputs:\n  - type: stdout\n    filter: {severity: high}\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("line 4, column 14: outputs[0].filter: unknown field `severity`"),
        "{e}"
    );
}

#[test]
fn incidents_and_anomalies_are_off_unless_configured() {
    let c = parse("sources: [{type: sqs, queue_url: q}]\n").unwrap();
    assert!(c.incidents.is_none() && c.anomalies.is_none());
    let c =
        parse("sources: [{type: sqs, queue_url: q}]\nincidents: {}\nanomalies: {learning: 3d}\n")
            .unwrap();
    assert!(c
        .incidents
        .as_ref()
        .is_some_and(|i| i.notices && i.window.is_none()));
    assert_eq!(
        c.anomalies.unwrap().learning,
        Some(Dur(Duration::from_secs(3 * 86400)))
    );
}

#[test]
fn a_certificate_without_its_key_is_refused_at_load() {
    let e =
        parse("sources:\n  - type: k8s_audit\n    listen: 127.0.0.1:0\n    tls_cert: /etc/c.pem\n")
            .unwrap_err()
            .to_string();
    assert!(
        e.starts_with("line 2, column 9: sources[0]: tls_cert and tls_key go together"),
        "{e}"
    );
}

#[test]
fn the_console_beyond_loopback_needs_tls() {
    let c = parse("console:\n  listen: 127.0.0.1:8080\n").unwrap();
    assert_eq!(
        c.console.unwrap().listen.port(),
        8080,
        "a console alone is a service"
    );
    let e = parse("console:\n  listen: 0.0.0.0:8080\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs tls_cert and tls_key"), "{e}");
    let e = parse("console:\n  listen: 0.0.0.0:8080\n  tls_cert: c.pem\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("go together"), "{e}");
    parse("console:\n  listen: 0.0.0.0:8443\n  tls_cert: c.pem\n  tls_key: k.pem\n").unwrap();
    assert!(
        parse("metrics:\n  listen: 127.0.0.1:9\n").is_err(),
        "no sources, no console"
    );
}
