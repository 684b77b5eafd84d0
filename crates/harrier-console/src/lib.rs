//! Harrier's console: one place to see alerts, incidents, posture, images and rules, as web
//! pages and as a REST API (`/api/v1`, described at `/api/v1/openapi.json`) over the same data.
//!
//! It reads what the service writes: the alert store (alerts, incidents, outputs and
//! checkpoints), the posture history and the image results, through their interfaces
//! ([`Stores`]: SQLite files in the state directory on one machine, or the PostgreSQL store
//! every worker shares). Its users and sessions are kept the same way ([`Accounts`]):
//! `console.db` in the state directory, or the shared store, where a session started on one
//! worker's console is valid on every other's. Pages are rendered on the server (maud,
//! escaping every value) and work without JavaScript: the Content Security Policy allows no
//! script at all. Charts are SVG drawn on the server.
//!
//! Security, always on: every page and API call needs a session (a login with an argon2-hashed
//! password) or a bearer token from the token file; sessions live in `HttpOnly`,
//! `SameSite=Strict` cookies (`Secure` over HTTPS); every state change checks the session's CSRF
//! token and the request's `Origin`; failed logins are limited per client and per user name;
//! bodies are bounded.
//!
//! [`Console::handle`] answers one [`tiny_http::Request`]; the service runs it on several
//! threads of one listener.

pub mod accounts;
mod api;
pub mod auth;
mod chart;
pub mod i18n;
mod openapi;
mod pages;
mod request;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use harrier_alerts::store::{AlertStore, Store, StoreError};
use harrier_posture::history::{History, HistoryError, PostureHistory};
use harrier_rules::Priority;
use harrier_supply::results::{ImageDb, ImageResults};

pub use accounts::{Accounts, SqliteAccounts};
pub use auth::{Auth, Principal, Role};
pub use request::{In, Out};

/// Something the console could not do.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The users and sessions' store said no.
    #[error(transparent)]
    Accounts(#[from] accounts::AccountsError),
    /// The alert store said no.
    #[error(transparent)]
    Store(#[from] harrier_alerts::store::StoreError),
    /// The posture history said no.
    #[error(transparent)]
    History(#[from] harrier_posture::history::HistoryError),
    /// The image database said no.
    #[error(transparent)]
    Images(#[from] harrier_supply::results::DbError),
    /// Input the console does not take (a user name, a token file line).
    #[error("{0}")]
    Invalid(String),
}

/// A loaded rule, as the Rules page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub desc: String,
    /// Priority.
    pub priority: Priority,
    /// Event source.
    pub source: String,
    /// Tags.
    pub tags: Vec<String>,
    /// File it came from.
    pub file: String,
    /// Enabled.
    pub enabled: bool,
}

impl RuleInfo {
    /// Every rule of a rule set.
    pub fn of(rules: &harrier_rules::RuleSet) -> Vec<RuleInfo> {
        rules
            .rules()
            .iter()
            .map(|r| RuleInfo {
                name: r.name.clone(),
                desc: r.desc.clone(),
                priority: r.priority,
                source: r.source.clone(),
                tags: r.tags.clone(),
                file: r.file.clone(),
                enabled: r.enabled,
            })
            .collect()
    }
}

/// Opens a connection to the alert store.
pub type OpenStore = Arc<dyn Fn() -> Result<Box<dyn AlertStore>, StoreError> + Send + Sync>;

/// Opens the image results.
pub type OpenImages =
    Arc<dyn Fn() -> Result<Box<dyn ImageResults>, harrier_supply::results::DbError> + Send + Sync>;

/// Opens the console's users and sessions.
pub type OpenAccounts =
    Arc<dyn Fn() -> Result<Box<dyn Accounts>, accounts::AccountsError> + Send + Sync>;

/// Opens the posture history.
pub type OpenHistory = Arc<dyn Fn() -> Result<Box<dyn PostureHistory>, HistoryError> + Send + Sync>;

/// Where the console reads alerts, posture history and images: the service's own backends, so a
/// console on a worker sharing a PostgreSQL store shows every worker's.
#[derive(Clone)]
pub struct Stores {
    /// The alert store (a connection per concurrent request, reused).
    pub alerts: OpenStore,
    /// The posture history.
    pub history: OpenHistory,
    /// Image scans, SBOMs and tags.
    pub images: OpenImages,
    /// The console's users and sessions.
    pub accounts: OpenAccounts,
}

impl Stores {
    /// `alerts.db`, `posture.db`, `images.db` and `console.db` in `state_dir`.
    pub fn sqlite(state_dir: &Path) -> Stores {
        let accounts = state_dir.join("console.db");
        let alerts = harrier_alerts::state::alert_store_path(state_dir);
        let history = state_dir.join("posture.db");
        let images = state_dir.join("images.db");
        Stores {
            images: Arc::new(
                move || Ok(Box::new(ImageDb::open(&images)?) as Box<dyn ImageResults>),
            ),
            alerts: Arc::new(move || Ok(Box::new(Store::open(&alerts)?) as Box<dyn AlertStore>)),
            history: Arc::new(move || {
                Ok(Box::new(History::open(&history)?) as Box<dyn PostureHistory>)
            }),
            accounts: Arc::new(move || {
                Ok(Box::new(SqliteAccounts::open(&accounts)?) as Box<dyn Accounts>)
            }),
        }
    }
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stores")
    }
}

/// What the console needs to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// The service's state directory (users, sessions, image results).
    pub state_dir: PathBuf,
    /// The alert store and posture history.
    pub stores: Stores,
    /// API tokens: lines `name role token`, mode 600.
    pub token_file: Option<PathBuf>,
    /// Served over HTTPS (cookies get `Secure`).
    pub https: bool,
    /// The loaded rules.
    pub rules: Vec<RuleInfo>,
}

