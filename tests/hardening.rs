//! Many processes at once, broken caches and bad networks: single-flight
//! fetching, cache entries that are not trusted, secret rotation, retries,
//! clock offsets and proxies, each against a real HTTP server on 127.0.0.1.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Starts `opti-cred token` without waiting for it.
fn spawn_token(env: &TestEnv) -> Child {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("opti-cred"));
    cmd.env_clear()
        .env("HOME", &env.home)
        .env("OPTI_CRED_CONFIG", &env.config)
        .env("OPTI_CRED_CACHE_DIR", &env.cache)
        .env("OPTI_CRED_CLIENT_SECRET", SECRET)
        .arg("token")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("binary starts")
}

#[tokio::test]
async fn sixty_four_processes_on_an_empty_cache_cause_one_request() {
    let server = MockServer::start().await;
    // A slow answer, so that every process misses while the first fetches.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"access_token": "shared", "expires_in": 300}))
                .set_delay(Duration::from_millis(500)),
        )
        .mount(&server)
        .await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());

    let children: Vec<Child> = (0..64).map(|_| spawn_token(&env)).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "shared\n", "{stderr}");
    }
    assert_eq!(request_count(&server).await, 1);
}

/// An endpoint, a profile that has fetched once (`token-1`), and the path of
/// its entry's lock file; the entry itself is deleted again.
async fn emptied_cache_after_one_fetch() -> (MockServer, TestEnv, std::path::PathBuf) {
    let (server, env) = prod_profile().await;
    run(env.cmd_with_secret().arg("token"));
    let lock_path = env.cache_entry().with_extension("lock");
    std::fs::remove_file(env.cache_entry()).unwrap();
    (server, env, lock_path)
}

#[tokio::test]
async fn a_lock_held_too_long_is_a_clear_error_naming_the_lock_file() {
    let (server, env, lock_path) = emptied_cache_after_one_fetch().await;

    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();
    let out = run(env
        .cmd_with_secret()
        .arg("token")
        .env("OPTI_CRED_LOCK_TIMEOUT", "500ms"));
    assert_eq!(out.code, 7, "{}", out.stderr);
    out.stderr_has(&lock_path.display().to_string());
    assert_eq!(request_count(&server).await, 1);

    drop(lock);
    let out = run(env
        .cmd_with_secret()
        .arg("token")
        .env("OPTI_CRED_LOCK_TIMEOUT", "500ms"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "token-2\n"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_process_that_dies_holding_the_lock_releases_it() {
    let (_server, env, lock_path) = emptied_cache_after_one_fetch().await;

    // Another process takes the lock and is killed while holding it. (`-o`:
    // the lock stays with `flock` itself, not with the `sleep` it runs.)
    let mut holder = std::process::Command::new("flock")
        .arg("-o")
        .arg(&lock_path)
        .args(["sleep", "60"])
        .spawn()
        .expect("flock (util-linux) runs");
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut waiter = spawn_token(&env);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "the waiter did not wait for the lock"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();

    let out = waiter.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "token-2\n");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_entry_readable_by_others_is_not_served_and_is_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let (_server, env) = prod_profile().await;
    run(env.cmd_with_secret().arg("token"));

    let entry = env.cache_entry();
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.stdout, "token-2\n");
    let mode = std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test]
async fn a_changed_secret_does_not_get_the_old_secrets_token() {
    // Any secret gets a token here: only the cache decides what is fetched.
    let server = endpoint_answering(Tokens::lasting(300)).await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());

    let out = run(env
        .cmd()
        .arg("token")
        .env("OPTI_CRED_CLIENT_SECRET", "old-secret"));
    assert_eq!(out.stdout, "token-1\n");
    let out = run(env
        .cmd()
        .arg("token")
        .env("OPTI_CRED_CLIENT_SECRET", "old-secret"));
    assert_eq!(out.stdout, "token-1\n");

    let out = run(env
        .cmd()
        .arg("token")
        .env("OPTI_CRED_CLIENT_SECRET", "new-secret"));
    assert_eq!(
        out.stdout, "token-2\n",
        "a token of the old secret was served"
    );
    assert_eq!(request_count(&server).await, 2);

    // The cache holds no secret, only a keyed hash of it.
    let text = std::fs::read_to_string(env.cache_entry()).unwrap();
    assert!(
        !text.contains("new-secret") && text.contains("secret_fingerprint"),
        "{text}"
    );
}

/// An endpoint that answers `failure` `times` times, then issues tokens,
/// and a profile pointing at it.
async fn failing_then_issuing(failure: ResponseTemplate, times: u64) -> (MockServer, TestEnv) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(failure)
        .up_to_n_times(times)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(Tokens::lasting(300))
        .mount(&server)
        .await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());
    (server, env)
}

#[tokio::test]
async fn server_errors_are_retried_until_a_token_comes() {
    let (server, env) = failing_then_issuing(ResponseTemplate::new(503), 2).await;

    let out = run(env.cmd_with_secret().args(["-v", "token"]));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "token-1\n"),
        "{}",
        out.stderr
    );
    assert_eq!(request_count(&server).await, 3);
    assert!(
        out.stderr.contains("attempt 1 failed (HTTP 503"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (_server, env) = failing_then_issuing(
        ResponseTemplate::new(429).insert_header("retry-after", "2"),
        1,
    )
    .await;

    let started = Instant::now();
    let out = run(env.cmd_with_secret().args(["-v", "token"]));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "token-1\n"),
        "{}",
        out.stderr
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    out.stderr_has("retrying in 2s");
}

