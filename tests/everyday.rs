//! Living with opti-cred: `status`, `doctor`, `api`, completions, the
//! manual page, and progress on a terminal, against real local servers.

mod common;

use std::time::Duration;

use common::*;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Two profiles on one token endpoint: `prod` (the default) and `test`.
async fn two_profiles() -> (MockServer, TestEnv) {
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let env = TestEnv::new();
    env.write_config(&format!(
        "default_profile = \"prod\"\n\
         [profiles.prod]\ncms_url = \"{0}\"\nclient_id = \"{CLIENT_ID}\"\n\
         [profiles.test]\ncms_url = \"{0}/test\"\nclient_id = \"{CLIENT_ID}\"\n",
        server.uri()
    ));
    (server, env)
}

#[tokio::test]
async fn status_shows_each_profile_without_secrets() {
    let (server, env) = two_profiles().await;
    run(env.cmd_with_secret().arg("token"));

    let out = run(env.cmd_with_secret().arg("status"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(
        lines[0].starts_with("  PROFILE") && lines[0].ends_with("TOKEN"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("* prod ") && lines[1].contains(&server.uri()),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("environment") && lines[1].contains("valid for 4m"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("  test ") && lines[2].ends_with("none cached"),
        "{}",
        lines[2]
    );
    assert!(!out.stdout.contains("token-1"));

    // No secret anywhere, and no keychain: said, never guessed.
    let out = run(env.cmd().args(["status", "test"]));
    out.stdout_has("missing (keychain unavailable)");
}

#[tokio::test]
async fn status_json_is_for_scripts() {
    let (_server, env) = two_profiles().await;
    run(env.cmd_with_secret().arg("token"));
    let out = run(env.cmd_with_secret().args(["status", "--json"]));
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["profile"], "prod");
    assert_eq!(rows[0]["default"], true);
    assert_eq!(rows[0]["secret"]["source"], "environment");
    assert_eq!(rows[0]["token"]["state"], "valid");
    assert!(rows[0]["token"]["expires_in"].as_i64().unwrap() > 290);
    assert_eq!(rows[1]["token"]["state"], "none");
    assert!(!out.stdout.contains("token-1") && !out.stdout.contains(SECRET));

    let out = run(env.cmd_with_secret().args(["status", "nope"]));
    assert_eq!(out.code, 2);
}

#[tokio::test]
async fn doctor_passes_on_a_healthy_setup() {
    let (server, env) = two_profiles().await;
    let out = run(env.cmd_with_secret().arg("doctor"));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for check in ["config", "cache", "secret", "endpoint", "clock"] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(check)),
            "{check}: {}",
            out.stdout
        );
    }
    // Without a keychain, the environment's secret is enough.
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("skip") && l.contains("keychain"))
    );
    // The endpoint check asked for a token, and left the cache alone.
    assert_eq!(request_count(&server).await, 1);
    assert!(env.cache_entries().is_empty());
}

#[tokio::test]
async fn doctor_fails_with_what_to_do() {
    let server = endpoint_answering(
        ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": "invalid_client"})),
    )
    .await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());

    let out = env
        .cmd_with_secret()
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8));
    let checks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let endpoint = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "endpoint")
        .unwrap();
    assert_eq!(endpoint["outcome"], "fail");
    assert!(
        endpoint["detail"]
            .as_str()
            .unwrap()
            .contains("invalid_client")
    );
    assert!(
        endpoint["fix"]
            .as_str()
            .unwrap()
            .contains("opti-cred login --profile prod")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("check(s) failed"), "{stderr}");
    assert!(!stderr.contains(SECRET) && !String::from_utf8_lossy(&out.stdout).contains(SECRET));

    // A broken config is the first failure, and the rest is skipped.
    env.write_config("[profiles.x\n");
    let out = env.cmd().arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(8));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.starts_with("FAIL  config"), "{report}");
    assert!(report.contains("skip  endpoint"), "{report}");
}

