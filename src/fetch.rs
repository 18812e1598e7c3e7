//! Asking the token endpoint for an access token.
//!
//! This is the slow path: it builds an async runtime and an HTTP client
//! (several milliseconds, mostly loading the system's CA certificates), so
//! it runs only when the cache has no usable token.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::cache::CachedToken;
use crate::error::{Error, Result};

/// How many times one fetch asks the endpoint at most.
pub const MAX_ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// The longest `Retry-After` honoured; a longer one is cut to this.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(10);
/// Clock differences up to this many seconds are normal and ignored.
pub const CLOCK_OFFSET_LIMIT: i64 = 30;

/// A profile's network settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSettings {
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long one fetch may take in all, retries included.
    pub timeout: Duration,
    /// An extra CA certificate (PEM) to trust, for instances behind a TLS
    /// inspecting proxy.
    pub ca_cert: Option<std::path::PathBuf>,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            ca_cert: None,
        }
    }
}

/// The longest lifetime accepted from an endpoint. Optimizely issues tokens
/// for 300 seconds; a far larger figure is a broken answer, and caching it
/// would serve a dead token for that long.
const MAX_EXPIRES_IN: i64 = 24 * 60 * 60;

/// How much of an error body is quoted in a message.
const MAX_QUOTED_BODY: usize = 300;

/// What to ask for.
pub struct TokenRequest<'a> {
    pub token_url: &'a Url,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    pub act_as: Option<&'a str>,
    /// Used in messages only.
    pub profile: &'a str,
    pub network: &'a NetworkSettings,
}

impl<'a> TokenRequest<'a> {
    /// The request for `profile`'s token with `secret`.
    pub fn for_profile(profile: &'a crate::config::Profile, secret: &'a SecretString) -> Self {
        TokenRequest {
            token_url: &profile.token_url,
            client_id: &profile.client_id,
            client_secret: secret,
            act_as: profile.act_as.as_deref(),
            profile: &profile.name,
            network: &profile.network,
        }
    }
}

#[derive(Serialize)]
struct RequestBody<'a> {
    grant_type: &'static str,
    client_id: &'a str,
    client_secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    act_as: Option<&'a str>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
}

/// Fetches a token. Its expiry counts from the moment the request was sent,
/// so time spent on the network shortens the token's life rather than
/// lengthening it.
///
/// Connection failures, time-outs, 5xx and 429 answers are retried with
/// exponential backoff (honouring `Retry-After` up to [`RETRY_AFTER_CAP`]),
/// at most [`MAX_ATTEMPTS`] times and never past the profile's overall
/// `timeout`. A rejection of the credentials is never retried.
pub fn fetch(req: &TokenRequest<'_>) -> Result<CachedToken> {
    fetch_with_report(req).map(|(token, _)| token)
}

/// What a fetch saw besides the token.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchReport {
    /// How far the endpoint's clock (its `Date` header) was from ours, in
    /// seconds, positive when ours is behind; `None` without a `Date`.
    pub clock_offset: Option<i64>,
}

/// [`fetch`], also returning what `doctor` reports on.
pub fn fetch_with_report(req: &TokenRequest<'_>) -> Result<(CachedToken, FetchReport)> {
    log::debug!("building the async runtime and HTTP client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Network {
            url: req.token_url.to_string(),
            detail: format!("cannot start the async runtime: {e}"),
        })?;
    runtime.block_on(fetch_async(req))
}

/// The answer to one attempt, or why there was none.
enum Attempt {
    Answer {
        status: u16,
        body: bytes::Bytes,
        retry_after: Option<Duration>,
        /// The clock offset the `Date` header showed, in seconds: positive
        /// when the endpoint's clock is ahead of ours.
        clock_offset: Option<i64>,
        sent_at: DateTime<Utc>,
    },
    Failed(String),
}

