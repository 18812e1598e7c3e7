//! `opti-cred token` against a real HTTP server on 127.0.0.1.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use wiremock::ResponseTemplate;

#[tokio::test]
async fn the_first_call_fetches_and_the_second_is_served_from_the_cache() {
    let (server, env) = prod_profile().await;

    let first = run(env.cmd_with_secret().args(["token", "prod"]));
    assert_eq!(
        (first.code, first.stdout.as_str(), first.stderr.as_str()),
        (0, "token-1\n", "")
    );
    assert_eq!(request_count(&server).await, 1);

    let second = run(env.cmd_with_secret().args(["token", "prod"]));
    assert_eq!((second.code, second.stdout.as_str()), (0, "token-1\n"));
    assert_eq!(
        request_count(&server).await,
        1,
        "the second call went to the server"
    );
}

#[tokio::test]
async fn a_cache_hit_needs_no_secret_no_server_and_no_http_client() {
    let (server, env) = prod_profile().await;
    run(env.cmd_with_secret().arg("token"));
    drop(server);

    // No secret in the environment and the server gone: only the cache can
    // answer. -vv shows that no HTTP machinery was set up.
    let hit = run(env.cmd().args(["-vv", "token"]));
    assert_eq!(hit.code, 0, "{}", hit.stderr);
    assert_eq!(hit.stdout, "token-1\n");
    assert!(
        hit.stderr.contains("served from the token cache"),
        "{}",
        hit.stderr
    );
    assert!(
        !hit.stderr.contains("building the async runtime"),
        "{}",
        hit.stderr
    );
    assert!(
        !hit.stderr.contains("token-1"),
        "the token was logged: {}",
        hit.stderr
    );
}

#[tokio::test]
async fn a_nearly_expired_or_expired_token_is_fetched_again() {
    let (server, env) = prod_profile().await;
    run(env.cmd_with_secret().arg("token"));

    // 30 s left is below the default minimum of 60 s.
    let soon = (Utc::now() + TimeDelta::seconds(30)).to_rfc3339();
    edit_json(&env.cache_entry(), |e| e["expires_at"] = soon.into());
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.stdout, "token-2\n");
    assert_eq!(request_count(&server).await, 2);

    let past = (Utc::now() - TimeDelta::seconds(10)).to_rfc3339();
    edit_json(&env.cache_entry(), |e| e["expires_at"] = past.into());
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.stdout, "token-3\n");
    assert_eq!(request_count(&server).await, 3);

    // The fresh token replaced the stale entry and is served again.
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.stdout, "token-3\n");
    assert_eq!(request_count(&server).await, 3);
}

#[tokio::test]
async fn min_valid_sets_how_much_life_a_cached_token_must_have() {
    let (server, env) = prod_profile().await;
    run(env.cmd_with_secret().arg("token"));

    let out = run(env.cmd_with_secret().args(["token", "--min-valid", "4m"]));
    assert_eq!((out.code, out.stdout.as_str()), (0, "token-1\n"));
    assert_eq!(request_count(&server).await, 1);

    // About 300 s are left, fewer than 310 s: fetch.
    let out = run(env.cmd_with_secret().args(["token", "--min-valid", "310s"]));
    assert_eq!((out.code, out.stdout.as_str()), (0, "token-2\n"));
    assert_eq!(request_count(&server).await, 2);
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("valid for 300s"),
        "{}",
        out.stderr
    );

    let bad = run(env.cmd_with_secret().args(["token", "--min-valid", "soon"]));
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--min-valid"), "{}", bad.stderr);
}

#[tokio::test]
async fn json_output_has_the_documented_fields() {
    let (server, env) = prod_profile().await;

    for _ in 0..2 {
        let out = run(env.cmd_with_secret().args(["token", "--json"]));
        assert_eq!(out.code, 0);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let obj = json.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            ["access_token", "expires_at", "expires_in", "token_type"]
        );
        assert_eq!(json["access_token"], "token-1");
        assert_eq!(json["token_type"], "Bearer");
        let expires_in = json["expires_in"].as_i64().unwrap();
        assert!((290..=300).contains(&expires_in), "{expires_in}");
        let at = DateTime::parse_from_rfc3339(json["expires_at"].as_str().unwrap()).unwrap();
        let left = (at.with_timezone(&Utc) - Utc::now()).num_seconds();
        assert!(
            (expires_in - 2..=expires_in + 1).contains(&left),
            "{left} vs {expires_in}"
        );
    }
    assert_eq!(request_count(&server).await, 1);
}

