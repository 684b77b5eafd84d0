use super::*;
use crate::verdict::Item;
use std::sync::atomic::{AtomicUsize, Ordering};

const BAD: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const GOOD: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// Tags: `web:1.4` is the backdoored digest, `web:1.3` the clean one; host `down:5000` never
/// answers in time.
struct Fake {
    scans: AtomicUsize,
}

impl Scanner for Fake {
    fn digest(&self, r: &Reference, timeout: Duration) -> Result<String, String> {
        if r.host.starts_with("down") {
            std::thread::sleep(timeout + Duration::from_millis(200));
            return Err("cannot reach the registry: timed out".into());
        }
        Ok(match r.reference.as_str() {
            "1.4" => BAD.into(),
            d if d.starts_with("sha256:") => d.into(),
            _ => GOOD.into(),
        })
    }
    fn scan(&self, r: &Reference) -> Result<Summary, String> {
        self.scans.fetch_add(1, Ordering::SeqCst);
        Ok(Summary {
            digest: r.reference.clone(),
            reference: r.to_string(),
            scanned_at_ns: 0,
            os: None,
            packages: 3,
            vulnerability_database: false,
            malware: if r.reference == BAD {
                vec![Item {
                    id: "miner-binary".into(),
                    severity: "critical".into(),
                    what: "/usr/local/bin/xmrig".into(),
                    layer: Some(3),
                    fixed: None,
                }]
            } else {
                vec![]
            },
            vulnerabilities: vec![],
            practice: vec![],
        })
    }
}

fn review(kind: &str, object: Value) -> Vec<u8> {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "", "version": "v1", "kind": kind},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "web", "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": object, "oldObject": null, "dryRun": false}})
    .to_string()
    .into_bytes()
}

fn pod(images: &[&str]) -> Value {
    let cs: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx", "namespace": "web"},
           "spec": {"containers": cs}})
}

fn controller(policy: Policy) -> (Controller, Arc<Fake>) {
    let f = Arc::new(Fake {
        scans: AtomicUsize::new(0),
    });
    (Controller::new(policy, f.clone(), None), f)
}

#[test]
fn images_are_found_in_every_kind_that_makes_pods() {
    let spec = json!({"initContainers": [{"name": "init", "image": "busybox:1.36"}],
                      "containers": [{"name": "web", "image": "reg.example.com/web:1.4"}]});
    let deployment = json!({"spec": {"template": {"spec": spec.clone()}}});
    let cronjob = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": spec.clone()}}}}});
    for (kind, obj) in [
        ("Pod", json!({"spec": spec.clone()})),
        ("Deployment", deployment),
        ("CronJob", cronjob),
    ] {
        let r = Review::parse(&review(kind, obj)).unwrap();
        let got: Vec<(&str, &str)> = r
            .images
            .iter()
            .map(|i| (i.container.as_str(), i.image.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("initContainers[init]", "busybox:1.36"),
                ("containers[web]", "reg.example.com/web:1.4")
            ],
            "{kind}"
        );
    }
    // A kind that makes no pods has nothing to judge.
    let r = Review::parse(&review("ConfigMap", json!({"data": {}}))).unwrap();
    assert!(r.images.is_empty());
}

#[test]
fn malformed_reviews_say_what_is_wrong() {
    for (body, says) in [
        (&b"{"[..], "not JSON"),
        (br#"{"kind":"Pod"}"#, "not an AdmissionReview"),
        (
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}"#,
            "without a request",
        ),
        (
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"kind":{"kind":"Pod"}}}"#,
            "uid",
        ),
        (
            br#"{"kind":"AdmissionReview","apiVersion":"v1","request":{"uid":"x"}}"#,
            "apiVersion",
        ),
        (
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"x","kind":{"kind":"Pod"},"object":{"spec":{"containers":{"a":1}}}}}"#,
            "not a list",
        ),
    ] {
        let e = Review::parse(body).unwrap_err();
        assert!(e.contains(says), "{e} should say {says}");
    }
}

