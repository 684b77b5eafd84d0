//! Who may use the console: users with argon2 password hashes and a role, and sessions
//! (random tokens, kept only as their SHA-256) with their CSRF token, in the console's
//! [`Accounts`] (`console.db`, or the shared PostgreSQL store); API tokens from a token file;
//! and a limit on failed logins (per worker).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::accounts::Accounts;
use crate::ConsoleError;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Read everything and manage users.
    Admin,
}

impl Role {
    /// `viewer` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Someone signed in (by session) or calling with a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User (or token) name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The session's CSRF token; `None` for a bearer token (not sent by browsers on their own,
    /// so not forgeable cross-site).
    pub csrf: Option<String>,
}

/// How long a session lasts without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// Failed logins allowed per client address in [`LOGIN_WINDOW`].
pub const LOGIN_FAILURES: u32 = 5;
/// Failed logins allowed per user name in [`LOGIN_WINDOW`], from every client together: higher
/// than per client, so that a stranger cannot lock a user out as easily, while guessing one
/// user's password from many addresses stays slow.
pub const NAME_FAILURES: u32 = 20;
/// The window of [`LOGIN_FAILURES`].
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);
/// Longest user name and password taken.
const MAX_NAME: usize = 64;
const MAX_PASSWORD: usize = 256;

/// Random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::getrandom(&mut b).expect("the operating system's random source");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Compares without stopping at the first difference.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The users, sessions and tokens.
pub struct Auth {
    accounts: Mutex<Box<dyn Accounts>>,
    tokens: Vec<(String, Role, String)>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

fn hash_password(password: &str) -> Result<String, ConsoleError> {
    let salt = SaltString::encode_b64(random_hex(16).as_bytes())
        .map_err(|e| ConsoleError::Invalid(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| ConsoleError::Invalid(e.to_string()))?
        .to_string())
}

impl Auth {
    /// Users and sessions in `accounts`; reads `token_file` (lines `name role token`; it must
    /// not be readable by others).
    pub fn new(
        accounts: Box<dyn Accounts>,
        token_file: Option<&Path>,
    ) -> Result<Auth, ConsoleError> {
        let tokens = match token_file {
            Some(f) => read_tokens(f)?,
            None => Vec::new(),
        };
        Ok(Auth {
            accounts: Mutex::new(accounts),
            tokens,
            failures: Mutex::new(HashMap::new()),
        })
    }

    fn accounts(&self) -> std::sync::MutexGuard<'_, Box<dyn Accounts>> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When there is no user yet: creates `admin` with a random password and returns it (to be
    /// shown once). Of several workers starting together on one store, one creates it.
    pub fn first_admin(&self) -> Result<Option<String>, ConsoleError> {
        if !self.accounts().users()?.is_empty() {
            return Ok(None);
        }
        let password = random_hex(12);
        let hash = hash_password(&password)?;
        let made = self
            .accounts()
            .add_first_user("admin", Role::Admin.as_str(), &hash)?;
        Ok(made.then_some(password))
    }

    /// Adds (or replaces the password and role of) a user.
    pub fn add_user(&self, name: &str, role: Role, password: &str) -> Result<(), ConsoleError> {
        if !valid_name(name) {
            return Err(ConsoleError::Invalid(
                "a user name is 1 to 64 letters, digits, '.', '_', '-' or '@'".into(),
            ));
        }
        if password.len() < 12 || password.len() > MAX_PASSWORD {
            return Err(ConsoleError::Invalid(
                "a password is 12 to 256 characters".into(),
            ));
        }
        let hash = hash_password(password)?;
        self.accounts().put_user(name, role.as_str(), &hash)?;
        Ok(())
    }

    /// Every user: `(name, role)`.
    pub fn users(&self) -> Result<Vec<(String, String)>, ConsoleError> {
        Ok(self.accounts().users()?)
    }

    /// Whether `client` (an address) or `name` has used up its failed logins.
    pub fn limited(&self, client: &str, name: &str) -> bool {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f.retain(|_, (_, since)| since.elapsed() < LOGIN_WINDOW);
        let over = |k: String, max: u32| f.get(&k).is_some_and(|(n, _)| *n >= max);
        over(format!("ip:{client}"), LOGIN_FAILURES) || over(format!("user:{name}"), NAME_FAILURES)
    }

    fn failed(&self, client: &str, name: &str) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: at most this many keys are remembered (the oldest go first).
        if f.len() > 10_000 {
            f.clear();
        }
        for k in [format!("ip:{client}"), format!("user:{name}")] {
            let e = f.entry(k).or_insert((0, Instant::now()));
            e.0 += 1;
        }
    }

