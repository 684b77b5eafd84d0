//! Posture evaluation throughput on a large synthetic account, against the baseline of parsing
//! the same snapshot file (serde_json into the snapshot model) in the same run.
//!
//! `cargo bench -p harrier-posture --bench evaluate [-- USERS]` (default 5,000 users; the
//! account also gets USERS/2 security groups, USERS/5 buckets, USERS/10 ECR repositories, KMS
//! keys and trails' worth of documents, in three regions).

use std::collections::BTreeMap;
use std::time::Instant;

use harrier_posture::{evaluate, Entry, Snapshot};
use serde_json::{json, Value};

fn ok(data: Value) -> Entry {
    Entry::Ok { data }
}

fn account(users: usize) -> Snapshot {
    let mut global = BTreeMap::new();
    let mut csv = String::from("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n");
    csv.push_str("<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,2025-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n");
    let mut details = Vec::new();
    for i in 0..users {
        let two = i % 7 == 0;
        csv.push_str(&format!(
            "u{i},arn:aws:iam::111122223333:user/u{i},2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,{},true,2025-10-01T00:00:00+00:00,2025-11-19T00:00:00+00:00,eu-west-1,s3,{two},2025-10-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n",
            i % 3 != 0
        ));
        let action = if i % 50 == 0 { "iam:*" } else { "s3:GetObject" };
        details.push(json!({
            "UserName": format!("u{i}"), "Arn": format!("arn:aws:iam::111122223333:user/u{i}"),
            "GroupList": ["devs"], "AttachedManagedPolicies": [],
            "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}}],
        }));
    }
    global.insert(
        "sts-get-caller-identity".into(),
        ok(json!({"Account": "111122223333"})),
    );
    global.insert(
        "iam-get-credential-report".into(),
        ok(json!({"Content": csv})),
    );
    global.insert(
        "iam-get-account-authorization-details".into(),
        ok(json!({"UserDetailList": details, "GroupDetailList": [], "RoleDetailList": [], "Policies": []})),
    );
    global.insert(
        "iam-get-account-password-policy".into(),
        ok(json!({"PasswordPolicy": {"MinimumPasswordLength": 14, "PasswordReusePrevention": 24}})),
    );
    let buckets: Vec<Value> = (0..users / 5)
        .map(|i| json!({"Name": format!("b{i}")}))
        .collect();
    for i in 0..users / 5 {
        global.insert(format!("s3-get-public-access-block/b{i}"), ok(json!({"PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": i % 9 != 0}})));
        global.insert(format!("s3-get-bucket-acl/b{i}"), ok(json!({"Owner": {"ID": "o"}, "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "o"}, "Permission": "FULL_CONTROL"}]})));
        global.insert(
            format!("s3-get-bucket-policy/b{i}"),
            Entry::NotConfigured {
                message: "NoSuchBucketPolicy".into(),
            },
        );
    }
    global.insert("s3-list-buckets".into(), ok(json!({"Buckets": buckets})));
    let mut regions = BTreeMap::new();
    regions.insert("global".to_string(), global);
    for r in ["eu-west-1", "us-east-1", "ap-southeast-2"] {
        let mut m = BTreeMap::new();
        let sgs: Vec<Value> = (0..users / 6)
            .map(|i| json!({"GroupId": format!("sg-{i}"), "GroupName": format!("g{i}"), "VpcId": "vpc-1",
                "IpPermissions": [{"IpProtocol": "tcp", "FromPort": if i % 40 == 0 { 22 } else { 443 }, "ToPort": if i % 40 == 0 { 22 } else { 443 }, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": []}],
                "IpPermissionsEgress": []}))
            .collect();
        m.insert(
            "ec2-describe-security-groups".into(),
            ok(json!({"SecurityGroups": sgs})),
        );
        let repos: Vec<Value> = (0..users / 30)
            .map(|i| json!({"repositoryName": format!("r{i}"), "repositoryArn": format!("arn:aws:ecr:{r}:111122223333:repository/r{i}"),
                "imageTagMutability": if i % 2 == 0 { "MUTABLE" } else { "IMMUTABLE" }, "imageScanningConfiguration": {"scanOnPush": true}}))
            .collect();
        m.insert(
            "ecr-describe-repositories".into(),
            ok(json!({"repositories": repos})),
        );
        m.insert(
            "cloudtrail-describe-trails".into(),
            ok(json!({"trailList": []})),
        );
        m.insert(
            "ec2-describe-vpcs".into(),
            ok(json!({"Vpcs": [{"VpcId": "vpc-1"}]})),
        );
        m.insert("ec2-describe-flow-logs".into(), ok(json!({"FlowLogs": []})));
        regions.insert(r.to_string(), m);
    }
    Snapshot {
        version: 1,
        account_id: Some("111122223333".into()),
        collected_at: Some("2025-11-20T00:00:00Z".into()),
        regions,
    }
}

fn main() {
    let users: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000);
    let snap = account(users);
    let dir = std::env::temp_dir().join(format!("harrier-posture-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("snap.json");
    snap.save(&path).unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len();
    let now = 1_763_640_000;
    let rounds = 5;

    let t = Instant::now();
    let mut docs = 0;
    for _ in 0..rounds {
        let s = Snapshot::load(&path).unwrap();
        docs += s.regions.len();
    }
    let parse = t.elapsed().as_secs_f64() / rounds as f64;

    let t = Instant::now();
    let mut findings = 0;
    for _ in 0..rounds {
        let s = Snapshot::load(&path).unwrap();
        findings = evaluate(&s, now).len();
    }
    let full = t.elapsed().as_secs_f64() / rounds as f64;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "snapshot: {users} users, {:.1} MB, {findings} findings ({docs} region maps read)",
        bytes as f64 / 1e6
    );
    println!(
        "baseline  load (serde_json parse):   {:>8.1} ms",
        parse * 1e3
    );
    println!(
        "harrier   load + evaluate (all checks): {:>8.1} ms  ratio {:.2}x of parse-only throughput",
        full * 1e3,
        parse / full
    );
}