/// Runs `opti-cred -vvv token` against an endpoint that always answers
/// `response`, and checks that nothing was cached.
async fn token_call_answered_with(response: ResponseTemplate) -> Outcome {
    let server = endpoint_answering(response).await;
    let env = TestEnv::new();
    env.profile("prod", &server.uri());
    let out = run(env.cmd_with_secret().args(["-vvv", "token"]));
    assert!(
        env.cache_entries().is_empty(),
        "a failed fetch left a cache entry"
    );
    out
}

fn problem(status: u16, title: &str, detail: &str) -> ResponseTemplate {
    let body = serde_json::json!({"type": "about:blank", "title": title, "status": status, "detail": detail});
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/problem+json")
}

#[tokio::test]
async fn oauth_errors_are_rejections() {
    let out =
        token_call_answered_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_client",
            "error_description": "Client authentication failed.",
        })))
        .await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    out.stderr_has("invalid_client: Client authentication failed.");
    out.stderr_has("profile `prod`");
}

#[tokio::test]
async fn code_errors_are_rejections() {
    let out =
        token_call_answered_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "code": "UNAUTHORIZED",
            "message": "The client credentials are invalid",
        })))
        .await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    out.stderr_has("UNAUTHORIZED: The client credentials are invalid");
}

#[tokio::test]
async fn problem_details_from_a_server_error_are_a_server_failure() {
    let out =
        token_call_answered_with(problem(500, "Internal error", "Token service unavailable")).await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    out.stderr_has("Internal error: Token service unavailable");
}

#[tokio::test]
async fn problem_details_from_a_403_are_a_rejection() {
    let out =
        token_call_answered_with(problem(403, "Forbidden", "The API client is disabled")).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    out.stderr_has("Forbidden: The API client is disabled");
}

#[tokio::test]
async fn a_success_without_a_usable_token_is_an_error_and_not_cached() {
    let out = token_call_answered_with(
        ResponseTemplate::new(200).set_body_json(serde_json::json!({"token_type": "Bearer"})),
    )
    .await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    out.stderr_has("no `access_token`");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_network_failure() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = TestEnv::new();
    env.profile("prod", &format!("http://127.0.0.1:{port}"));
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.code, 5, "{}", out.stderr);
    out.stderr_has("cannot reach the token endpoint");
}

#[tokio::test]
async fn an_unknown_profile_lists_the_known_ones() {
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let env = TestEnv::new();
    env.write_config(&format!(
        "[profiles.prod]\ncms_url = \"{0}\"\nclient_id = \"a\"\n\
         [profiles.test]\ncms_url = \"{0}\"\nclient_id = \"b\"\n",
        server.uri()
    ));
    let out = run(env.cmd_with_secret().args(["token", "stage"]));
    assert_eq!(out.code, 2);
    out.stderr_has("unknown profile `stage`");
    out.stderr_has("known profiles: `prod`, `test`");

    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.code, 2);
    out.stderr_has("no default profile");
    assert_eq!(request_count(&server).await, 0);
}

