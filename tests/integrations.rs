//! The ways other programs ask for a token: `--format` outputs fed to real
//! curl, `opti-cred exec`, and real git using opti-cred as its credential
//! helper, each against a local server that checks what it receives.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A CMS API endpoint that answers 200 only to `Authorization: Bearer token-1`.
async fn api_requiring(token: &str) -> MockServer {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/content"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_string("content for you"))
        .mount(&api)
        .await;
    api
}

/// Runs `program args` with `input` on stdin; returns (status, stdout, stderr).
fn pipe_into(program: &str, args: &[&str], input: &[u8]) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("`{program}` runs: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_header_format_feeds_curl_h_from_stdin() {
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let api = api_requiring("token-1").await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());

    let out = run(env.cmd_with_secret().args(["token", "--format", "header"]));
    assert_eq!(out.stdout, "Authorization: Bearer token-1\n");
    let url = format!("{}/api/content", api.uri());
    let (ok, body, err) = pipe_into("curl", &["-fsS", "-H", "@-", &url], out.stdout.as_bytes());
    assert!(ok, "{err}");
    assert_eq!(body, "content for you");
}

#[tokio::test]
async fn the_curl_config_format_feeds_curl_k_from_stdin() {
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let api = api_requiring("token-1").await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());

    let out = run(env
        .cmd_with_secret()
        .args(["token", "--format", "curl-config"]));
    assert_eq!(out.stdout, "header = \"Authorization: Bearer token-1\"\n");
    let url = format!("{}/api/content", api.uri());
    let (ok, body, err) = pipe_into("curl", &["-fsS", "-K", "-", &url], out.stdout.as_bytes());
    assert!(ok, "{err}");
    assert_eq!(body, "content for you");

    // A wrong token is refused by the API, so the check above means something.
    let (ok, _, _) = pipe_into(
        "curl",
        &["-fsS", "-K", "-", &url],
        b"header = \"Authorization: Bearer nope\"\n",
    );
    assert!(!ok);
}

#[tokio::test]
async fn the_env_and_json_formats() {
    let (_server, env) = prod_profile().await;

    let out = run(env.cmd_with_secret().args(["token", "--format", "env"]));
    let script = format!(
        "{}printf '%s|%s' \"$OPTI_CRED_TOKEN\" \"$OPTI_CRED_TOKEN_EXPIRES_AT\"",
        out.stdout
    );
    let (ok, printed, err) = pipe_into("sh", &[], script.as_bytes());
    assert!(ok, "{err}");
    let (token, expires) = printed.split_once('|').unwrap();
    assert_eq!(token, "token-1");
    assert!(
        chrono::DateTime::parse_from_rfc3339(expires).is_ok(),
        "{expires}"
    );

    let out = run(env.cmd_with_secret().args(["token", "--format", "json"]));
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["access_token"], "token-1");
    let out = run(env
        .cmd_with_secret()
        .args(["token", "--json", "--format", "raw"]));
    assert_eq!(out.code, 2, "--json and --format together are refused");
}