    /// Checks a password; on success starts a session and returns its token.
    pub fn login(
        &self,
        client: &str,
        name: &str,
        password: &str,
    ) -> Result<Option<String>, ConsoleError> {
        if name.len() > MAX_NAME || password.len() > MAX_PASSWORD {
            self.failed(client, name);
            return Ok(None);
        }
        let hash = self.accounts().password_hash(name)?;
        // An unknown user costs a hash too, so timing does not tell which names exist.
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let dummy = DUMMY.get_or_init(|| {
            let salt = SaltString::encode_b64(b"harrier-dummy-salt").expect("a valid salt");
            Argon2::default()
                .hash_password(random_hex(16).as_bytes(), &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        let stored = hash.as_deref().unwrap_or(dummy);
        let ok = PasswordHash::new(stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
            && hash.is_some();
        if !ok {
            self.failed(client, name);
            return Ok(None);
        }
        let token = random_hex(32);
        let csrf = random_hex(32);
        // Expired sessions go when someone logs in.
        self.accounts().start_session(
            &sha256_hex(&token),
            name,
            &csrf,
            SESSION_IDLE.as_nanos() as i64,
        )?;
        Ok(Some(token))
    }

    /// The signed-in user of a session token (refreshing its idle time).
    pub fn session(&self, token: &str) -> Result<Option<Principal>, ConsoleError> {
        if token.len() != 64 {
            return Ok(None);
        }
        // Seen within the idle time, and marked seen at most once a minute (reading pages
        // does not write on every request), both by the store's clock.
        let row = self.accounts().session(
            &sha256_hex(token),
            SESSION_IDLE.as_nanos() as i64,
            60_000_000_000,
        )?;
        let Some((session, role)) = row else {
            return Ok(None);
        };
        Ok(Role::parse(&role).map(|role| Principal {
            name: session.user,
            role,
            csrf: Some(session.csrf),
        }))
    }

    /// Ends a session.
    pub fn logout(&self, token: &str) -> Result<(), ConsoleError> {
        Ok(self.accounts().end_session(&sha256_hex(token))?)
    }

    /// The caller of a bearer token from the token file.
    pub fn bearer(&self, token: &str) -> Option<Principal> {
        self.tokens
            .iter()
            .find(|(_, _, t)| same(t, token))
            .map(|(name, role, _)| Principal {
                name: name.clone(),
                role: *role,
                csrf: None,
            })
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= MAX_NAME
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

fn read_tokens(f: &Path) -> Result<Vec<(String, Role, String)>, ConsoleError> {
    let bad =
        |line: usize, what: &str| ConsoleError::Invalid(format!("{}:{line}: {what}", f.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(f)
            .map_err(|e| ConsoleError::Invalid(format!("{}: {e}", f.display())))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(bad(0, "the token file is readable by others; chmod 600 it"));
        }
    }
    let text = std::fs::read_to_string(f)
        .map_err(|e| ConsoleError::Invalid(format!("{}: {e}", f.display())))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [name, role, token] = parts[..] else {
            return Err(bad(i + 1, "expected `name role token`"));
        };
        let role = Role::parse(role).ok_or_else(|| bad(i + 1, "role is viewer or admin"))?;
        if token.len() < 32 {
            return Err(bad(i + 1, "a token is at least 32 characters"));
        }
        out.push((name.to_string(), role, token.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(dir: &Path, tokens: Option<&Path>) -> Result<Auth, ConsoleError> {
        let a = crate::accounts::SqliteAccounts::open(&dir.join("console.db"))?;
        Auth::new(Box::new(a), tokens)
    }

    #[test]
    fn first_admin_logs_in_and_others_do_not() {
        let d = tempfile::tempdir().unwrap();
        let a = sqlite(d.path(), None).unwrap();
        let pw = a.first_admin().unwrap().expect("a password the first time");
        assert_eq!(a.first_admin().unwrap(), None, "only once");
        assert!(a.login("c", "admin", "wrong-password").unwrap().is_none());
        let t = a.login("c", "admin", &pw).unwrap().expect("a session");
        let p = a.session(&t).unwrap().unwrap();
        assert_eq!((p.name.as_str(), p.role), ("admin", Role::Admin));
        assert!(a.session(&random_hex(32)).unwrap().is_none());
        a.logout(&t).unwrap();
        assert!(a.session(&t).unwrap().is_none());
    }

    #[test]
    fn failed_logins_are_limited_per_client_and_name() {
        let d = tempfile::tempdir().unwrap();
        let a = sqlite(d.path(), None).unwrap();
        a.add_user("bob", Role::Viewer, "correct horse battery")
            .unwrap();
        for _ in 0..LOGIN_FAILURES {
            assert!(!a.limited("10.0.0.1", "bob"));
            assert!(a.login("10.0.0.1", "bob", "nope").unwrap().is_none());
        }
        assert!(
            a.limited("10.0.0.1", "someone"),
            "that client is out for the minute"
        );
        assert!(
            !a.limited("10.0.0.2", "bob"),
            "bob is not locked out by one client"
        );
        assert!(
            !a.limited("10.0.0.2", "10.0.0.1"),
            "names and addresses are apart"
        );
        for i in 0..NAME_FAILURES {
            let _ = a.login(&format!("192.0.2.{i}"), "bob", "nope");
        }
        assert!(
            a.limited("10.0.0.2", "bob"),
            "guessed from many addresses: bob waits"
        );
        assert!(!a.limited("10.0.0.2", "carol"));
    }

    #[test]
    fn token_file_must_be_private_and_well_formed() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("tokens");
        std::fs::write(&f, "ci viewer 0123456789abcdef0123456789abcdef\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(sqlite(d.path(), Some(&f)).is_err());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let a = sqlite(d.path(), Some(&f)).unwrap();
        assert_eq!(
            a.bearer("0123456789abcdef0123456789abcdef").map(|p| p.role),
            Some(Role::Viewer)
        );
        assert!(a.bearer("0123456789abcdef0123456789abcdeX").is_none());
        std::fs::write(&f, "ci superuser 0123456789abcdef0123456789abcdef\n").unwrap();
        let e = sqlite(d.path(), Some(&f)).err().unwrap().to_string();
        assert!(e.contains("tokens:1"), "{e}");
    }
}