async fn fetch_async(req: &TokenRequest<'_>) -> Result<(CachedToken, FetchReport)> {
    let url = req.token_url.to_string();
    let client = build_client(req.network).map_err(|detail| Error::Network {
        url: url.clone(),
        detail,
    })?;
    let body = bytes::Bytes::from(
        serde_json::to_vec(&RequestBody {
            grant_type: "client_credentials",
            client_id: req.client_id,
            client_secret: req.client_secret.expose_secret(),
            act_as: req.act_as,
        })
        .expect("a request of strings serializes"),
    );

    let _spinner = crate::progress::Spinner::after(
        Duration::from_millis(300),
        &format!("requesting a token for profile `{}`", req.profile),
    );
    let deadline = Instant::now() + req.network.timeout;
    let mut attempt = 1;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        log::info!(
            "requesting a token from `{url}` for client id `{}` (attempt {attempt})",
            req.client_id
        );
        let outcome = attempt_once(&client, req, body.clone(), remaining).await;

        let retry_in = match &outcome {
            Attempt::Answer {
                status,
                retry_after,
                ..
            } if *status == 429 || *status >= 500 => {
                Some(retry_after.map_or_else(|| backoff(attempt), |d| d.min(RETRY_AFTER_CAP)))
            }
            // A certificate that is not trusted now will not be in a moment.
            Attempt::Failed(detail) if is_certificate_error(detail) => None,
            Attempt::Failed(_) => Some(backoff(attempt)),
            Attempt::Answer { .. } => None,
        };
        match retry_in {
            Some(delay) if attempt < MAX_ATTEMPTS && Instant::now() + delay < deadline => {
                log::info!(
                    "attempt {attempt} failed ({}); retrying in {}",
                    outcome.summary(),
                    humantime::format_duration(delay)
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            _ => return finish(req, &url, outcome, attempt),
        }
    }
}

/// An HTTP client with a profile's network settings: timeouts, proxies from
/// the environment, the system's CA certificates plus the profile's
/// `ca_cert`.
pub fn build_client(network: &NetworkSettings) -> Result<reqwest::Client, String> {
    // rustls needs a crypto provider chosen once per process; ring builds
    // faster and smaller than the default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(network.connect_timeout)
        .user_agent(concat!("opti-cred/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &network.ca_cert {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read `ca_cert` `{}`: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            format!(
                "`ca_cert` `{}` holds no usable PEM certificate: {e}",
                path.display()
            )
        })?;
        if certs.is_empty() {
            return Err(format!(
                "`ca_cert` `{}` holds no certificate",
                path.display()
            ));
        }
        log::debug!(
            "trusting {} extra CA certificate(s) from `{}`",
            certs.len(),
            path.display()
        );
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))
}

async fn attempt_once(
    client: &reqwest::Client,
    req: &TokenRequest<'_>,
    body: bytes::Bytes,
    remaining: Duration,
) -> Attempt {
    let sent_at = whole_seconds(Utc::now());
    let started = Instant::now();
    let response = client
        .post(req.token_url.clone())
        .timeout(remaining)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(e) => return Attempt::Failed(error_chain(&e)),
    };

    let status = response.status().as_u16();
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry_after = header(reqwest::header::RETRY_AFTER).and_then(|v| parse_retry_after(&v));
    let date = header(reqwest::header::DATE);
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(e) => return Attempt::Failed(format!("reading the answer: {}", error_chain(&e))),
    };
    log::debug!("token endpoint answered {status} ({} bytes)", body.len());

    // The request reached the endpoint half-way through, on average.
    let midpoint = Utc::now() - TimeDelta::from_std(started.elapsed() / 2).unwrap_or_default();
    let clock_offset = date
        .and_then(|d| DateTime::parse_from_rfc2822(&d).ok())
        .map(|server| (server.with_timezone(&Utc) - midpoint).num_seconds());
    Attempt::Answer {
        status,
        body,
        retry_after,
        clock_offset,
        sent_at,
    }
}

impl Attempt {
    fn summary(&self) -> String {
        match self {
            Attempt::Answer { status, .. } => format!("HTTP {status}{}", http_reason(*status)),
            Attempt::Failed(detail) => detail.clone(),
        }
    }
}

