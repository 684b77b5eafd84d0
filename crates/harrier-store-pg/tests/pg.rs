//! The PostgreSQL store against a real server: Debian's `postgresql` (initdb in a temporary
//! directory, a free loopback port), started by the test and stopped when it ends.
//! HARRIER_SKIP_POSTGRES_TESTS=1 (set by scripts/test when the server is not installed and
//! cannot be) skips them and says so.

use std::path::PathBuf;
use std::process::Command;

use harrier_alerts::store::contract;
use harrier_alerts::store::{AlertStore, Limit, RuleThrottle, Throttle};
use harrier_rules::Priority;
use harrier_store_pg::{PgStore, SCHEMA_VERSION};

struct Server {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    as_user: Option<String>,
}

fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn run(s: &Server, tool: &str, args: &[&str]) -> std::process::Output {
    let exe = s.bin.join(tool);
    let mut c = match &s.as_user {
        // initdb and postgres refuse to run as root: run them as the package's user.
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--"]).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    c.args(args).output().unwrap()
}

impl Server {
    fn start() -> Option<Server> {
        if std::env::var_os("HARRIER_SKIP_POSTGRES_TESTS").is_some() {
            eprintln!("PostgreSQL tests skipped (HARRIER_SKIP_POSTGRES_TESTS is set)");
            return None;
        }
        let bin = bin_dir().expect(
            "PostgreSQL must be installed (Debian package postgresql; scripts/test installs it)",
        );
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::metadata(dir.path())
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                m.uid() == 0
            })
            .unwrap_or(false);
        let as_user = root.then(|| "postgres".to_string());
        if root {
            let out = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .unwrap();
            let uid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            let gid_out = Command::new("id")
                .args(["-g", "postgres"])
                .output()
                .unwrap();
            let gid: u32 = String::from_utf8_lossy(&gid_out.stdout)
                .trim()
                .parse()
                .unwrap();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = Server {
            dir,
            port,
            bin,
            as_user,
        };
        let data = s.dir.path().join("data");
        let out = run(
            &s,
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "harrier",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            s.port,
            s.dir.path().display()
        );
        let log = s.dir.path().join("log");
        let out = run(
            &s,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Some(s)
    }

    fn url(&self, db: &str) -> String {
        format!("host=127.0.0.1 port={} user=harrier dbname={db}", self.port)
    }

    /// A new, empty database.
    fn database(&self, name: &str) -> String {
        let mut c = postgres::Client::connect(&self.url("postgres"), postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.url(name)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.data();
        let _ = run(
            self,
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
    }
}

fn alert(rule: &str, event: &str, t: i64) -> harrier_alerts::AlertRecord {
    contract::alert(rule, event, t, "alice", Priority::Warning)
}

#[test]
fn postgres_meets_the_store_contract() {
    let Some(s) = Server::start() else { return };
    let mut n = 0;
    contract::run_all(&mut || {
        n += 1;
        Box::new(PgStore::connect(&s.database(&format!("contract{n}"))).unwrap())
    });
    assert_eq!(n, 7, "every check ran on a fresh database");
}

#[test]
fn workers_sharing_one_database_store_each_alert_once_and_throttle_as_one() {
    let Some(s) = Server::start() else { return };
    let url = s.database("workers");
    let mut t = Throttle::default();
    t.rules.insert(
        "Noisy".into(),
        RuleThrottle {
            limit: Some(Limit {
                window: std::time::Duration::from_secs(3600),
                max: 1,
            }),
            key_fields: Some(vec!["ct.user".into()]),
        },
    );
    // Three workers, each given the same 200 alerts (a queue delivering its messages more than
    // once), at once; half of them of a throttled rule with one key. (Throttling counts on
    // event time, so alerts arriving out of time order are judged in the order they arrive,
    // with one worker as with several.)
    let handles: Vec<_> = (0..3)
        .map(|w| {
            let url = url.clone();
            let t = t.clone();
            std::thread::spawn(move || {
                let mut store = PgStore::connect(&url).unwrap();
                let all: Vec<_> = (0..200)
                    .map(|i| {
                        let rule = if i % 2 == 0 { "Noisy" } else { "Quiet" };
                        alert(rule, &format!("e{i}"), 1000 + i)
                    })
                    .collect();
                if w == 1 {
                    // Late by a moment: the others have stored some chunks already.
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                let mut total = harrier_alerts::store::Inserted::default();
                for chunk in all.chunks(10) {
                    let d = store
                        .insert(chunk, &t, Some(("queue", &format!("w{w}"))))
                        .unwrap();
                    total.new += d.new;
                    total.duplicates += d.duplicates;
                    total.suppressed += d.suppressed;
                }
                total
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let store = PgStore::connect(&url).unwrap();
    assert_eq!(store.count().unwrap(), 200, "each alert stored once");
    let new: u64 = results.iter().map(|r| r.new).sum();
    let suppressed: u64 = results.iter().map(|r| r.suppressed).sum();
    let dups: u64 = results.iter().map(|r| r.duplicates).sum();
    assert_eq!(dups, 400, "{results:?}");
    // 100 quiet alerts delivered, and one of the 100 noisy ones: as one worker would.
    assert_eq!((new, suppressed), (101, 99), "{results:?}");
    store.register_output("file", true).unwrap();
    assert_eq!(store.pending("file", 1000).unwrap().len(), 101);
}

#[test]
fn a_newer_schema_is_refused_and_migration_runs_once() {
    let Some(s) = Server::start() else { return };
    let url = s.database("schema");
    // Inspected before anything ran: no schema, and inspecting wrote none.
    let before = harrier_store_pg::inspect(&url).unwrap();
    assert_eq!((before.schema, before.current()), (0, Some(false)));
    assert_eq!(harrier_store_pg::inspect(&url).unwrap().schema, 0);
    // Workers starting together migrate once.
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                PgStore::connect(&url)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap().unwrap();
    }
    let mut st = PgStore::connect(&url).unwrap();
    assert_eq!(st.schema_version().unwrap(), SCHEMA_VERSION);
    let now = harrier_store_pg::inspect(&url).unwrap();
    assert_eq!(
        (now.schema, now.current(), now.alerts),
        (SCHEMA_VERSION, Some(true), 0)
    );
    // An output registered, two alerts stored: both waiting for it.
    st.register_output("file", false).unwrap();
    st.insert(
        &[alert("R", "e1", 1), alert("R2", "e2", 2)],
        &harrier_alerts::store::Throttle::default(),
        None,
    )
    .unwrap();
    let now = harrier_store_pg::inspect(&url).unwrap();
    assert_eq!(now.alerts, 2);
    assert_eq!(now.behind, [("file".to_string(), 2)]);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    assert_eq!(
        c.query_one("SELECT COUNT(*) FROM harrier_schema", &[])
            .unwrap()
            .get::<_, i64>(0),
        1
    );
    c.execute("INSERT INTO harrier_schema (version) VALUES (99)", &[])
        .unwrap();
    let e = PgStore::connect(&url).err().unwrap().to_string();
    assert!(e.contains("version 99") && e.contains("refusing"), "{e}");
    let newer = harrier_store_pg::inspect(&url).unwrap();
    assert_eq!((newer.schema, newer.current()), (99, None));
    // A password never shows in an error.
    let bad = format!("postgres://harrier:s3cret@127.0.0.1:{}/nope", s.port);
    let e = PgStore::connect(&bad).err().unwrap().to_string();
    assert!(!e.contains("s3cret") && e.contains("nope"), "{e}");
}