/// The console.
pub struct Console {
    opts: Options,
    auth: Auth,
    stores: Mutex<Vec<Box<dyn AlertStore>>>,
}

impl Console {
    /// Opens the console over `opts.state_dir`.
    pub fn new(opts: Options) -> Result<Console, ConsoleError> {
        let auth = Auth::new((opts.stores.accounts)()?, opts.token_file.as_deref())?;
        // The alert store exists (and has the console's columns) from the start.
        let store = (opts.stores.alerts)()?;
        Ok(Console {
            opts,
            auth,
            stores: Mutex::new(vec![store]),
        })
    }

    /// The users and sessions.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Runs `f` with a connection to the alert store (one per concurrent request, reused).
    fn with_store<R>(
        &self,
        f: impl FnOnce(&dyn AlertStore) -> Result<R, ConsoleError>,
    ) -> Result<R, ConsoleError> {
        let s = self.stores.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let s = match s {
            Some(s) => s,
            None => (self.opts.stores.alerts)()?,
        };
        let r = f(s.as_ref());
        let mut pool = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < 16 {
            pool.push(s);
        }
        r
    }

    fn history(&self) -> Result<Box<dyn PostureHistory>, ConsoleError> {
        Ok((self.opts.stores.history)()?)
    }

    fn images(&self) -> Result<Box<dyn ImageResults>, ConsoleError> {
        Ok((self.opts.stores.images)()?)
    }

