//! Shared pieces of the CLI tests: an isolated environment per test and a
//! local token endpoint that checks what it receives.
//!
//! Every command runs the real binary with an empty environment: its own
//! config file and cache directory, and a `HOME` that is an empty directory,
//! so no test can read or change a developer's files.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;
use tempfile::TempDir;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The client secret the test endpoint accepts. Tests also assert that it
/// never shows up in output.
pub const SECRET: &str = "sekrit-4b1f9e2a7c";
pub const CLIENT_ID: &str = "test-client";
pub const INSTANCE_TOKEN_PATH: &str = "/_cms/preview2/oauth/token";

pub struct TestEnv {
    _root: TempDir,
    pub config: PathBuf,
    pub cache: PathBuf,
    pub home: PathBuf,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let root = tempfile::tempdir().expect("temp dir");
        let home = root.path().join("home");
        std::fs::create_dir(&home).unwrap();
        TestEnv {
            config: root.path().join("config/config.toml"),
            cache: root.path().join("cache"),
            home,
            _root: root,
        }
    }

    /// The binary, with nothing in its environment but this test's paths.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("opti-cred").expect("binary built");
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("OPTI_CRED_CONFIG", &self.config)
            .env("OPTI_CRED_CACHE_DIR", &self.cache);
        cmd
    }

    /// The binary with the test secret in the environment.
    pub fn cmd_with_secret(&self) -> Command {
        let mut cmd = self.cmd();
        cmd.env("OPTI_CRED_CLIENT_SECRET", SECRET);
        cmd
    }

    pub fn write_config(&self, text: &str) {
        std::fs::create_dir_all(self.config.parent().unwrap()).unwrap();
        std::fs::write(&self.config, text).unwrap();
    }

    /// A config with one default profile `NAME` for `cms_url`.
    pub fn profile(&self, name: &str, cms_url: &str) {
        self.write_config(&format!(
            "default_profile = \"{name}\"\n\n[profiles.{name}]\n\
             cms_url = \"{cms_url}\"\nclient_id = \"{CLIENT_ID}\"\n"
        ));
    }

    /// The token cache entries on disk (not their lock files).
    pub fn cache_entries(&self) -> Vec<PathBuf> {
        let dir = self.cache.join("tokens");
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect(),
            Err(_) => Vec::new(),
        };
        entries.sort();
        entries
    }

    /// The only cache entry; fails if there is not exactly one.
    pub fn cache_entry(&self) -> PathBuf {
        let entries = self.cache_entries();
        assert_eq!(entries.len(), 1, "cache entries: {entries:?}");
        entries.into_iter().next().unwrap()
    }
}

/// Rewrites a JSON file in place.
pub fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(&mut json);
    std::fs::write(path, serde_json::to_vec(&json).unwrap()).unwrap();
}

/// Issues `token-1`, `token-2`, … valid for `expires_in` seconds.
pub struct Tokens {
    pub expires_in: i64,
    delay: std::time::Duration,
    issued: Arc<AtomicUsize>,
}

impl Tokens {
    pub fn lasting(expires_in: i64) -> Tokens {
        Tokens {
            expires_in,
            delay: std::time::Duration::ZERO,
            issued: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Answers only after `delay`.
    pub fn delayed(self, delay: std::time::Duration) -> Tokens {
        Tokens { delay, ..self }
    }
}

impl Respond for Tokens {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({
                "access_token": format!("token-{n}"),
                "expires_in": self.expires_in,
                "token_type": "Bearer",
            }))
            .set_delay(self.delay)
    }
}

/// A token endpoint at `token_path` that answers only a well-formed request
/// carrying the test credentials; anything else gets wiremock's 404.
pub async fn token_endpoint(token_path: &str, tokens: Tokens) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(token_path))
        .and(header("content-type", "application/json"))
        .and(body_json(serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
        })))
        .respond_with(tokens)
        .mount(&server)
        .await;
    server
}