#[tokio::test]
async fn the_profile_comes_from_the_argument_then_the_environment_then_the_default() {
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let other = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let env = TestEnv::new();
    env.write_config(&format!(
        "default_profile = \"a\"\n[profiles.a]\ncms_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
         [profiles.b]\ncms_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n",
        server.uri(),
        other.uri()
    ));

    run(env.cmd_with_secret().arg("token"));
    assert_eq!(
        (request_count(&server).await, request_count(&other).await),
        (1, 0)
    );
    run(env
        .cmd_with_secret()
        .arg("token")
        .env("OPTI_CRED_PROFILE", "b"));
    assert_eq!(
        (request_count(&server).await, request_count(&other).await),
        (1, 1)
    );
    let out = run(env
        .cmd_with_secret()
        .args(["token", "a"])
        .env("OPTI_CRED_PROFILE", "nope"));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn malformed_toml_names_the_file_line_and_column() {
    let env = TestEnv::new();
    env.write_config("[profiles.prod]\ncms_url = \"https://a.example\"\nclient_id = = \"x\"\n");
    let out = run(env.cmd_with_secret().args(["token", "prod"]));
    assert_eq!(out.code, 2);
    out.stderr_has(&env.config.display().to_string());
    out.stderr_has("line 3, column 13");
}

#[test]
fn unknown_keys_in_the_config_are_reported() {
    let env = TestEnv::new();
    env.write_config("[profiles.prod]\ncms_url = \"https://a.example\"\nclient_id = \"x\"\ntokn_url = \"https://b\"\n");
    let out = run(env.cmd_with_secret().args(["token", "prod"]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("tokn_url") && out.stderr.contains("line 4"),
        "{}",
        out.stderr
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_any_request() {
    let env = TestEnv::new();
    env.profile("prod", "http://cms.example.com");
    let out = run(env.cmd_with_secret().args(["-vv", "token"]));
    assert_eq!(out.code, 2);
    out.stderr_has("plain http");
    assert!(!out.stderr.contains("requesting a token"), "{}", out.stderr);
}

#[tokio::test]
async fn without_a_secret_the_error_names_the_places_tried() {
    let (server, env) = prod_profile().await;
    let out = run(env.cmd().arg("token").env("OPTI_CRED_CLIENT_SECRET", ""));
    assert_eq!(out.code, 3);
    out.stderr_has("`OPTI_CRED_CLIENT_SECRET`");
    out.stderr_has("`OPTIMIZELY_CMS_CLIENT_SECRET`");
    assert_eq!(request_count(&server).await, 0);

    // The Optimizely tooling's variable works too.
    let out = run(env
        .cmd()
        .arg("token")
        .env("OPTIMIZELY_CMS_CLIENT_SECRET", SECRET));
    assert_eq!((out.code, out.stdout.as_str()), (0, "token-1\n"));
}

#[cfg(unix)]
#[tokio::test]
async fn the_cache_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let (server, env) = prod_profile().await;
    run(env.cmd_with_secret().arg("token"));

    let entry = env.cache_entry();
    assert_eq!(mode(&entry), 0o600);
    assert_eq!(mode(entry.parent().unwrap()), 0o700);
    assert_eq!(mode(&env.cache), 0o700);

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&entry).unwrap()).unwrap();
    assert_eq!(json["client_id"], CLIENT_ID);
    assert_eq!(
        json["token_url"],
        format!("{}{INSTANCE_TOKEN_PATH}", server.uri())
    );
    let fetched = DateTime::parse_from_rfc3339(json["fetched_at"].as_str().unwrap()).unwrap();
    let expires = DateTime::parse_from_rfc3339(json["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - fetched).num_seconds(), 300);
}

#[tokio::test]
async fn a_cache_entry_of_another_client_id_is_not_used() {
    let server = endpoint_answering(
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"access_token": "fresh", "expires_in": 300})),
    )
    .await;
    let env = TestEnv::new();
    let config = |client: &str| {
        format!(
            "default_profile = \"p\"\n[profiles.p]\ncms_url = \"{}\"\nclient_id = \"{client}\"\n",
            server.uri()
        )
    };

    env.write_config(&config("client-a"));
    run(env.cmd_with_secret().arg("token"));
    let entry_a = env.cache_entry();
    edit_json(&entry_a, |e| e["access_token"] = "belongs-to-a".into());

    env.write_config(&config("client-b"));
    run(env.cmd_with_secret().arg("token"));
    let entry_b = env
        .cache_entries()
        .into_iter()
        .find(|p| *p != entry_a)
        .unwrap();

    // Put a's entry where b's belongs: it must not be served for b.
    std::fs::copy(&entry_a, &entry_b).unwrap();
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.stdout, "fresh\n");
    assert_eq!(request_count(&server).await, 3);
}

#[tokio::test]
async fn a_broken_cache_entry_is_a_miss_and_is_replaced() {
    let (server, env) = prod_profile().await;
    run(env.cmd_with_secret().arg("token"));

    std::fs::write(env.cache_entry(), "{\"version\":1,\"access_tok").unwrap();
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!((out.code, out.stdout.as_str()), (0, "token-2\n"));
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.stdout, "token-2\n");
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn token_url_and_act_as_are_used() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/_cms/v1/oauth/token"))
        .and(wiremock::matchers::body_json(serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "act_as": "editor@example.com",
        })))
        .respond_with(Tokens::lasting(300))
        .expect(1)
        .mount(&server)
        .await;
    let env = TestEnv::new();
    env.write_config(&format!(
        "[profiles.v1]\ncms_url = \"https://app-x.cms.optimizely.com\"\nclient_id = \"{CLIENT_ID}\"\n\
         token_url = \"{}/_cms/v1/oauth/token\"\nact_as = \"editor@example.com\"\n",
        server.uri()
    ));
    let out = run(env.cmd_with_secret().args(["token", "v1"]));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "token-1\n"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn an_unwritable_cache_still_gives_a_token_with_a_warning() {
    let (_server, env) = prod_profile().await;
    // A file where the cache directory should be: nothing can be created in it.
    std::fs::write(&env.cache, "not a directory").unwrap();

    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!((out.code, out.stdout.as_str()), (0, "token-1\n"));
    assert!(
        out.stderr
            .starts_with("opti-cred: warning: could not cache the token"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}