#[tokio::test]
async fn exec_hands_the_token_to_the_command_and_passes_its_status_back() {
    let (server, env) = prod_profile().await;

    let script = "printf '%s %s %s %s %s' \"$OPTI_CRED_TOKEN\" \"$OPTI_CRED_CMS_URL\" \
                  \"$OPTIMIZELY_CMS_URL\" \"${OPTI_CRED_CLIENT_SECRET:-no-secret}\" \
                  \"$OPTI_CRED_EXEC\"; cat; echo oops >&2; exit 42";
    let out = env
        .cmd_with_secret()
        .args(["exec", "prod", "--", "sh", "-c", script])
        .write_stdin("from stdin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(42));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("token-1 {0} {0} no-secret prodfrom stdin", server.uri())
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
}

#[tokio::test]
async fn exec_refuses_to_nest_another_profile_unless_asked() {
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let env = TestEnv::new();
    env.write_config(&format!(
        "[profiles.a]\ncms_url = \"{0}\"\nclient_id = \"{CLIENT_ID}\"\n\
         [profiles.b]\ncms_url = \"{0}\"\nclient_id = \"{CLIENT_ID}\"\n",
        server.uri()
    ));
    let out = run(env
        .cmd_with_secret()
        .env("OPTI_CRED_EXEC", "a")
        .args(["exec", "b", "--", "true"]));
    assert_eq!(out.code, 2);
    out.stderr_has("--allow-nesting");

    let out = run(env
        .cmd_with_secret()
        .env("OPTI_CRED_EXEC", "a")
        .args(["exec", "a", "--", "true"]));
    assert_eq!(out.code, 0, "the same profile nests: {}", out.stderr);
    let out = run(env.cmd_with_secret().env("OPTI_CRED_EXEC", "a").args([
        "exec",
        "b",
        "--allow-nesting",
        "--",
        "true",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[tokio::test]
async fn exec_of_a_missing_command_exits_like_a_shell() {
    let (_server, env) = prod_profile().await;
    let out = run(env
        .cmd_with_secret()
        .args(["exec", "prod", "--", "/nonexistent/program"]));
    assert_eq!(out.code, 127);
    out.stderr_has("cannot run `/nonexistent/program`");
}

/// `git` with a blank environment of its own (no system or user config,
/// no prompting), opti-cred's test paths, and `credential.helper` set.
fn git(env: &TestEnv, helper: &str, path_dir: Option<&Path>) -> Command {
    let mut cmd = Command::new("git");
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(dir) = path_dir {
        let mut joined = dir.as_os_str().to_owned();
        joined.push(":");
        joined.push(&path);
        path = joined;
    }
    cmd.env_clear()
        .env("PATH", path)
        .env("HOME", &env.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("OPTI_CRED_CONFIG", &env.config)
        .env("OPTI_CRED_CACHE_DIR", &env.cache)
        .env("OPTI_CRED_CLIENT_SECRET", SECRET)
        .args(["-c", &format!("credential.helper={helper}")]);
    cmd
}

fn git_credential(mut git: Command, action: &str, input: &str) -> (bool, String, String) {
    git.args(["credential", action])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = git.spawn().expect("git runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn host_of(server: &MockServer) -> String {
    let addr = server.address();
    format!("{}:{}", addr.ip(), addr.port())
}

#[tokio::test]
async fn git_credential_fill_gets_a_token_and_reject_makes_the_next_fill_fetch() {
    let (server, env) = prod_profile().await;
    let helper = format!(
        "!{} git-credential",
        assert_cmd::cargo::cargo_bin!("opti-cred").display()
    );
    let request = format!("protocol=http\nhost={}\n\n", host_of(&server));

    let (ok, out, err) = git_credential(git(&env, &helper, None), "fill", &request);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("username={CLIENT_ID}\n")), "{out}");
    assert!(out.contains("password=token-1\n"), "{out}");

    let (ok, out, _) = git_credential(git(&env, &helper, None), "fill", &request);
    assert!(ok && out.contains("password=token-1\n"), "{out}");
    assert_eq!(request_count(&server).await, 1);

    // The server refused token-1: git erases it, and the next fill fetches.
    let rejected = format!(
        "{}\nusername={CLIENT_ID}\npassword=token-1\n\n",
        request.trim_end()
    );
    let (ok, _, err) = git_credential(git(&env, &helper, None), "reject", &rejected);
    assert!(ok, "{err}");
    let (ok, out, err) = git_credential(git(&env, &helper, None), "fill", &request);
    assert!(ok, "{err}");
    assert!(out.contains("password=token-2\n"), "{out}");
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn git_finds_the_helper_on_the_path_by_its_name() {
    let (server, env) = prod_profile().await;
    let bin = env.home.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(
        assert_cmd::cargo::cargo_bin!("opti-cred"),
        bin.join("git-credential-opti-cred"),
    )
    .unwrap();

    let request = format!("protocol=http\nhost={}\n\n", host_of(&server));
    let (ok, out, err) = git_credential(git(&env, "opti-cred", Some(&bin)), "fill", &request);
    assert!(ok, "{err}");
    assert!(out.contains("password=token-1\n"), "{out}");

    // `--profile` on the helper's command line answers for any host.
    let other = "protocol=https\nhost=example.com\n\n";
    let (ok, out, err) = git_credential(
        git(&env, "opti-cred --profile prod", Some(&bin)),
        "fill",
        other,
    );
    assert!(ok, "{err}");
    assert!(out.contains("password=token-1\n"), "{out}");
}

#[tokio::test]
async fn an_unknown_host_gets_no_answer_so_git_moves_on() {
    let (server, env) = prod_profile().await;

    // Straight to the helper: no output, exit 0, a hint only with -v.
    let out = run(env
        .cmd_with_secret()
        .args(["git-credential", "get"])
        .write_stdin("protocol=https\nhost=github.com\n\n"));
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", "")
    );
    let out = run(env
        .cmd_with_secret()
        .args(["-v", "git-credential", "get"])
        .write_stdin("protocol=https\nhost=github.com\n\n"));
    assert_eq!((out.code, out.stdout.as_str()), (0, ""));
    out.stderr_has("git will ask its next helper");

    // Through git, a second helper then answers.
    let helper = format!(
        "!{} git-credential",
        assert_cmd::cargo::cargo_bin!("opti-cred").display()
    );
    let mut git = git(&env, &helper, None);
    git.args([
        "-c",
        "credential.helper=!f() { echo username=other; echo password=fallback; }; f",
    ]);
    let (ok, out, err) = git_credential(git, "fill", "protocol=https\nhost=github.com\n\n");
    assert!(ok, "{err}");
    assert!(out.contains("password=fallback\n"), "{out}");
    assert_eq!(request_count(&server).await, 0);
}

#[tokio::test]
async fn authtype_capable_callers_get_a_bearer_credential_with_its_expiry() {
    let (server, env) = prod_profile().await;
    let host = host_of(&server);

    let out = run(env
        .cmd_with_secret()
        .args(["git-credential", "get"])
        .write_stdin(format!(
            "capability[]=authtype\nprotocol=http\nhost={host}\n\n"
        )));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        &lines[..4],
        [
            "capability[]=authtype",
            "authtype=Bearer",
            "credential=token-1",
            "ephemeral=1"
        ]
    );
    let expiry: i64 = lines[4]
        .strip_prefix("password_expiry_utc=")
        .unwrap()
        .parse()
        .unwrap();
    let left = expiry - chrono::Utc::now().timestamp();
    assert!(
        (260..=271).contains(&left),
        "{left}: 300 s less the 30 s margin"
    );

    let out = run(env
        .cmd_with_secret()
        .args(["git-credential", "get"])
        .write_stdin(format!("protocol=http\nhost={host}\n\n")));
    assert!(out.stdout.starts_with(&format!(
        "username={CLIENT_ID}\npassword=token-1\npassword_expiry_utc="
    )));
}

#[tokio::test]
async fn store_does_nothing_and_malformed_input_is_an_error() {
    let (server, env) = prod_profile().await;
    let host = host_of(&server);

    for operation in ["store", "frobnicate"] {
        let out = run(env
            .cmd_with_secret()
            .args(["git-credential", operation])
            .write_stdin(format!(
                "protocol=http\nhost={host}\nusername=u\npassword=p\n\n"
            )));
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "{operation}"
        );
    }
    assert_eq!(request_count(&server).await, 0);

    let inputs: [&[u8]; 3] = [
        b"protocol=http\nthis line has no equals\n\n",
        b"protocol=http\nhost=a\0b\n\n",
        &[b'x'; 70_000],
    ];
    for input in inputs {
        let out = run(env
            .cmd_with_secret()
            .args(["git-credential", "get"])
            .write_stdin(input));
        assert_eq!(out.code, 2, "{}", out.stderr);
        out.stderr_has("malformed git credential input");
    }
}

#[tokio::test]
async fn git_passes_on_a_bearer_credential_when_its_caller_can_take_one() {
    let (server, env) = prod_profile().await;
    let helper = format!(
        "!{} git-credential",
        assert_cmd::cargo::cargo_bin!("opti-cred").display()
    );
    let request = format!(
        "capability[]=authtype\nprotocol=http\nhost={}\n\n",
        host_of(&server)
    );
    let (ok, out, err) = git_credential(git(&env, &helper, None), "fill", &request);
    assert!(ok, "{err}");
    assert!(out.contains("authtype=Bearer\n"), "{out}");
    assert!(out.contains("credential=token-1\n"), "{out}");
    assert!(!out.contains("password=token-1"), "{out}");
}

#[cfg(unix)]
#[tokio::test]
async fn exec_leaves_signals_to_the_command() {
    use std::os::unix::process::ExitStatusExt;
    let (_server, env) = prod_profile().await;
    // The command is the process: a signal to it ends the process we
    // started, with that signal, not with an exit code of opti-cred's.
    let out = env
        .cmd_with_secret()
        .args(["exec", "prod", "--", "sh", "-c", "kill -TERM $$"])
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{:?}", out.status);
}