#[test]
fn the_backdoored_image_is_refused_and_a_clean_pinned_one_allowed() {
    let (c, f) = controller(Policy::default());
    let r = Review::parse(&review("Pod", pod(&["reg.example.com/web:1.4"]))).unwrap();
    let d = c.decide(&r);
    assert!(!d.allowed);
    let m = d.message.clone().unwrap();
    assert!(m.contains("malware miner-binary"), "{m}");
    assert!(
        m.contains("reg.example.com/web:1.4 (containers[c0])"),
        "{m}"
    );
    let a = c.alert(&r, &d, 1).unwrap();
    assert_eq!((a.rule, a.priority), (RULE_DENIED, Priority::Critical));
    assert!(a
        .entities
        .iter()
        .any(|e| e.kind == Kind::ImageDigest && e.value == BAD));
    let answer = response(&r, &d);
    assert_eq!(
        answer["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
    assert_eq!(answer["response"]["status"]["code"], 403);

    let pinned = format!("reg.example.com/web@{GOOD}");
    let r = Review::parse(&review("Pod", pod(&[&pinned]))).unwrap();
    let d = c.decide(&r);
    assert!(d.allowed, "{:?}", d.message);
    assert!(c.alert(&r, &d, 1).is_none());
    assert!(response(&r, &d)["response"].get("status").is_none());
    // Asked again: answered from the cache, no new scan.
    let before = f.scans.load(Ordering::SeqCst);
    let d = c.decide(&r);
    assert!(d.allowed && d.cached);
    assert_eq!(f.scans.load(Ordering::SeqCst), before);
}

#[test]
fn latest_and_untagged_images_and_other_registries_are_refused() {
    let (c, _) = controller(Policy {
        allowed_registries: vec!["reg.example.com".into()],
        ..Policy::default()
    });
    for (image, says) in [
        ("reg.example.com/web:latest", "the latest tag"),
        ("reg.example.com/web", "no tag"),
        (
            "docker.io/library/nginx:1.25",
            "registry docker.io is not allowed",
        ),
        ("nginx:1.25", "registry docker.io is not allowed"),
        ("reg.example.com.evil.io/web:1.3", "is not allowed"),
    ] {
        let d = c.decide(&Review::parse(&review("Pod", pod(&[image]))).unwrap());
        assert!(!d.allowed, "{image}");
        let m = d.message.unwrap();
        assert!(m.contains(says), "{image}: {m}");
    }
    // Near misses: a version tag and a latest pinned by digest.
    for image in [
        "reg.example.com/web:1.3".to_string(),
        format!("reg.example.com/web:latest@{GOOD}"),
    ] {
        let d = c.decide(&Review::parse(&review("Pod", pod(&[&image]))).unwrap());
        assert!(d.allowed, "{image}: {:?}", d.message);
    }
}

#[test]
fn an_unreachable_registry_follows_the_failure_policy_within_the_timeout() {
    for (failure, allowed) in [(FailurePolicy::Fail, false), (FailurePolicy::Ignore, true)] {
        let (c, _) = controller(Policy {
            failure,
            timeout: Duration::from_millis(300),
            ..Policy::default()
        });
        let r = Review::parse(&review("Pod", pod(&["down:5000/web:1.3"]))).unwrap();
        let t = Instant::now();
        let d = c.decide(&r);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(d.allowed, allowed, "{failure:?}");
        let said = d.message.clone().unwrap_or_default() + &d.warnings.join(" ");
        assert!(
            said.contains("cannot be checked: not judged within 0.3s"),
            "{said}"
        );
    }
}

#[test]
fn audit_mode_allows_with_warnings() {
    let (c, _) = controller(Policy {
        mode: Mode::Audit,
        ..Policy::default()
    });
    let r = Review::parse(&review(
        "Pod",
        pod(&["reg.example.com/web:1.4", "reg.example.com/web:latest"]),
    ))
    .unwrap();
    let d = c.decide(&r);
    assert!(d.allowed);
    assert_eq!(d.warnings.len(), 2, "{:?}", d.warnings);
    assert!(d.warnings.iter().all(|w| w.starts_with("would be refused")));
    assert!(
        c.alert(&r, &d, 1).is_none(),
        "nothing refused, nothing stored"
    );
    let a = response(&r, &d);
    assert_eq!(a["response"]["allowed"], true);
    assert_eq!(a["response"]["warnings"].as_array().unwrap().len(), 2);
}

#[test]
fn an_update_judges_only_the_images_it_changes() {
    let (c, _) = controller(Policy::default());
    let update = |old: &str, new: &str| {
        let mut body: Value = serde_json::from_slice(&review("Pod", pod(&[new]))).unwrap();
        body["request"]["operation"] = "UPDATE".into();
        body["request"]["oldObject"] = pod(&[old]);
        c.decide(&Review::parse(body.to_string().as_bytes()).unwrap())
    };
    // A label patched on a pod already running the image: not judged again.
    assert!(update("reg.example.com/web:1.4", "reg.example.com/web:1.4").allowed);
    // The image changed to the backdoored one: judged and refused.
    assert!(!update("reg.example.com/web:1.3", "reg.example.com/web:1.4").allowed);
}

#[test]
fn deletes_are_not_judged() {
    let (c, f) = controller(Policy::default());
    let mut body: Value =
        serde_json::from_slice(&review("Pod", pod(&["reg.example.com/web:1.4"]))).unwrap();
    body["request"]["operation"] = "DELETE".into();
    let d = c.decide(&Review::parse(body.to_string().as_bytes()).unwrap());
    assert!(d.allowed);
    assert_eq!(f.scans.load(Ordering::SeqCst), 0);
}

#[test]
fn answers_stay_short_however_many_reasons() {
    let (c, _) = controller(Policy {
        mode: Mode::Audit,
        ..Policy::default()
    });
    let many: Vec<String> = (0..40)
        .map(|i| format!("reg.example.com/web{i}:latest"))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let r = Review::parse(&review("Pod", pod(&refs))).unwrap();
    let d = c.decide(&r);
    assert_eq!(d.warnings.len(), 40);
    let a = response(&r, &d);
    let text: usize = a["response"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().len())
        .sum();
    assert!(text <= ANSWER_TEXT_BUDGET, "{text}");
    assert!(a["response"]["warnings"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .contains("more"));
    let (c, _) = controller(Policy::default());
    let d = c.decide(&r);
    let m = response(&r, &d)["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(m.len() <= 520 && m.ends_with("..."), "{}", m.len());
}

#[test]
fn many_containers_of_one_image_cost_one_fetch_and_fetches_are_bounded() {
    let (c, f) = controller(Policy::default());
    let same: Vec<&str> = vec!["reg.example.com/web:1.4"; 50];
    let d = c.decide(&Review::parse(&review("Pod", pod(&same))).unwrap());
    assert!(!d.allowed);
    assert_eq!(
        f.scans.load(Ordering::SeqCst),
        1,
        "one scan for fifty containers"
    );
    assert!(d
        .images
        .iter()
        .all(|v| v.problems.iter().any(|p| p.contains("miner-binary"))));
    // Distinct images past the bound are not fetched: the failure policy answers for them.
    let (c, _) = controller(Policy {
        timeout: Duration::from_millis(300),
        ..Policy::default()
    });
    let many: Vec<String> = (0..40).map(|i| format!("down:5000/web{i}:1.0")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let d = c.decide(&Review::parse(&review("Pod", pod(&refs))).unwrap());
    assert!(!d.allowed);
    let busy = d
        .images
        .iter()
        .filter(|v| {
            v.unjudged
                .as_deref()
                .is_some_and(|u| u.contains("already running"))
        })
        .count();
    assert_eq!(busy, 40 - MAX_FETCHES, "{:?}", d.images);
}
