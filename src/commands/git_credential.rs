//! `opti-cred git-credential get|store|erase`: a git credential helper.
//!
//! Installed as `git-credential-opti-cred` on the PATH (a link to the
//! binary), it also works as `git config credential.helper opti-cred`.
//! Tokens are generated, not stored, so `store` does nothing and `erase`
//! only drops the cached token, making the next `get` fetch a new one.

use std::io::Read;

use chrono::TimeDelta;
use secrecy::ExposeSecret;

use crate::cache::TokenCache;
use crate::cli::GitCredentialArgs;
use crate::commands::token::{DEFAULT_MIN_VALID, cache_key, get_token};
use crate::config::{Config, Profile};
use crate::error::{Error, Result};
use crate::gitcred::{self, Request, Response};
use crate::output;
use crate::paths::Paths;

/// How long before the token's real end git is told it expires, so that git
/// does not start an operation with a token about to die.
pub const EXPIRY_MARGIN: TimeDelta = TimeDelta::seconds(30);

pub fn run(paths: &Paths, args: &GitCredentialArgs) -> Result<()> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| Error::io("cannot read", "standard input", e))?;
    let request = gitcred::read_request(&input[..])
        .map_err(|e| Error::Usage(format!("malformed git credential input: {e}")))?;

    match args.operation.as_str() {
        "get" => get(paths, args, &request),
        "erase" => erase(paths, args, &request),
        // `store`: git offers a credential it used successfully; ours are
        // generated on demand, so there is nothing to keep. Operations this
        // version does not know are ignored, as the protocol asks.
        other => {
            log::debug!("git credential `{other}`: nothing to do");
            Ok(())
        }
    }
}

fn get(paths: &Paths, args: &GitCredentialArgs, request: &Request) -> Result<()> {
    let config = Config::load(&paths.config_file)?;
    let Some(profile) = choose_profile(&config, args.profile.as_deref(), request)? else {
        return Ok(());
    };
    let cache = TokenCache::new(paths.cache_dir()?);
    let token = get_token(&profile, &cache, DEFAULT_MIN_VALID)?;

    let expiry = (token.expires_at - EXPIRY_MARGIN).timestamp().to_string();
    let mut response = Response::default();
    let value = token.access_token.expose_secret();
    let written = if request.supports_authtype() {
        response
            .push("capability[]", "authtype")
            .and_then(|()| response.push("authtype", "Bearer"))
            .and_then(|()| response.push("credential", value))
            .and_then(|()| response.push("ephemeral", "1"))
    } else {
        response
            .push("username", profile.client_id.as_str())
            .and_then(|()| response.push("password", value))
    };
    written
        .and_then(|()| response.push("password_expiry_utc", expiry))
        .map_err(|why| Error::Endpoint {
            url: profile.token_url.to_string(),
            detail: format!("the token cannot be handed to git: {why}"),
        })?;
    output::print(&zeroize::Zeroizing::new(response.render()))
}

fn erase(paths: &Paths, args: &GitCredentialArgs, request: &Request) -> Result<()> {
    let config = Config::load(&paths.config_file)?;
    if let Some(profile) = choose_profile(&config, args.profile.as_deref(), request)? {
        let cache = TokenCache::new(paths.cache_dir()?);
        let removed = cache.remove(cache_key(&profile))?;
        log::info!(
            "git rejected the token of profile `{}`; {}",
            profile.name,
            if removed {
                "dropped it from the cache"
            } else {
                "none was cached"
            }
        );
    }
    Ok(())
}

