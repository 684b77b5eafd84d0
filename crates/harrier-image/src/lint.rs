//! Dockerfile and image practice: the same rules over a Dockerfile (`harrier image lint`) and
//! over an image's config and history (part of `harrier image scan`). Each rule has an id, a
//! severity and the fix; a finding names the Dockerfile line or the history step.

use serde_json::Value;

use crate::malware::Severity;

/// A practice rule.
#[derive(Debug)]
pub struct Rule {
    /// Stable id.
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// What is wrong.
    pub title: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

/// Every rule.
pub const RULES: &[Rule] = &[
    Rule { id: "base-latest", severity: Severity::Medium, title: "Base image is untagged or `latest`", fix: "Pin the base image to a version tag, better a digest (FROM debian:12.7@sha256:...)." },
    Rule { id: "runs-as-root", severity: Severity::Medium, title: "The container runs as root", fix: "Create an unprivileged user and switch to it (RUN useradd -r app && USER app)." },
    Rule { id: "add-instead-of-copy", severity: Severity::Low, title: "ADD used to copy local files", fix: "Use COPY; ADD also fetches URLs and unpacks archives, which hides what lands in the image." },
    Rule { id: "add-remote-url", severity: Severity::Medium, title: "ADD fetches a remote URL", fix: "Download with a checksum check in a RUN step (curl -fsSLo f URL && echo 'SHA256  f' | sha256sum -c)." },
    Rule { id: "secret-in-env", severity: Severity::High, title: "A secret is set in ENV or ARG", fix: "Pass secrets at run time (secrets manager, mounted file) or with BuildKit secret mounts (RUN --mount=type=secret); never bake them into layers." },
    Rule { id: "sudo", severity: Severity::Low, title: "sudo used in a build step", fix: "Build steps already run as the Dockerfile's USER; drop sudo and switch USER where needed." },
    Rule { id: "pipe-to-shell", severity: Severity::High, title: "A downloaded script is piped into a shell", fix: "Download, verify a checksum or signature, then run it; or install from a package repository." },
    Rule { id: "package-cache-left", severity: Severity::Low, title: "Package manager cache left in the image", fix: "Clean in the same RUN: apt-get install ... && rm -rf /var/lib/apt/lists/*, or apk add --no-cache." },
    Rule { id: "exposes-ssh", severity: Severity::Medium, title: "Port 22 (SSH) is exposed", fix: "Do not run sshd in containers; use kubectl exec / ECS Exec with audit logging." },
    Rule { id: "no-healthcheck", severity: Severity::Low, title: "No HEALTHCHECK", fix: "Add a HEALTHCHECK (or rely on the orchestrator's probes and silence this rule)." },
];

/// A practice finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintFinding {
    /// Rule id.
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Where: `line N` of the Dockerfile, or `layer N` / `config`.
    pub location: String,
    /// What was seen (secret values are never shown).
    pub detail: String,
}

/// The rule with this id.
pub fn rule(id: &str) -> &'static Rule {
    RULES.iter().find(|r| r.id == id).expect("known rule id")
}

fn finding(id: &'static str, location: String, detail: String) -> LintFinding {
    LintFinding {
        id,
        severity: rule(id).severity,
        location,
        detail,
    }
}

const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
];

fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| n.contains(w))
}

/// Checks a shell command (a RUN step or a history entry).
fn check_run(cmd: &str, location: &str, out: &mut Vec<LintFinding>) {
    let c = cmd.to_ascii_lowercase();
    let fetch = c.contains("curl ") || c.contains("wget ");
    let piped = ["| sh", "|sh", "| bash", "|bash", "| /bin/sh", "| /bin/bash"]
        .iter()
        .any(|p| c.contains(p));
    if fetch && piped {
        out.push(finding("pipe-to-shell", location.into(), shorten(cmd)));
    }
    if c.split(|ch: char| !ch.is_ascii_alphanumeric())
        .any(|w| w == "sudo")
    {
        out.push(finding("sudo", location.into(), shorten(cmd)));
    }
    if (c.contains("apt-get install") || c.contains("apt install"))
        && !c.contains("/var/lib/apt/lists")
    {
        out.push(finding(
            "package-cache-left",
            location.into(),
            "apt lists not removed in the same step".into(),
        ));
    }
    if c.contains("apk add") && !c.contains("--no-cache") && !c.contains("/var/cache/apk") {
        out.push(finding(
            "package-cache-left",
            location.into(),
            "apk cache not removed (use --no-cache)".into(),
        ));
    }
}