#[cfg(unix)]
#[tokio::test]
async fn doctor_spots_a_cache_open_to_others() {
    use std::os::unix::fs::PermissionsExt;
    let (_server, env) = two_profiles().await;
    run(env.cmd_with_secret().arg("token"));
    std::fs::set_permissions(&env.cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.cmd_with_secret().arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(8));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("FAIL  cache") && report.contains("chmod 700"),
        "{report}"
    );
}

/// A CMS whose API wants `Bearer token-N` for the N-th token.
async fn api_server(accepted: &str) -> MockServer {
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    Mock::given(method("GET"))
        .and(path("/_cms/preview2/contenttypes"))
        .and(query_param("pageSize", "5"))
        .and(header(
            "authorization",
            format!("Bearer {accepted}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"items\":[]}"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/_cms/preview2/contenttypes"))
        .and(header(
            "authorization",
            format!("Bearer {accepted}").as_str(),
        ))
        .and(header("content-type", "application/json"))
        .and(header("x-extra", "yes"))
        .and(body_json(serde_json::json!({"key": "News"})))
        .respond_with(ResponseTemplate::new(201).set_body_string("{\"key\":\"News\"}"))
        .mount(&server)
        .await;
    Mock::given(path("/_cms/preview2/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            serde_json::json!({"title": "Not Found", "detail": "No such thing"}).to_string(),
            "application/problem+json",
        ))
        .mount(&server)
        .await;
    // Anything else with a token is refused as unauthorized.
    Mock::given(path("/_cms/preview2/contenttypes"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn api_sends_the_token_and_prints_the_body() {
    let server = api_server("token-1").await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());

    let out = run(env
        .cmd_with_secret()
        .args(["api", "prod", "contenttypes?pageSize=5"]));
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "{\"items\":[]}", "")
    );

    let out = run(env
        .cmd_with_secret()
        .args([
            "api",
            "prod",
            "POST",
            "/contenttypes",
            "--data",
            "-",
            "-H",
            "X-Extra: yes",
            "-i",
        ])
        .write_stdin("{\"key\":\"News\"}"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "{\"key\":\"News\"}"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.starts_with("HTTP/1.1 201 Created\n"),
        "{}",
        out.stderr
    );

    let body = env.home.join("body.json");
    std::fs::write(&body, "{\"key\":\"News\"}").unwrap();
    let out = run(env.cmd_with_secret().args([
        "api",
        "prod",
        "contenttypes",
        "--data",
        &format!("@{}", body.display()),
        "--header",
        "X-Extra: yes",
    ]));
    assert_eq!(
        out.code, 0,
        "POST is the default with --data: {}",
        out.stderr
    );
    assert_eq!(
        request_count(&server).await,
        4,
        "one token, three API calls"
    );
}

#[tokio::test]
async fn api_retries_once_with_a_fresh_token_after_a_401() {
    // The API only takes token-2, as if token-1 had been revoked.
    let server = api_server("token-2").await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());
    run(env.cmd_with_secret().arg("token"));

    let out = run(env
        .cmd_with_secret()
        .args(["api", "prod", "contenttypes?pageSize=5"]));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "{\"items\":[]}"),
        "{}",
        out.stderr
    );
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(
        out.stdout, "token-2\n",
        "the fresh token replaced the refused one"
    );

    // It retries once, not forever.
    let server = api_server("token-never").await;
    env.profile("prod", &server.uri());
    let out = run(env
        .cmd_with_secret()
        .args(["api", "prod", "contenttypes?pageSize=5"]));
    assert_eq!(out.code, 9, "{}", out.stderr);
    out.stderr_has("HTTP 401");
    assert_eq!(request_count(&server).await, 4, "two tokens, two API calls");
}

#[tokio::test]
async fn api_errors_are_on_stderr_with_nothing_on_stdout() {
    let server = api_server("token-1").await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());

    let out = run(env.cmd_with_secret().args(["api", "prod", "missing"]));
    assert_eq!(out.code, 9);
    out.stderr_has("HTTP 404 Not Found: Not Found: No such thing");

    for (args, want) in [
        (vec!["api", "prod", "https://evil.example/x"], "full URL"),
        (
            vec!["api", "prod", "../oauth/token"],
            "outside the profile's API base",
        ),
        (
            vec![
                "api",
                "prod",
                "contenttypes",
                "-H",
                "Authorization: Bearer x",
            ],
            "set by opti-cred",
        ),
        (
            vec!["api", "prod", "NOT A METHOD", "x"],
            "not an HTTP method",
        ),
    ] {
        let out = run(env.cmd_with_secret().args(&args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    }
    assert_eq!(
        request_count(&server).await,
        2,
        "one token and one API call; the refused calls sent nothing"
    );
}

#[test]
fn completions_and_the_manual_page_come_from_the_cli_definition() {
    let env = TestEnv::new();
    for (shell, needle) in [
        ("bash", "complete -F _opti__cred"),
        ("zsh", "#compdef opti-cred"),
        ("fish", "complete -c opti-cred"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = run(env.cmd().args(["completions", shell]));
        assert_eq!(out.code, 0);
        assert!(out.stdout.contains(needle), "{shell}");
        assert!(
            out.stdout.contains("git-credential"),
            "{shell} lacks a subcommand"
        );
    }
    let out = run(env.cmd().arg("man"));
    assert!(
        out.stdout.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &out.stdout[..80]
    );
    assert!(out.stdout.contains(".TH opti-cred 1"), "not a roff page");
    assert!(
        out.stdout.contains("git\\-credential"),
        "the page lacks a subcommand"
    );
}

#[test]
fn every_command_has_help_with_an_example() {
    let env = TestEnv::new();
    let commands: [&[&str]; 16] = [
        &[],
        &["token"],
        &["exec"],
        &["login"],
        &["logout"],
        &["profile"],
        &["profile", "add"],
        &["profile", "list"],
        &["profile", "show"],
        &["profile", "remove"],
        &["profile", "default"],
        &["status"],
        &["doctor"],
        &["api"],
        &["git-credential"],
        &["completions"],
    ];
    for command in commands {
        let out = run(env.cmd().args(command).arg("--help"));
        assert_eq!(out.code, 0, "{command:?}");
        assert!(
            out.stdout.contains("Examples:"),
            "{command:?}: {}",
            out.stdout
        );
    }
}

#[tokio::test]
async fn a_slow_fetch_shows_a_spinner_on_a_terminal_only() {
    let server =
        endpoint_answering(Tokens::lasting(300).delayed(Duration::from_millis(1200))).await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());

    // stderr is a pipe here: nothing but the token, anywhere.
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("token-1\n", "")
    );

    // In a terminal the spinner draws on stderr, then erases itself.
    std::fs::remove_dir_all(&env.cache).unwrap();
    let mut cmd = env.std_cmd_with_keychain();
    cmd.env("OPTI_CRED_CLIENT_SECRET", SECRET).arg("token");
    let mut term = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    term.exp_string("requesting a token for profile `prod`")
        .unwrap();
    let rest = term.exp_eof().unwrap();
    assert!(rest.contains("token-2"), "{rest}");
    assert!(
        rest.contains("\x1b[2K"),
        "the spinner was not erased: {rest:?}"
    );
}

#[tokio::test]
async fn quiet_by_default_with_more_on_request() {
    let (_server, env) = prod_profile().await;

    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.stderr, "");
    std::fs::remove_dir_all(&env.cache).unwrap();
    let out = run(env.cmd_with_secret().args(["-v", "token"]));
    out.stderr_has("opti-cred: info: requesting a token");
    assert!(!out.stderr.contains("debug:"), "{}", out.stderr);
    let out = run(env.cmd_with_secret().args(["-vv", "token"]));
    out.stderr_has("opti-cred: debug: served from the token cache");
    let out = run(env
        .cmd_with_secret()
        .arg("token")
        .env("RUST_LOG", "opti_cred=debug"));
    out.stderr_has("opti-cred: debug: served from the token cache");
    for line in out.stderr.lines() {
        assert!(line.starts_with("opti-cred: "), "unprefixed: {line}");
    }
}