    /// Reads and answers one request.
    pub fn handle(&self, mut req: tiny_http::Request) {
        let head = match In::head(&req) {
            Ok(h) => h,
            Err(out) => return out.send(req),
        };
        // Who is calling is known from the headers: a body is read only for the login form and
        // for callers with a session or token, so a stranger trickling a large body cannot hold
        // the console's threads.
        let may_send_body = head.path == "/login" || matches!(self.who(&head), Ok(Some(_)));
        if !may_send_body && req.body_length().is_some_and(|n| n > 0) {
            let mut out = if head.path.starts_with("/api/") {
                Out::json(
                    401,
                    &serde_json::json!({"error": "authentication required"}),
                )
            } else {
                Out::status(401)
            };
            out.secure_headers(self.opts.https);
            return out.send(req);
        }
        let out = match head.read_body(&mut req) {
            // A bug in a page must not stop the service: the request gets a 500.
            Ok(input) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.answer(&input)))
                    .unwrap_or_else(|_| {
                        tracing::error!(path = %input.path, "console: a request panicked");
                        Out::error(&input, 500, "internal error")
                    })
            }
            Err(out) => out,
        };
        out.send(req);
    }

    /// The answer to a request.
    pub fn answer(&self, r: &In) -> Out {
        let mut out = self.route(r);
        out.secure_headers(self.opts.https);
        out
    }

    fn route(&self, r: &In) -> Out {
        let path = r.path.as_str();
        if path == "/static/console.css" && r.method == "GET" {
            return Out::new(200, "text/css; charset=utf-8", CSS.as_bytes().to_vec())
                .header("Cache-Control", "max-age=3600");
        }
        if path == "/login" {
            return match r.method.as_str() {
                "GET" => pages::login(r, None),
                "POST" => self.login(r),
                _ => Out::status(405),
            };
        }
        let who = match self.who(r) {
            Ok(w) => w,
            Err(e) => return Out::error(r, 500, &e.to_string()),
        };
        let api = path == "/api/v1" || path.starts_with("/api/v1/");
        let Some(who) = who else {
            return if api {
                Out::json(
                    401,
                    &serde_json::json!({"error": "authentication required"}),
                )
                .header("WWW-Authenticate", "Bearer")
            } else if r.method == "GET" {
                Out::redirect("/login")
            } else {
                Out::status(401)
            };
        };
        if r.method != "GET" && r.method != "HEAD" {
            if let Err(why) = csrf_ok(r, &who) {
                return Out::error(r, 403, why);
            }
        }
        let result = if api {
            api::route(self, r, &who)
        } else {
            pages::route(self, r, &who)
        };
        result.unwrap_or_else(|e| {
            tracing::warn!(error = %e, path, "console: request failed");
            Out::error(
                r,
                500,
                "the console could not read its data; see the service log",
            )
        })
    }

    /// The caller: a session cookie, or a bearer token.
    fn who(&self, r: &In) -> Result<Option<Principal>, ConsoleError> {
        if let Some(t) = r
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
        {
            return Ok(self.auth.bearer(t.trim()));
        }
        match r.cookie(SESSION_COOKIE) {
            Some(t) => self.auth.session(t),
            None => Ok(None),
        }
    }

    fn login(&self, r: &In) -> Out {
        if same_origin(r).is_err() {
            return Out::error(r, 403, "cross-site login refused");
        }
        let form = r.form();
        let get = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let (name, password) = (get("user"), get("password"));
        if self.auth.limited(&r.client, name) {
            return pages::login(r, Some("login_limited")).with_status(429);
        }
        match self.auth.login(&r.client, name, password) {
            Ok(Some(token)) => {
                let secure = if self.opts.https { "; Secure" } else { "" };
                Out::redirect("/").header(
                    "Set-Cookie",
                    &format!(
                        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{secure}"
                    ),
                )
            }
            Ok(None) => pages::login(r, Some("login_failed")).with_status(401),
            Err(e) => Out::error(r, 500, &e.to_string()),
        }
    }
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "harrier_session";

/// `Origin` (when the browser sends one) must be this console; `Sec-Fetch-Site`, when sent,
/// must not be cross-site.
fn same_origin(r: &In) -> Result<(), &'static str> {
    if let Some(site) = r.header("sec-fetch-site") {
        if site == "cross-site" || site == "same-site" {
            return Err("cross-site request refused");
        }
    }
    if let (Some(origin), Some(host)) = (r.header("origin"), r.header("host")) {
        let o = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .unwrap_or("");
        if o != host {
            return Err("cross-origin request refused");
        }
    }
    Ok(())
}

/// A state change by a session needs its CSRF token (form field `csrf` or header
/// `X-CSRF-Token`) and the same origin; a bearer token needs neither.
fn csrf_ok(r: &In, who: &Principal) -> Result<(), &'static str> {
    let Some(expected) = who.csrf.as_deref() else {
        return Ok(());
    };
    same_origin(r)?;
    let sent = r.header("x-csrf-token").map(str::to_string).or_else(|| {
        r.form()
            .into_iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v)
    });
    match sent {
        Some(s) if auth::same(&s, expected) => Ok(()),
        _ => Err("missing or wrong CSRF token"),
    }
}

const CSS: &str = include_str!("console.css");