fn shorten(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 120 {
        s.chars().take(117).collect::<String>() + "..."
    } else {
        s.to_string()
    }
}

/// Lints a Dockerfile's text.
pub fn lint_dockerfile(text: &str) -> Vec<LintFinding> {
    // Join continuation lines, remembering where each instruction starts.
    let mut instructions: Vec<(usize, String)> = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if cur.is_none() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        let (start, mut acc) = cur.take().unwrap_or((i + 1, String::new()));
        let (body, cont) = match t.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (t, false),
        };
        if !t.starts_with('#') {
            acc.push_str(body);
            acc.push(' ');
        }
        if cont {
            cur = Some((start, acc));
        } else {
            instructions.push((start, acc.trim().to_string()));
        }
    }
    if let Some(c) = cur {
        instructions.push(c);
    }
    let mut out = Vec::new();
    let mut user: Option<(usize, String)> = None;
    let mut healthcheck = false;
    let mut last_from = 0;
    for (line, ins) in &instructions {
        let loc = format!("line {line}");
        let (op, args) = ins
            .split_once(char::is_whitespace)
            .unwrap_or((ins.as_str(), ""));
        let args = args.trim();
        match op.to_ascii_uppercase().as_str() {
            "FROM" => {
                last_from = *line;
                user = None;
                healthcheck = false;
                let image = args
                    .split_whitespace()
                    .find(|a| !a.starts_with("--"))
                    .unwrap_or("");
                let name_part = image.rsplit('/').next().unwrap_or(image);
                let untagged = !name_part.contains(':') && !image.contains('@');
                if image != "scratch" && (untagged || name_part.ends_with(":latest")) {
                    out.push(finding("base-latest", loc, format!("FROM {image}")));
                }
            }
            "USER" => user = Some((*line, args.to_string())),
            "HEALTHCHECK" => healthcheck = !args.to_ascii_uppercase().starts_with("NONE"),
            "ADD" => {
                if args
                    .split_whitespace()
                    .any(|a| a.starts_with("http://") || a.starts_with("https://"))
                {
                    out.push(finding(
                        "add-remote-url",
                        loc,
                        format!("ADD {}", shorten(args)),
                    ));
                } else if !args
                    .split_whitespace()
                    .next()
                    .is_some_and(|s| s.contains(".tar"))
                {
                    out.push(finding(
                        "add-instead-of-copy",
                        loc,
                        format!("ADD {}", shorten(args)),
                    ));
                }
            }
            "ENV" | "ARG" => {
                // ENV a=b c=d, ENV a b, ARG a=b
                let pairs: Vec<(String, bool)> = if args.contains('=') {
                    args.split_whitespace()
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_string(), !v.trim_matches('"').is_empty()))
                        .collect()
                } else {
                    let mut it = args.splitn(2, char::is_whitespace);
                    let k = it.next().unwrap_or("").to_string();
                    let has = it.next().is_some_and(|v| !v.trim().is_empty());
                    vec![(k, has || op.eq_ignore_ascii_case("ARG"))]
                };
                for (k, has_value) in pairs {
                    if secret_name(&k) && has_value {
                        out.push(finding(
                            "secret-in-env",
                            loc.clone(),
                            format!("{} {k}=<redacted>", op.to_ascii_uppercase()),
                        ));
                    }
                }
            }
            "EXPOSE"
                if args
                    .split_whitespace()
                    .any(|p| p == "22" || p.starts_with("22/")) =>
            {
                out.push(finding("exposes-ssh", loc, format!("EXPOSE {args}")));
            }
            "RUN" => check_run(args, &loc, &mut out),
            _ => {}
        }
    }
    if last_from > 0 {
        match &user {
            None => out.push(finding(
                "runs-as-root",
                format!("line {last_from}"),
                "no USER in the final stage".into(),
            )),
            Some((l, u)) if matches!(u.split(':').next().unwrap_or(""), "root" | "0") => out.push(
                finding("runs-as-root", format!("line {l}"), format!("USER {u}")),
            ),
            _ => {}
        }
        if !healthcheck {
            out.push(finding(
                "no-healthcheck",
                format!("line {last_from}"),
                "no HEALTHCHECK in the final stage".into(),
            ));
        }
    }
    out
}

