//! Secrets stay secret: every command, at the highest verbosity, against
//! every way the token endpoint can fail, never shows the client secret or
//! an issued token on stderr, and prints nothing on stdout when it fails.

mod common;

use common::*;
use wiremock::{MockServer, ResponseTemplate};

/// The token every endpoint below issues when it issues one.
const ISSUED: &str = "issued-token-5e1f0c9d";

/// Endpoints that answer in every way this project knows of.
async fn endpoints() -> Vec<(&'static str, String, Option<MockServer>)> {
    let token = serde_json::json!({"access_token": ISSUED, "expires_in": 300});
    let answers: Vec<(&'static str, ResponseTemplate)> = vec![
        ("success", ResponseTemplate::new(200).set_body_json(&token)),
        (
            "oauth error",
            ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": "invalid_client",
                "error_description": format!("client secret {SECRET} is wrong"),
            })),
        ),
        (
            "code error",
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"code": "UNAUTHORIZED", "message": SECRET})),
        ),
        (
            "problem details",
            ResponseTemplate::new(500).set_body_raw(
                serde_json::json!({"title": "boom", "detail": format!("echo {SECRET}")})
                    .to_string(),
                "application/problem+json",
            ),
        ),
        (
            "plain text error",
            ResponseTemplate::new(502).set_body_string(format!("bad {SECRET}")),
        ),
        (
            "rate limited",
            ResponseTemplate::new(429).insert_header("retry-after", "0"),
        ),
        (
            "token without expiry",
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": ISSUED})),
        ),
        (
            "absurd expiry",
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"access_token": ISSUED, "expires_in": -1})),
        ),
        (
            "not json",
            ResponseTemplate::new(200).set_body_string(format!("{ISSUED} {SECRET}")),
        ),
        (
            "clock far off",
            ResponseTemplate::new(200)
                .insert_header("date", "Mon, 01 Jan 2001 00:00:00 GMT")
                .set_body_json(&token),
        ),
    ];

    let mut out = Vec::new();
    for (name, answer) in answers {
        let server = endpoint_answering(answer).await;
        out.push((name, server.uri(), Some(server)));
    }
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    out.push(("unreachable", format!("http://127.0.0.1:{dead}"), None));
    out
}

#[tokio::test]
async fn no_command_shows_a_secret_or_a_token_on_stderr() {
    for (name, url, _server) in endpoints().await {
        let env = TestEnv::new();
        // A short overall timeout: the retries of the failing endpoints are
        // cut short, and this test is about what is printed, not retried.
        env.write_config(&format!(
            "default_profile = \"prod\"\n[profiles.prod]\ncms_url = \"{url}\"\n\
             client_id = \"{CLIENT_ID}\"\ntimeout = \"1s\"\n"
        ));

        let secret_line = format!("{SECRET}\n");
        let git_request = {
            let url = url::Url::parse(&url).unwrap();
            format!(
                "protocol={}\nhost={}:{}\n\n",
                url.scheme(),
                url.host_str().unwrap(),
                url.port().unwrap()
            )
        };
        let commands: Vec<(Vec<&str>, &str)> = vec![
            (vec!["-vvv", "token"], ""),
            (vec!["-vvv", "token", "--json"], ""),
            (vec!["-vvv", "token", "--min-valid", "10m"], ""),
            (vec!["-vvv", "token", "--format", "env"], ""),
            (vec!["-vvv", "profile", "show"], ""),
            (vec!["-vvv", "profile", "list"], ""),
            (vec!["-vvv", "login", "--client-secret-stdin"], &secret_line),
            (
                vec!["-vvv", "login", "--client-secret-stdin", "--no-verify"],
                &secret_line,
            ),
            (vec!["-vvv", "logout"], ""),
            (vec!["-vvv", "git-credential", "get"], &git_request),
            (vec!["-vvv", "git-credential", "erase"], &git_request),
            (vec!["-vvv", "exec", "prod", "--", "true"], ""),
            (vec!["-vvv", "api", "prod", "contenttypes", "-i"], ""),
            (vec!["-vvv", "status", "--json"], ""),
            (vec!["-vvv", "doctor"], ""),
        ];
        for (args, stdin) in commands {
            // `run` fails the test if the secret shows anywhere, or if a
            // failing command printed on stdout.
            let mut cmd = env.cmd_with_secret();
            cmd.env("RUST_LOG", "trace").args(&args).write_stdin(stdin);
            let out = if args.contains(&"doctor") {
                run_report(&mut cmd)
            } else {
                run(&mut cmd)
            };
            assert!(
                !out.stderr.contains(ISSUED),
                "{name}: `{}` logged the token:\n{}",
                args.join(" "),
                out.stderr
            );
            if out.code != 0 {
                assert!(
                    out.stderr.contains("opti-cred: error: "),
                    "{name}: `{}` failed without a message:\n{}",
                    args.join(" "),
                    out.stderr
                );
            }
        }
    }
}

#[test]
fn debug_output_of_secret_holding_types_is_redacted() {
    use secrecy::SecretString;
    let secret = SecretString::from(SECRET);
    assert!(!format!("{secret:?}").contains(SECRET));

    let token = opti_cred::cache::CachedToken {
        access_token: SecretString::from(ISSUED),
        token_type: "Bearer".into(),
        fetched_at: chrono::Utc::now(),
        expires_at: chrono::Utc::now(),
        secret_fingerprint: None,
    };
    let debug = format!("{token:?}");
    assert!(!debug.contains(ISSUED), "{debug}");
}