/// A token endpoint issuing tokens that last 300 s, and a test environment
/// whose default profile `prod` points at it.
pub async fn prod_profile() -> (MockServer, TestEnv) {
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());
    (server, env)
}

/// An endpoint that answers every POST with `response` (a fixed
/// `ResponseTemplate`, or `Tokens`).
pub async fn endpoint_answering(response: impl Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

pub async fn request_count(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

/// The output of a finished command, as text.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Fails the test, showing stderr, unless stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
    }

    /// Fails the test, showing stdout, unless stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout
        );
    }
}

pub fn run(cmd: &mut Command) -> Outcome {
    let outcome = run_report(cmd);
    if outcome.code != 0 {
        assert_eq!(outcome.stdout, "", "a failing command printed on stdout");
    }
    outcome
}

/// [`run`] for `doctor`, the one command whose output (its report) is
/// printed even when it fails. The secret still never shows.
pub fn run_report(cmd: &mut Command) -> Outcome {
    let out = cmd.output().expect("binary runs");
    let outcome = Outcome {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    assert!(
        !outcome.stdout.contains(SECRET) && !outcome.stderr.contains(SECRET),
        "the secret leaked:\n{}\n{}",
        outcome.stdout,
        outcome.stderr
    );
    outcome
}

/// Checks that the keychain tests run against the disposable Secret Service
/// that `scripts/with-secret-service` starts (it sets
/// `OPTI_CRED_TEST_SECRET_SERVICE`), never against a developer's own
/// keychain.
///
/// Those tests are `#[ignore]`d, so a plain `cargo test` reports them as
/// ignored rather than passed; `.ci/run` includes them. A test that was asked
/// to run without the disposable service fails: it cannot pass without a
/// real keychain.
pub fn require_disposable_secret_service() {
    let ready = std::env::var_os("OPTI_CRED_TEST_SECRET_SERVICE").is_some()
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    assert!(
        ready,
        "no disposable Secret Service: run keychain tests as \
         `scripts/with-secret-service cargo test -- --include-ignored`, as `.ci/run` does"
    );
}

/// Serializes the tests that use the Secret Service: concurrent D-Bus
/// clients of one daemon race.
/// (Each test has its own runtime; the async lock is held across awaits.)
pub async fn keychain_lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

impl TestEnv {
    /// The binary with access to the test session bus, and so to the
    /// disposable Secret Service.
    pub fn cmd_with_keychain(&self) -> Command {
        let mut cmd = self.cmd();
        for var in ["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"] {
            if let Some(value) = std::env::var_os(var) {
                cmd.env(var, value);
            }
        }
        cmd
    }
}

/// What `secret-tool` finds in the Secret Service for an opti-cred account:
/// a cross-check that does not go through opti-cred or the keyring crates.
pub fn secret_tool_lookup(account: &str) -> Option<String> {
    let out = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "opti-cred", "username", account])
        .output()
        .expect("secret-tool runs");
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

/// Stores a secret for an opti-cred account with `secret-tool`.
pub fn secret_tool_store(account: &str, secret: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("secret-tool")
        .args([
            "store",
            "--label=test",
            "service",
            "opti-cred",
            "username",
            account,
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("secret-tool runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(secret.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// The keychain account of the test client on a server.
pub fn account_for(server: &MockServer) -> String {
    let addr = server.address();
    format!("{CLIENT_ID}@{}:{}", addr.ip(), addr.port())
}

impl TestEnv {
    /// `cmd_with_keychain` as a plain `std::process::Command`, for driving
    /// the binary in a pseudo-terminal.
    pub fn std_cmd_with_keychain(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("opti-cred"));
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("OPTI_CRED_CONFIG", &self.config)
            .env("OPTI_CRED_CACHE_DIR", &self.cache);
        for var in ["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"] {
            if let Some(value) = std::env::var_os(var) {
                cmd.env(var, value);
            }
        }
        cmd
    }
}