/// Turns the last attempt into a token or an error.
fn finish(
    req: &TokenRequest<'_>,
    url: &str,
    outcome: Attempt,
    attempts: u32,
) -> Result<(CachedToken, FetchReport)> {
    let tries = if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    };
    let (status, body, clock_offset, sent_at) = match outcome {
        Attempt::Failed(detail) => {
            let hint = if is_certificate_error(&detail) {
                "; if the CMS is reached through a TLS-inspecting proxy, set the profile's \
                 `ca_cert` to that proxy's CA certificate"
            } else {
                ""
            };
            return Err(Error::Network {
                url: url.to_string(),
                detail: format!("{detail}{tries}{hint}"),
            });
        }
        Attempt::Answer {
            status,
            body,
            clock_offset,
            sent_at,
            ..
        } => (status, body, clock_offset, sent_at),
    };

    if (200..300).contains(&status) {
        let mut token = parse_success(&body, sent_at).map_err(|detail| Error::Endpoint {
            url: url.to_string(),
            detail,
        })?;
        if let Some(offset) = clock_offset {
            allow_for_clock_offset(&mut token, offset);
        }
        return Ok((token, FetchReport { clock_offset }));
    }

    let detail = format!(
        "{}{tries}",
        describe_failure(status, &body, req.client_secret)
    );
    if is_rejection(status, &body) {
        Err(Error::Rejected {
            url: url.to_string(),
            profile: req.profile.to_string(),
            client_id: req.client_id.to_string(),
            detail,
        })
    } else {
        Err(Error::Endpoint {
            url: url.to_string(),
            detail,
        })
    }
}

/// When the endpoint's clock and ours disagree by more than
/// [`CLOCK_OFFSET_LIMIT`] seconds, shortens the cached life of the token by
/// the difference and warns.
///
/// The expiry is counted on our clock from the moment we sent the request,
/// which is right as long as our clock keeps running as it did. A clock that
/// is that far off is likely to be corrected (NTP waking up, a VM or WSL
/// resyncing after sleep), and a correction would move every cached expiry
/// by the same amount; shortening by the offset keeps a token from being
/// served after its real end whichever way the correction goes.
fn allow_for_clock_offset(token: &mut CachedToken, offset: i64) {
    if offset.abs() <= CLOCK_OFFSET_LIMIT {
        return;
    }
    let life = (token.expires_at - token.fetched_at).num_seconds();
    let shortened = (life - offset.abs()).max(0);
    token.expires_at = token.fetched_at + TimeDelta::seconds(shortened);
    log::warn!(
        "the local clock is {} the token endpoint's by {}s; the token is cached for {shortened}s \
         instead of {life}s in case the clock is corrected meanwhile. Set the clock right \
         (enable NTP; on WSL, `wsl --shutdown` resyncs it)",
        if offset > 0 { "behind" } else { "ahead of" },
        offset.abs()
    );
}

/// Whether a transport failure was the server's certificate being refused.
/// rustls says so in its message; reqwest has no finer error kind for it.
fn is_certificate_error(detail: &str) -> bool {
    detail.contains("certificate")
}

/// The wait before attempt `attempt + 1`: 250 ms doubling up to 4 s, plus up
/// to half as much again at random, so that processes retrying together
/// spread out.
fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1 << (attempt - 1).min(8))
        .min(MAX_BACKOFF);
    let jitter = f64::from(getrandom::u32().unwrap_or(0)) / f64::from(u32::MAX) / 2.0;
    base.mul_f64(1.0 + jitter)
}

/// `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

/// Parses a 2xx answer into a token that expires `expires_in` seconds after
/// `sent_at`.
fn parse_success(body: &[u8], sent_at: DateTime<Utc>) -> Result<CachedToken, String> {
    let parsed: TokenResponse = serde_json::from_slice(body)
        .map_err(|_| "the answer is not a JSON token response".to_string())?;
    let access_token = parsed
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or("the answer has no `access_token`")?;
    let expires_in = parsed
        .expires_in
        .as_ref()
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .ok_or("the answer has no numeric `expires_in`")?;
    if !(1..=MAX_EXPIRES_IN).contains(&expires_in) {
        return Err(format!(
            "the answer has an unusable `expires_in` of {expires_in} seconds \
             (accepted: 1 to {MAX_EXPIRES_IN})"
        ));
    }
    Ok(CachedToken {
        access_token: SecretString::from(access_token),
        token_type: parsed.token_type.unwrap_or_else(|| "Bearer".to_string()),
        fetched_at: sent_at,
        expires_at: sent_at + TimeDelta::seconds(expires_in),
        secret_fingerprint: None,
    })
}

/// True when the endpoint said the credentials are wrong, as opposed to the
/// request, the URL or the server.
fn is_rejection(status: u16, body: &[u8]) -> bool {
    match status {
        401 | 403 => true,
        400 => {
            // OAuth errors that mean our request was malformed rather than
            // the credentials wrong.
            let code = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(str::to_string));
            !matches!(
                code.as_deref(),
                Some("invalid_request" | "unsupported_grant_type" | "invalid_scope")
            )
        }
        _ => false,
    }
}