#[tokio::test]
async fn rejected_credentials_are_never_retried() {
    let server = endpoint_answering(
        ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_client"})),
    )
    .await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.code, 4);
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit_and_within_the_timeout() {
    let server = endpoint_answering(ResponseTemplate::new(502)).await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.code, 5);
    out.stderr_has("after 4 attempts");
    assert_eq!(request_count(&server).await, 4);

    // A long Retry-After is not waited for past the profile's timeout.
    let server =
        endpoint_answering(ResponseTemplate::new(503).insert_header("retry-after", "60")).await;
    env.write_config(&format!(
        "default_profile = \"p\"\n[profiles.p]\ncms_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
         timeout = \"3s\"\n",
        server.uri()
    ));
    let started = Instant::now();
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.code, 5);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn a_slow_endpoint_hits_the_profiles_timeout() {
    let slow =
        endpoint_answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(30))).await;
    let env = TestEnv::new();
    env.write_config(&format!(
        "default_profile = \"p\"\n[profiles.p]\ncms_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
         timeout = \"1s\"\n",
        slow.uri()
    ));
    let started = Instant::now();
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    out.stderr_has("cannot reach the token endpoint");
}

#[tokio::test]
async fn unusable_token_answers_are_errors_and_never_cached() {
    let bodies = [
        serde_json::json!("not an object"),
        serde_json::json!({"access_token": "t"}),
        serde_json::json!({"access_token": "t", "expires_in": 0}),
        serde_json::json!({"access_token": "t", "expires_in": -5}),
        serde_json::json!({"access_token": "t", "expires_in": 1e12}),
        serde_json::json!({"access_token": 42, "expires_in": 300}),
    ];
    for body in bodies {
        let server = endpoint_answering(ResponseTemplate::new(200).set_body_json(&body)).await;
        let env = TestEnv::new();
        env.profile("prod", &server.uri());
        let out = run(env.cmd_with_secret().arg("token"));
        assert_eq!(out.code, 5, "{body}: {}", out.stderr);
        assert!(env.cache_entries().is_empty(), "{body} was cached");
    }

    let server = endpoint_answering(
        ResponseTemplate::new(200).set_body_raw("<html>oops</html>", "text/html"),
    )
    .await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.code, 5);
    out.stderr_has("not a JSON token response");
}

#[tokio::test]
async fn a_large_clock_offset_shortens_the_cached_life_with_a_warning() {
    // The endpoint's clock is two minutes ahead of ours.
    let server_time = Utc::now() + TimeDelta::seconds(120);
    let server = endpoint_answering(
        ResponseTemplate::new(200)
            .insert_header("date", server_time.to_rfc2822().replace("+0000", "GMT"))
            .set_body_json(serde_json::json!({"access_token": "t", "expires_in": 300})),
    )
    .await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());
    let out = run(env.cmd_with_secret().args(["token", "--json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stderr_has("the local clock is behind the token endpoint's by 1");

    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let expires_in = json["expires_in"].as_i64().unwrap();
    assert!((170..=182).contains(&expires_in), "{expires_in}");
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.cache_entry()).unwrap()).unwrap();
    let fetched = DateTime::parse_from_rfc3339(entry["fetched_at"].as_str().unwrap()).unwrap();
    let expires = DateTime::parse_from_rfc3339(entry["expires_at"].as_str().unwrap()).unwrap();
    assert!((178..=182).contains(&(expires - fetched).num_seconds()));
}

#[tokio::test]
async fn a_small_clock_offset_changes_nothing() {
    let server = endpoint_answering(
        ResponseTemplate::new(200)
            .insert_header("date", (Utc::now() + TimeDelta::seconds(5)).to_rfc2822())
            .set_body_json(serde_json::json!({"access_token": "t", "expires_in": 300})),
    )
    .await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());
    let out = run(env.cmd_with_secret().args(["token", "--json"]));
    assert_eq!(out.stderr, "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(json["expires_in"].as_i64().unwrap() >= 295);
}

#[tokio::test]
async fn http_proxy_and_no_proxy_are_honoured() {
    // The profile points at a port nobody listens on; only the proxy can
    // answer, and it receives the request for the profile's URL.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let env = TestEnv::new();
    env.profile("prod", &format!("http://127.0.0.1:{dead_port}"));

    let out = run(env
        .cmd_with_secret()
        .arg("token")
        .env("HTTP_PROXY", proxy.uri()));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "token-1\n"),
        "{}",
        out.stderr
    );
    assert_eq!(request_count(&proxy).await, 1);

    std::fs::remove_dir_all(&env.cache).unwrap();
    let out = run(env
        .cmd_with_secret()
        .arg("token")
        .env("HTTP_PROXY", proxy.uri())
        .env("NO_PROXY", "127.0.0.1"));
    assert_eq!(out.code, 5, "NO_PROXY was ignored: {}", out.stderr);
    assert_eq!(request_count(&proxy).await, 1);
}
