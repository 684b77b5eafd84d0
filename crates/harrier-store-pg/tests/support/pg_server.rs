//! A throwaway PostgreSQL server for tests: Debian's `postgresql` (initdb in a temporary
//! directory, a free loopback port, trust authentication), stopped when dropped. Shared with
//! harrier-cli's tests by `#[path]`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// A running server.
pub struct Server {
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
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
    /// Starts a server, or `None` when HARRIER_SKIP_POSTGRES_TESTS is set.
    pub fn start() -> Option<Server> {
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
        s.start_again();
        Some(s)
    }

    /// The connection string of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("host=127.0.0.1 port={} user=harrier dbname={db}", self.port)
    }

    /// A new, empty database.
    pub fn database(&self, name: &str) -> String {
        let mut c = postgres::Client::connect(&self.url("postgres"), postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.url(name)
    }

    /// Its data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Server {
    /// Stops the server at once (as a crash would) and starts it again on the same port.
    pub fn restart(&self) {
        let data = self.data();
        let out = run(
            self,
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.start_again();
    }

    /// Turns TLS on with a certificate for 127.0.0.1 signed by a new CA (openssl), restarts,
    /// and returns the CA's PEM file.
    pub fn enable_tls(&self) -> PathBuf {
        let d = self.dir.path();
        let ssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        ssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=harrier-test-ca",
        ]);
        ssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            d.join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        ssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ]);
        let data = self.data();
        for f in ["server.crt", "server.key"] {
            std::fs::copy(d.join(f), data.join(f)).unwrap();
            if let Some(u) = &self.as_user {
                assert!(Command::new("chown")
                    .args([&format!("{u}:"), data.join(f).to_str().unwrap()])
                    .status()
                    .unwrap()
                    .success());
            }
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, text).unwrap();
        self.restart();
        d.join("ca.pem")
    }

    /// Starts the (stopped) server again.
    pub fn start_again(&self) {
        let data = self.data();
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        let out = run(
            self,
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