/// A token endpoint's error answer on one line ([`describe_answer`]), with
/// a hint of what to do about it.
pub fn describe_failure(status: u16, body: &[u8], secret: &SecretString) -> String {
    let hint = match status {
        404 | 405 => "; check the profile's `cms_url`, or set `token_url`",
        429 => "; the endpoint is rate-limiting requests, try again shortly",
        500..=599 => "; the CMS had a problem, try again later",
        _ => "",
    };
    format!("{}{hint}", describe_answer(status, body, secret))
}

/// An HTTP error answer on one line: the status, and what the body says.
/// Understands OAuth errors, `{"code", "message"}` bodies and RFC 7807
/// problem details; anything else is quoted, shortened. `mask` (a secret or
/// a token) is replaced should the body ever echo it.
pub fn describe_answer(status: u16, body: &[u8], mask: &SecretString) -> String {
    let reason = http_reason(status);
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => describe_json_error(&json).unwrap_or_else(|| quote(body)),
        Err(_) => quote(body),
    };
    let text = self::mask(&text, mask.expose_secret());
    if text.is_empty() {
        format!("HTTP {status}{reason}")
    } else {
        format!("HTTP {status}{reason}: {text}")
    }
}

fn describe_json_error(json: &serde_json::Value) -> Option<String> {
    let field = |name: &str| -> Option<String> {
        match json.get(name)? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let joined = |a: Option<String>, b: Option<String>| match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}: {b}")),
        (a, b) => a.or(b),
    };

    if let Some(error) = field("error") {
        return joined(Some(error), field("error_description"));
    }
    if field("title").is_some() || field("detail").is_some() {
        return joined(field("title"), field("detail"));
    }
    if let Some(code) = field("code") {
        return joined(
            Some(code),
            field("message").or_else(|| field("description")),
        );
    }
    field("message")
}

fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    match clean.char_indices().nth(MAX_QUOTED_BODY) {
        Some((cut, _)) => format!("{}…", &clean[..cut]),
        None => clean,
    }
}

fn mask(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "[redacted]")
    }
}