/// The profile for a request: the one named with `--profile`, else the one
/// whose CMS URL matches git's protocol, host and (when git sends one) path.
/// `None` means "not ours": git then asks its next helper.
fn choose_profile(
    config: &Config,
    named: Option<&str>,
    request: &Request,
) -> Result<Option<Profile>> {
    if let Some(name) = named {
        return config.profile(name).map(Some);
    }
    let (Some(protocol), Some(host)) = (&request.protocol, &request.host) else {
        log::info!("git sent no protocol and host; nothing to answer");
        return Ok(None);
    };

    let mut best: Option<(usize, Profile)> = None;
    for name in config.profiles.keys() {
        let profile = match config.profile(name) {
            Ok(profile) => profile,
            Err(e) => {
                log::debug!("skipping profile `{name}`: {e}");
                continue;
            }
        };
        let Some(score) = match_score(&profile, protocol, host, request.path.as_deref()) else {
            continue;
        };
        let is_default = config.default_profile.as_deref() == Some(name.as_str());
        let better = match &best {
            None => true,
            Some((best_score, _)) => score > *best_score || (score == *best_score && is_default),
        };
        if better {
            best = Some((score, profile));
        }
    }
    if best.is_none() {
        log::info!(
            "no profile has a CMS URL for {protocol}://{host}; git will ask its next helper"
        );
    }
    Ok(best.map(|(_, profile)| profile))
}

/// How well a profile's CMS URL matches: `None` for no match, else the
/// length of its path prefix (a longer prefix is a closer match).
fn match_score(profile: &Profile, protocol: &str, host: &str, path: Option<&str>) -> Option<usize> {
    let url = &profile.cms_url;
    if url.scheme() != protocol {
        return None;
    }
    let url_host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str()?),
        None => url.host_str()?.to_string(),
    };
    if !url_host.eq_ignore_ascii_case(host) {
        return None;
    }
    let prefix = url.path().trim_matches('/');
    match path {
        Some(path) if !prefix.is_empty() => {
            let path = path.trim_start_matches('/');
            let inside = path == prefix || path.starts_with(&format!("{prefix}/"));
            inside.then_some(prefix.len())
        }
        _ => Some(prefix.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        Config::parse(Path::new("/c.toml"), text).unwrap()
    }

    fn request(protocol: &str, host: &str, path: Option<&str>) -> Request {
        Request {
            protocol: Some(protocol.into()),
            host: Some(host.into()),
            path: path.map(str::to_string),
            ..Request::default()
        }
    }

    fn chosen(config: &Config, request: &Request) -> Option<String> {
        choose_profile(config, None, request)
            .unwrap()
            .map(|p| p.name)
    }

    const PROFILES: &str = r#"
default_profile = "b"
[profiles.a]
cms_url = "https://app-x.cms.optimizely.com"
client_id = "c"
[profiles.b]
cms_url = "https://app-x.cms.optimizely.com"
client_id = "c"
[profiles.sub]
cms_url = "https://app-x.cms.optimizely.com/team"
client_id = "c"
[profiles.local]
cms_url = "http://127.0.0.1:8080"
client_id = "c"
"#;

    #[test]
    fn matches_protocol_host_and_port() {
        let config = config(PROFILES);
        assert_eq!(
            chosen(&config, &request("http", "127.0.0.1:8080", None)),
            Some("local".into())
        );
        assert_eq!(
            chosen(&config, &request("http", "127.0.0.1:9090", None)),
            None
        );
        assert_eq!(
            chosen(&config, &request("https", "127.0.0.1:8080", None)),
            None
        );
        assert_eq!(chosen(&config, &request("https", "github.com", None)), None);
    }

    #[test]
    fn prefers_the_longest_path_then_the_default() {
        let config = config(PROFILES);
        let host = "app-x.cms.optimizely.com";
        assert_eq!(
            chosen(&config, &request("https", host, None)),
            Some("sub".into())
        );
        assert_eq!(
            chosen(&config, &request("https", host, Some("team/x"))),
            Some("sub".into())
        );
        assert_eq!(
            chosen(&config, &request("https", host, Some("other"))),
            Some("b".into())
        );
        assert_eq!(
            chosen(&config, &request("https", host, Some("teamwork"))),
            Some("b".into())
        );
    }

    #[test]
    fn a_named_profile_wins_and_must_exist() {
        let config = config(PROFILES);
        let github = request("https", "github.com", None);
        assert_eq!(
            choose_profile(&config, Some("a"), &github)
                .unwrap()
                .map(|p| p.name),
            Some("a".into())
        );
        assert!(choose_profile(&config, Some("zzz"), &github).is_err());
    }

    #[test]
    fn a_request_without_host_matches_nothing() {
        let config = config(PROFILES);
        assert_eq!(chosen(&config, &Request::default()), None);
    }
}
