//! Secrets in the OS keychain: `login`, `token` and `logout` against a real
//! Secret Service (the disposable one `scripts/with-secret-service` starts),
//! cross-checked with `secret-tool`; the interactive prompt in a real
//! pseudo-terminal; and a keychain that is missing or does not answer.
//!
//! The tests that need the Secret Service are ignored by a plain
//! `cargo test` and run by `.ci/run`, which starts the service.

mod common;

use std::time::{Duration, Instant};

use common::*;
use wiremock::MockServer;

/// A login that needs nothing but the keychain.
const OFFLINE_LOGIN: [&str; 9] = [
    "login",
    "--profile",
    "p",
    "--cms-url",
    "https://a.example",
    "--client-id",
    "c",
    "--client-secret-stdin",
    "--no-verify",
];

fn login_args(server: &MockServer, profile: &str) -> Vec<String> {
    [
        "login",
        "--profile",
        profile,
        "--cms-url",
        &server.uri(),
        "--client-id",
        CLIENT_ID,
        "--client-secret-stdin",
    ]
    .map(String::from)
    .to_vec()
}

#[tokio::test]
#[ignore = "needs a disposable Secret Service: scripts/with-secret-service cargo test -- --include-ignored"]
async fn login_stores_the_secret_token_uses_it_and_logout_removes_it() {
    require_disposable_secret_service();
    let _serial = keychain_lock().await;
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let env = TestEnv::new();
    let account = account_for(&server);

    let out = run(env
        .cmd_with_keychain()
        .args(login_args(&server, "prod"))
        .write_stdin(format!("{SECRET}\n")));
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{}", out.stderr);
    out.stderr_has("logged in: profile `prod`");
    assert_eq!(secret_tool_lookup(&account).as_deref(), Some(SECRET));
    assert_eq!(
        request_count(&server).await,
        1,
        "login checks the credentials once"
    );

    // The token fetched by login was cached: no secret needed, no request.
    let out = run(env.cmd().arg("token"));
    assert_eq!(out.stdout, "token-1\n", "{}", out.stderr);

    // Without a cached token, the secret comes from the keychain alone.
    std::fs::remove_dir_all(&env.cache).unwrap();
    let out = run(env.cmd_with_keychain().arg("token"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "token-2\n"),
        "{}",
        out.stderr
    );
    let out = run(env.cmd_with_keychain().args(["profile", "show"]));
    out.stdout_has(&format!(
        "secret:      from the OS keychain (service `opti-cred`, account `{account}`)"
    ));

    let out = run(env.cmd_with_keychain().args(["logout", "prod"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("removed the client secret `{account}`"))
            && out.stderr.contains("removed its cached token"),
        "{}",
        out.stderr
    );
    assert_eq!(secret_tool_lookup(&account), None);
    assert!(env.cache_entries().is_empty());
    let out = run(env.cmd().args(["profile", "list"]));
    assert!(
        out.stdout.contains("prod"),
        "logout kept the profile: {}",
        out.stdout
    );

    let out = run(env.cmd_with_keychain().arg("token"));
    assert_eq!(out.code, 3);
    for want in [
        "OPTI_CRED_CLIENT_SECRET",
        "the OS keychain",
        "opti-cred login --profile prod",
    ] {
        assert!(out.stderr.contains(want), "{want}: {}", out.stderr);
    }
}

#[tokio::test]
#[ignore = "needs a disposable Secret Service: scripts/with-secret-service cargo test -- --include-ignored"]
async fn a_rejected_login_leaves_the_keychain_and_config_untouched() {
    require_disposable_secret_service();
    let _serial = keychain_lock().await;
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let env = TestEnv::new();
    let account = account_for(&server);
    secret_tool_store(&account, "the-old-secret");

    // The endpoint only knows SECRET; anything else is not answered with a
    // token. A wrong secret gets wiremock's 404 here, so use an endpoint
    // that rejects properly.
    let rejecting = endpoint_answering(wiremock::ResponseTemplate::new(401).set_body_json(
        serde_json::json!({"error": "invalid_client", "error_description": "bad secret"}),
    ))
    .await;
    let out = run(env
        .cmd_with_keychain()
        .args(login_args(&rejecting, "prod"))
        .write_stdin("wrong-secret\n"));
    assert_eq!(out.code, 4, "{}", out.stderr);
    out.stderr_has("nothing was saved");
    assert!(!out.stderr.contains("wrong-secret"), "{}", out.stderr);
    assert!(!env.config.exists());
    assert_eq!(
        secret_tool_lookup(&account).as_deref(),
        Some("the-old-secret")
    );
    assert_eq!(secret_tool_lookup(&account_for(&rejecting)), None);
}

#[tokio::test]
#[ignore = "needs a disposable Secret Service: scripts/with-secret-service cargo test -- --include-ignored"]
async fn no_verify_saves_without_a_request_and_logout_all_forget_clears_everything() {
    require_disposable_secret_service();
    let _serial = keychain_lock().await;
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let env = TestEnv::new();
    let account = account_for(&server);

    for profile in ["one", "two"] {
        let out = run(env
            .cmd_with_keychain()
            .args(login_args(&server, profile))
            .arg("--no-verify")
            .write_stdin(SECRET));
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stderr_has("not checked");
    }
    assert_eq!(request_count(&server).await, 0);
    // Two profiles for one client share one keychain entry.
    assert_eq!(secret_tool_lookup(&account).as_deref(), Some(SECRET));

    let out = run(env
        .cmd_with_keychain()
        .args(["logout", "--all", "--forget"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stderr_has("removed `one`, `two` from the config file");
    assert_eq!(secret_tool_lookup(&account), None);
    let out = run(env.cmd().args(["profile", "list"]));
    out.stderr_has("no profiles");
}

#[tokio::test]
#[ignore = "needs a disposable Secret Service: scripts/with-secret-service cargo test -- --include-ignored"]
async fn the_interactive_prompt_hides_the_secret() {
    require_disposable_secret_service();
    let _serial = keychain_lock().await;
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let env = TestEnv::new();
    let account = account_for(&server);

    // Everything is asked for: the CMS URL, the client id, the secret.
    let mut cmd = env.std_cmd_with_keychain();
    cmd.args(["login", "--profile", "prod"]);
    let mut term = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    term.exp_string("CMS URL: ").unwrap();
    term.send_line(&server.uri()).unwrap();
    term.exp_string("Client id: ").unwrap();
    term.send_line(CLIENT_ID).unwrap();
    term.exp_string("(input is hidden): ").unwrap();
    term.send_line(SECRET).unwrap();
    let rest = term.exp_eof().unwrap();
    assert!(!rest.contains(SECRET), "the secret was echoed: {rest}");
    assert!(rest.contains("logged in"), "{rest}");
    assert_eq!(exit_code(term.process()), 0);
    assert_eq!(secret_tool_lookup(&account).as_deref(), Some(SECRET));

    // A wrong secret typed at the prompt changes nothing.
    let rejecting = endpoint_answering(wiremock::ResponseTemplate::new(401)).await;
    let mut cmd = env.std_cmd_with_keychain();
    cmd.args(["login", "--profile", "prod", "--cms-url", &server.uri()]);
    cmd.args(["--token-url", &format!("{}/oauth/token", rejecting.uri())]);
    let mut term = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    term.exp_string("(input is hidden): ").unwrap();
    term.send_line("typed-wrong-secret").unwrap();
    let rest = term.exp_eof().unwrap();
    assert!(
        !rest.contains("typed-wrong-secret"),
        "the secret was echoed: {rest}"
    );
    assert!(rest.contains("rejected"), "{rest}");
    assert_eq!(exit_code(term.process()), 4);
    assert_eq!(secret_tool_lookup(&account).as_deref(), Some(SECRET));
    assert!(
        !std::fs::read_to_string(&env.config)
            .unwrap()
            .contains("token_url")
    );
    let out = run(env.cmd_with_keychain().args(["logout", "prod"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

fn exit_code(process: &rexpect::process::PtyProcess) -> i32 {
    match process.wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => code,
        other => panic!("the process did not exit normally: {other:?}"),
    }
}

#[test]
fn without_a_session_bus_login_fails_fast_and_clearly() {
    let env = TestEnv::new();
    let started = Instant::now();
    // `cmd` has no DBUS_SESSION_BUS_ADDRESS: no Secret Service can be found.
    let out = run(env.cmd().args(OFFLINE_LOGIN).write_stdin(SECRET));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    out.stderr_has("the OS keychain is not available");
    out.stderr_has("set `OPTI_CRED_CLIENT_SECRET` instead");
    assert!(
        !env.config.exists(),
        "login saved a profile without a secret"
    );
}

#[test]
fn a_secret_service_that_never_answers_is_cut_off() {
    let env = TestEnv::new();
    // A socket that takes connections and never says a word: a D-Bus
    // daemon (or a keychain behind it) that hangs.
    let bus = env.home.join("silent-bus");
    let _listener = std::os::unix::net::UnixListener::bind(&bus).unwrap();
    let address = format!("unix:path={}", bus.display());

    let started = Instant::now();
    let out = run(env
        .cmd()
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .env("OPTI_CRED_KEYCHAIN_TIMEOUT", "1s")
        .args(OFFLINE_LOGIN)
        .write_stdin(SECRET));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    out.stderr_has("did not answer within 1s");

    // `token` without a secret in the environment says the same, as exit 3.
    env.profile("p", "https://a.example");
    let out = run(env
        .cmd()
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .env("OPTI_CRED_KEYCHAIN_TIMEOUT", "1s")
        .arg("token"));
    assert_eq!(out.code, 3, "{}", out.stderr);
    out.stderr_has("did not answer within 1s");
}