fn http_reason(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// An error and its causes, joined: reqwest's own message alone ("error
/// sending request") rarely says what happened.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("s3cr3t")
    }

    #[test]
    fn parses_a_token_response() {
        let sent = whole_seconds(Utc::now());
        let t = parse_success(
            br#"{"access_token":"abc","expires_in":300,"token_type":"Bearer"}"#,
            sent,
        )
        .unwrap();
        assert_eq!(t.access_token.expose_secret(), "abc");
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.fetched_at, sent);
        assert_eq!((t.expires_at - sent).num_seconds(), 300);

        let t = parse_success(br#"{"access_token":"abc","expires_in":"60"}"#, sent).unwrap();
        assert_eq!(t.token_type, "Bearer");
        assert_eq!((t.expires_at - sent).num_seconds(), 60);
    }

    #[test]
    fn refuses_unusable_token_responses() {
        let sent = Utc::now();
        let cases: [(&[u8], &str); 7] = [
            (b"<html>", "not a JSON"),
            (b"[]", "not a JSON"),
            (br#"{"expires_in":300}"#, "no `access_token`"),
            (
                br#"{"access_token":"","expires_in":300}"#,
                "no `access_token`",
            ),
            (br#"{"access_token":"a"}"#, "no numeric `expires_in`"),
            (
                br#"{"access_token":"a","expires_in":0}"#,
                "unusable `expires_in`",
            ),
            (
                br#"{"access_token":"a","expires_in":99999999}"#,
                "unusable `expires_in`",
            ),
        ];
        for (body, want) in cases {
            let err = parse_success(body, sent).err().unwrap();
            assert!(
                err.contains(want),
                "{}: {err}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn describes_oauth_errors() {
        let msg = describe_failure(
            400,
            br#"{"error":"invalid_client","error_description":"Client authentication failed."}"#,
            &secret(),
        );
        assert_eq!(
            msg,
            "HTTP 400 Bad Request: invalid_client: Client authentication failed."
        );
    }

    #[test]
    fn describes_code_errors() {
        let msg = describe_failure(
            401,
            br#"{"code":"UNAUTHORIZED","message":"Invalid credentials"}"#,
            &secret(),
        );
        assert_eq!(
            msg,
            "HTTP 401 Unauthorized: UNAUTHORIZED: Invalid credentials"
        );
        let msg = describe_failure(500, br#"{"code":4711}"#, &secret());
        assert!(
            msg.starts_with("HTTP 500 Internal Server Error: 4711"),
            "{msg}"
        );
    }

    #[test]
    fn describes_problem_details() {
        let msg = describe_failure(
            403,
            br#"{"type":"about:blank","title":"Forbidden","status":403,"detail":"Client is disabled"}"#,
            &secret(),
        );
        assert_eq!(msg, "HTTP 403 Forbidden: Forbidden: Client is disabled");
    }

    #[test]
    fn quotes_other_bodies_shortened_and_on_one_line() {
        let msg = describe_failure(502, b"<html>\n<b>Bad gateway</b>\n</html>", &secret());
        assert!(msg.contains("<html> <b>Bad gateway</b> </html>"), "{msg}");
        assert!(msg.contains("try again later"), "{msg}");
        let long = "x".repeat(5000);
        assert!(describe_failure(500, long.as_bytes(), &secret()).len() < 500);
        assert_eq!(describe_failure(404, b"", &secret()).lines().count(), 1);
    }

    #[test]
    fn an_echoed_secret_is_masked() {
        let msg = describe_failure(
            400,
            br#"{"error":"bad","error_description":"got s3cr3t"}"#,
            &secret(),
        );
        assert!(!msg.contains("s3cr3t"), "{msg}");
        assert!(msg.contains("[redacted]"), "{msg}");
    }

    #[test]
    fn classifies_rejections() {
        assert!(is_rejection(401, b""));
        assert!(is_rejection(403, b"{}"));
        assert!(is_rejection(400, br#"{"error":"invalid_client"}"#));
        assert!(is_rejection(400, br#"{"title":"Bad credentials"}"#));
        assert!(!is_rejection(400, br#"{"error":"unsupported_grant_type"}"#));
        assert!(!is_rejection(404, b""));
        assert!(!is_rejection(500, b""));
        assert!(!is_rejection(429, b""));
    }

    #[test]
    fn the_request_body_has_the_documented_shape() {
        let s = secret();
        let body = RequestBody {
            grant_type: "client_credentials",
            client_id: "cid",
            client_secret: s.expose_secret(),
            act_as: None,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"grant_type":"client_credentials","client_id":"cid","client_secret":"s3cr3t"})
        );
        let body = RequestBody {
            act_as: Some("ed@example.com"),
            ..body
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap()["act_as"],
            "ed@example.com"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn token_json() -> impl Strategy<Value = Vec<u8>> {
            let value = prop_oneof![
                Just(serde_json::json!(null)),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<f64>().prop_map(serde_json::Value::from),
                "[ -~]{0,12}".prop_map(serde_json::Value::from),
            ];
            (value.clone(), value.clone(), value).prop_map(|(t, e, k)| {
                serde_json::to_vec(&serde_json::json!({
                    "access_token": t, "expires_in": e, "token_type": k,
                }))
                .unwrap()
            })
        }

        proptest! {
            #[test]
            fn any_bytes_parse_to_a_usable_token_or_an_error(
                body in prop_oneof![proptest::collection::vec(any::<u8>(), 0..300), token_json()]
            ) {
                let sent = whole_seconds(Utc::now());
                if let Ok(token) = parse_success(&body, sent) {
                    prop_assert!(!token.access_token.expose_secret().is_empty());
                    prop_assert!(token.expires_at > token.fetched_at);
                    prop_assert!(token.expires_at - token.fetched_at
                        <= TimeDelta::seconds(MAX_EXPIRES_IN));
                }
            }

            #[test]
            fn failures_are_described_on_one_short_line_without_the_secret(
                status in 100u16..1000,
                prefix in proptest::collection::vec(any::<u8>(), 0..200),
                echo in any::<bool>(),
            ) {
                let secret = SecretString::from("s3cr3t-value");
                let mut body = prefix;
                if echo {
                    body.extend_from_slice(br#"{"error":"x","error_description":"s3cr3t-value"}"#);
                }
                let text = describe_failure(status, &body, &secret);
                prop_assert!(!text.contains("s3cr3t-value"));
                prop_assert!(!text.contains('\n'));
                prop_assert!(text.chars().count() < 600);
                let _ = is_rejection(status, &body);
            }

            #[test]
            fn retry_after_never_panics(value in "\\PC{0,40}") {
                let _ = parse_retry_after(&value);
            }
        }
    }
}