/// Lints an image's config and history.
pub fn lint_config(config: &Value) -> Vec<LintFinding> {
    let mut out = Vec::new();
    if config.is_null() {
        return out;
    }
    let c = &config["config"];
    let user = c["User"].as_str().unwrap_or("");
    if matches!(user.split(':').next().unwrap_or(""), "" | "root" | "0") {
        out.push(finding(
            "runs-as-root",
            "config".into(),
            if user.is_empty() {
                "no User set".into()
            } else {
                format!("User {user}")
            },
        ));
    }
    if c["ExposedPorts"]
        .as_object()
        .is_some_and(|p| p.keys().any(|k| k == "22/tcp" || k == "22"))
    {
        out.push(finding(
            "exposes-ssh",
            "config".into(),
            "22/tcp exposed".into(),
        ));
    }
    if c["Healthcheck"].is_null() {
        out.push(finding(
            "no-healthcheck",
            "config".into(),
            "no Healthcheck".into(),
        ));
    }
    for e in c["Env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some((k, v)) = e.split_once('=') {
            if secret_name(k) && !v.is_empty() {
                out.push(finding(
                    "secret-in-env",
                    "config".into(),
                    format!("ENV {k}=<redacted>"),
                ));
            }
        }
    }
    let mut layer = 0;
    for h in config["history"].as_array().into_iter().flatten() {
        let step = h["created_by"].as_str().unwrap_or("");
        let loc = if h["empty_layer"].as_bool() == Some(true) {
            "history".to_string()
        } else {
            format!("layer {layer}")
        };
        let run = step
            .trim_start_matches("/bin/sh -c ")
            .trim_start_matches("RUN ");
        if !step.contains("#(nop)") {
            check_run(run, &loc, &mut out);
        }
        if h["empty_layer"].as_bool() != Some(true) {
            layer += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(f: &[LintFinding]) -> Vec<(&'static str, String)> {
        f.iter().map(|x| (x.id, x.location.clone())).collect()
    }

    #[test]
    fn a_bad_dockerfile_gets_every_rule_with_its_line() {
        let df = "# build\nFROM ubuntu\nENV DB_PASSWORD=hunter2 MODE=prod\nARG GITHUB_TOKEN\nADD app.py /app/\nADD https://example.com/x.tgz /tmp/\nRUN apt-get update && \\\n    apt-get install -y curl\nRUN curl -fsSL https://get.example.com | sh\nRUN sudo make install\nEXPOSE 80 22\nUSER root\n";
        let f = lint_dockerfile(df);
        let got = ids(&f);
        for want in [
            ("base-latest", "line 2"),
            ("secret-in-env", "line 3"),
            ("secret-in-env", "line 4"),
            ("add-instead-of-copy", "line 5"),
            ("add-remote-url", "line 6"),
            ("package-cache-left", "line 7"),
            ("pipe-to-shell", "line 9"),
            ("sudo", "line 10"),
            ("exposes-ssh", "line 11"),
            ("runs-as-root", "line 12"),
            ("no-healthcheck", "line 2"),
        ] {
            assert!(
                got.contains(&(want.0, want.1.to_string())),
                "{want:?} in {got:?}"
            );
        }
        // Secret values never appear.
        assert!(f.iter().all(|x| !x.detail.contains("hunter2")));
    }

    #[test]
    fn a_good_dockerfile_is_clean() {
        let df = "FROM debian:12.7@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS build\nRUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*\nFROM gcr.io/distroless/static:nonroot\nCOPY --from=build /etc/ssl /etc/ssl\nADD rootfs.tar.gz /\nENV MODE=prod PASSWORD_FILE=\nUSER nonroot\nEXPOSE 8080\nHEALTHCHECK CMD [\"/app\", \"health\"]\n";
        assert_eq!(lint_dockerfile(df), Vec::new());
    }

    #[test]
    fn image_config_and_history() {
        let cfg = serde_json::json!({
            "config": {"Env": ["PATH=/usr/bin", "AWS_SECRET_ACCESS_KEY=abc"], "ExposedPorts": {"22/tcp": {}}},
            "history": [
                {"created_by": "/bin/sh -c #(nop) ADD file:x in /"},
                {"created_by": "/bin/sh -c #(nop)  ENV X=1", "empty_layer": true},
                {"created_by": "RUN curl -s http://203.0.113.7/i.sh | sh"},
            ]
        });
        let got = ids(&lint_config(&cfg));
        for want in [
            ("runs-as-root", "config"),
            ("exposes-ssh", "config"),
            ("no-healthcheck", "config"),
            ("secret-in-env", "config"),
            ("pipe-to-shell", "layer 1"),
        ] {
            assert!(
                got.contains(&(want.0, want.1.to_string())),
                "{want:?} in {got:?}"
            );
        }
        assert!(lint_config(&serde_json::json!({"config": {"User": "app", "Healthcheck": {"Test": ["CMD", "true"]}}})).is_empty());
    }
}
