//! A local stand-in for the Optimizely CMS token endpoint, for the demo and
//! the benchmarks: no machine here can reach a real CMS.
//!
//! ```text
//! STAND_IN_CLIENT_SECRET=... cargo run --example token_endpoint -- \
//!     [--port N] [--client-id ID] [--expires-in SECONDS]
//! ```
//!
//! It answers `POST /_cms/preview2/oauth/token`, `/_cms/v1/oauth/token` and
//! `/oauth/token` like the CMS does: a client-credentials JSON body with the
//! expected client id and secret gets a fresh random token, anything else an
//! OAuth `invalid_client` error. `GET /stats` returns how many token requests
//! it has answered. The expected secret comes from the environment, never
//! from the command line. The first line on stdout is the base URL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

struct Settings {
    client_id: String,
    client_secret: String,
    expires_in: u64,
}

struct TokenResponder {
    settings: Settings,
    issued: Arc<AtomicU64>,
}

impl Respond for TokenResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let field = |name: &str| body.get(name).and_then(|v| v.as_str()).unwrap_or_default();

        if field("grant_type") != "client_credentials" {
            return ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": "unsupported_grant_type",
                "error_description": "grant_type must be client_credentials",
            }));
        }
        if field("client_id") != self.settings.client_id
            || field("client_secret") != self.settings.client_secret
        {
            return ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": "invalid_client",
                "error_description": "Client authentication failed.",
            }));
        }

        let mut hasher = Sha256::new();
        hasher.update(n.to_le_bytes());
        hasher.update(std::process::id().to_le_bytes());
        hasher.update(format!("{:?}", std::time::SystemTime::now()).as_bytes());
        let random: String = hasher.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": format!("stand-in.{n}.{random}"),
            "expires_in": self.settings.expires_in,
            "token_type": "Bearer",
        }))
    }
}

fn parse_args() -> Result<(u16, Settings), String> {
    let mut port = 0;
    let mut client_id = "opti-cred-demo".to_string();
    let mut expires_in = 300;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("`{arg}` needs a value"));
        match arg.as_str() {
            "--port" => port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--client-id" => client_id = value()?,
            "--expires-in" => {
                expires_in = value()?.parse().map_err(|e| format!("--expires-in: {e}"))?
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let client_secret = std::env::var("STAND_IN_CLIENT_SECRET")
        .map_err(|_| "set STAND_IN_CLIENT_SECRET to the secret the endpoint accepts")?;
    Ok((
        port,
        Settings {
            client_id,
            client_secret,
            expires_in,
        },
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (port, settings) = parse_args().unwrap_or_else(|e| {
        eprintln!("token_endpoint: {e}");
        std::process::exit(2);
    });
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("token_endpoint: cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(1);
    });
    let server = MockServer::builder().listener(listener).start().await;
    let issued = Arc::new(AtomicU64::new(0));

    Mock::given(method("POST"))
        .and(path_regex(r"^(/_cms/preview2|/_cms/v1)?/oauth/token$"))
        .respond_with(TokenResponder {
            settings,
            issued: Arc::clone(&issued),
        })
        .mount(&server)
        .await;
    let counter = Arc::clone(&issued);
    Mock::given(method("GET"))
        .and(path("/stats"))
        .respond_with(move |_: &Request| {
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "token_requests": counter.load(Ordering::SeqCst),
            }))
        })
        .mount(&server)
        .await;

    println!("{}", server.uri());
    // Runs until killed.
    std::future::pending::<()>().await;
}
