//! `opti-cred token`: print a valid access token.
//!
//! A cache hit reads the config and one cache file and prints; it builds no
//! HTTP client, starts no async runtime and reads no secret. Only a miss
//! looks up the secret and asks the token endpoint.

use std::time::Duration;

use chrono::Utc;
use secrecy::ExposeSecret;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cache::{CacheKey, CachedToken, TokenCache};
use crate::cli::TokenArgs;
use crate::config::{Config, Profile};
use crate::error::Result;
use crate::paths::Paths;
use crate::{fetch, output, secret};

/// The least remaining validity a cached token must have to be served,
/// unless `--min-valid` asks for another.
pub const DEFAULT_MIN_VALID: Duration = Duration::from_secs(60);

pub fn run(paths: &Paths, args: &TokenArgs) -> Result<()> {
    let config = Config::load(&paths.config_file)?;
    let profile = config.resolve(args.profile.as_deref())?;
    let cache = TokenCache::new(paths.cache_dir()?);
    let min_valid = args.min_valid.unwrap_or(DEFAULT_MIN_VALID);

    let token = get_token(&profile, &cache, min_valid)?;

    let text = Zeroizing::new(if args.json {
        json_output(&token)
    } else {
        format!("{}\n", token.access_token.expose_secret())
    });
    output::print(&text)
}

/// A token for `profile` with at least `min_valid` left, from the cache if it
/// has one, else fresh from the token endpoint (and then cached).
pub fn get_token(
    profile: &Profile,
    cache: &TokenCache,
    min_valid: Duration,
) -> Result<CachedToken> {
    let key = cache_key(profile);
    let wanted = i64::try_from(min_valid.as_secs()).unwrap_or(i64::MAX);

    if let Some(cached) = cache.read(key) {
        let left = cached.seconds_left(Utc::now());
        if left >= wanted {
            log::debug!("served from the token cache, valid for {left}s more");
            return Ok(cached);
        }
        log::debug!("cached token has {left}s left, fewer than the {wanted}s asked for");
    }

    let found = secret::lookup(&secret::default_sources()?, profile)?;
    let token = fetch::fetch(&fetch::TokenRequest {
        token_url: &profile.token_url,
        client_id: &profile.client_id,
        client_secret: &found.secret,
        act_as: profile.act_as.as_deref(),
        profile: &profile.name,
    })?;

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

/// The cache key of a profile's tokens: its token URL and client id.
pub fn cache_key(profile: &Profile) -> CacheKey<'_> {
    CacheKey {
        token_url: profile.token_url.as_str(),
        client_id: &profile.client_id,
    }
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
