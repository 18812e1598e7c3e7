//! `opti-cred token`: print a valid access token.
//!
//! A cache hit reads the config and one cache file and prints; it builds no
//! HTTP client, starts no async runtime and reads no secret. Only a miss
//! looks up the secret and asks the token endpoint.

use std::time::Duration;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cache::{CacheKey, CachedToken, LockError, TokenCache};
use crate::cli::{TokenArgs, TokenFormat};
use crate::config::{Config, Profile};
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::{fetch, output, secret};

/// The least remaining validity a cached token must have to be served,
/// unless `--min-valid` asks for another.
pub const DEFAULT_MIN_VALID: Duration = Duration::from_secs(60);

/// How long a process waits for another one fetching the same token. It is
/// longer than a fetch may take with all its retries (see [`fetch`]).
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);

/// Overrides [`DEFAULT_LOCK_WAIT`].
pub const LOCK_TIMEOUT_ENV: &str = "OPTI_CRED_LOCK_TIMEOUT";

pub fn run(paths: &Paths, args: &TokenArgs) -> Result<()> {
    let config = Config::load(&paths.config_file)?;
    let profile = config.resolve(args.profile.as_deref())?;
    let cache = TokenCache::new(paths.cache_dir()?);
    let min_valid = args.min_valid.unwrap_or(DEFAULT_MIN_VALID);

    let token = get_token(&profile, &cache, min_valid)?;

    let format = if args.json {
        TokenFormat::Json
    } else {
        args.format
    };
    output::print(&render(&token, format))
}

/// A token for `profile` with at least `min_valid` left, from the cache if it
/// has one, else fresh from the token endpoint (and then cached).
///
/// On a miss the process takes the entry's lock and looks again before
/// fetching: when many processes miss at once, the first fetches and the
/// others find its token when the lock comes free.
pub fn get_token(
    profile: &Profile,
    cache: &TokenCache,
    min_valid: Duration,
) -> Result<CachedToken> {
    let key = cache_key(profile);
    let wanted = i64::try_from(min_valid.as_secs()).unwrap_or(i64::MAX);
    // Only the environment is checked on a hit: it costs nothing, while the
    // keychain costs more than the whole hit.
    let env_secret = secret::from_environment();

    if let Some(token) = usable(cache, key, wanted, env_secret.as_ref()) {
        log::debug!("served from the token cache");
        return Ok(token);
    }

    // Held until the token is cached (the end of this function).
    let lock = match cache.lock(key, lock_wait()?) {
        Ok(lock) => Some(lock),
        Err(LockError::TimedOut { path, waited }) => {
            return Err(Error::LockTimeout { path, waited });
        }
        Err(LockError::Io(e)) => {
            // Without a writable cache there is nothing to coordinate on.
            log::debug!("fetching without the cache lock: {e}");
            None
        }
    };
    if lock.is_some()
        && let Some(token) = usable(cache, key, wanted, env_secret.as_ref())
    {
        log::debug!("served from the token cache, fetched by another process");
        return Ok(token);
    }

    let found = secret::lookup(&secret::default_sources()?, profile)?;
    let mut token = fetch::fetch(&fetch::TokenRequest::for_profile(profile, &found.secret))?;
    token.secret_fingerprint = cache.fingerprint(&found.secret, true);

    // A cache that cannot be written costs the next call a fetch; this call
    // still has its token.
    match cache.write(key, &token) {
        Ok(path) => log::debug!("cached the new token in `{}`", path.display()),
        Err(e) => log::warn!("could not cache the token: {e}"),
    }

    let lifetime = token.seconds_left(token.fetched_at);
    if lifetime < wanted {
        log::warn!(
            "the token endpoint issues tokens valid for {lifetime}s, less than the {wanted}s \
             asked for; every call will fetch a new one"
        );
    }
    Ok(token)
}

/// The cached token for `key` if it has `wanted` seconds left and, when the
/// environment holds a secret, was fetched with that secret.
fn usable(
    cache: &TokenCache,
    key: CacheKey<'_>,
    wanted: i64,
    env_secret: Option<&SecretString>,
) -> Option<CachedToken> {
    let cached = cache.read(key)?;
    let left = cached.seconds_left(Utc::now());
    if left < wanted {
        log::debug!("cached token has {left}s left, fewer than the {wanted}s asked for");
        return None;
    }
    if let Some(secret) = env_secret
        && cached.secret_fingerprint != cache.fingerprint(secret, false)
    {
        log::debug!("cached token was fetched with another client secret");
        return None;
    }
    Some(cached)
}

/// How long to wait for another process that is fetching the same token:
/// `OPTI_CRED_LOCK_TIMEOUT`, else long enough for a fetch with its retries.
fn lock_wait() -> Result<Duration> {
    match std::env::var(LOCK_TIMEOUT_ENV) {
        Ok(text) if !text.trim().is_empty() => crate::cli::parse_duration(&text)
            .map_err(|e| Error::Usage(format!("`{LOCK_TIMEOUT_ENV}` is not a duration: {e}"))),
        _ => Ok(DEFAULT_LOCK_WAIT),
    }
}

/// The cache key of a profile's tokens: its token URL and client id.
pub fn cache_key(profile: &Profile) -> CacheKey<'_> {
    CacheKey {
        token_url: profile.token_url.as_str(),
        client_id: &profile.client_id,
    }
}

/// The token in the requested shape. The text holds the token, so it is
/// zeroed when dropped.
pub fn render(token: &CachedToken, format: TokenFormat) -> Zeroizing<String> {
    let value = token.access_token.expose_secret();
    let authorization = format!("{} {value}", scheme(&token.token_type));
    let expires_at = token
        .expires_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Zeroizing::new(match format {
        TokenFormat::Raw => format!("{value}\n"),
        TokenFormat::Json => json_output(token),
        TokenFormat::Header => format!("Authorization: {authorization}\n"),
        TokenFormat::CurlConfig => {
            // curl's config syntax: a quoted value, `\` and `"` escaped.
            let quoted = authorization.replace('\\', "\\\\").replace('"', "\\\"");
            format!("header = \"Authorization: {quoted}\"\n")
        }
        TokenFormat::Env => format!(
            "export OPTI_CRED_TOKEN={}\nexport OPTI_CRED_TOKEN_EXPIRES_AT={}\n",
            shell_quote(value),
            shell_quote(&expires_at)
        ),
    })
}

/// The HTTP authentication scheme for a token type: `Bearer` however the
/// endpoint spelt it, anything else as given.
fn scheme(token_type: &str) -> &str {
    if token_type.eq_ignore_ascii_case("bearer") || token_type.is_empty() {
        "Bearer"
    } else {
        token_type
    }
}

/// Single-quotes a value for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

#[derive(Serialize)]
struct JsonToken<'a> {
    access_token: &'a str,
    token_type: &'a str,
    expires_at: String,
    expires_in: i64,
}

fn json_output(token: &CachedToken) -> String {
    let json = JsonToken {
        access_token: token.access_token.expose_secret(),
        token_type: &token.token_type,
        expires_at: token
            .expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        expires_in: token.seconds_left(Utc::now()).max(0),
    };
    let mut text = serde_json::to_string(&json).expect("strings and numbers serialize");
    text.push('\n');
    text
}
