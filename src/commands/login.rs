//! `opti-cred login`: put an API client's secret in the OS keychain and set
//! up its profile.
//!
//! Nothing is saved until the credentials have worked: login first asks the
//! token endpoint for a token (unless `--no-verify`), then stores the secret
//! in the keychain, then writes the profile, then caches the fresh token. A
//! rejected secret leaves the keychain, the config and the cache as they
//! were.

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use crate::cache::TokenCache;
use crate::cli::LoginArgs;
use crate::commands::token::cache_key;
use crate::config::{self, ConfigEditor, Profile};
use crate::error::{Error, Result};
use crate::keychain::{self, Keychain};
use crate::paths::Paths;
use crate::{fetch, output, prompt};

/// The profile name login uses when none is given and there is no default.
const FALLBACK_PROFILE: &str = "default";

pub fn run(paths: &Paths, args: LoginArgs) -> Result<()> {
    let (mut editor, config) = ConfigEditor::open(&paths.config_file)?;
    let name = args
        .profile
        .clone()
        .or_else(|| config.default_profile.clone())
        .unwrap_or_else(|| FALLBACK_PROFILE.to_string());
    config::validate_profile_name(&name).map_err(Error::Usage)?;
    let existing = config.profiles.get(&name);

    // Flags win, then the profile's current settings, then the terminal.
    // Settings login has no flag for (timeouts, `ca_cert`) are kept.
    let mut raw = existing.cloned().unwrap_or_default();
    raw.cms_url = setting(
        args.cms_url,
        existing.map(|p| &p.cms_url),
        "--cms-url",
        "CMS URL",
    )?;
    raw.client_id = setting(
        args.client_id,
        existing.map(|p| &p.client_id),
        "--client-id",
        "Client id",
    )?;
    if args.token_url.is_some() {
        raw.token_url = args.token_url;
    }
    if args.act_as.is_some() {
        raw.act_as = args.act_as;
    }
    let profile = config::resolve_profile_in(&paths.config_file, &name, &raw)?;
    let secret = read_secret(&profile, args.client_secret_stdin)?;

    let token = if args.no_verify {
        None
    } else {
        Some(verify(&profile, &secret)?)
    };

    let account = keychain::account(&profile);
    Keychain::platform()?
        .set(&account, &secret)
        .map_err(|e| Error::Keychain { reason: e.0 })?;

    editor.set_profile(&name, &raw);
    let make_default = args.default || config.default_profile.is_none();
    if make_default {
        editor.set_default(Some(&name));
    }
    editor.save()?;

    // The cache now holds the new token, or none: a token fetched with the
    // previous secret must not outlive it.
    let mut cached = String::new();
    let cache = TokenCache::new(paths.cache_dir()?);
    if let Some(mut token) = token {
        token.secret_fingerprint = cache.fingerprint(&secret, true);
        match cache.write(cache_key(&profile), &token) {
            Ok(_) => {
                let left = token.seconds_left(Utc::now()).max(0);
                cached = format!("; a fresh token is cached, valid for {left}s");
            }
            Err(e) => log::warn!("could not cache the token: {e}"),
        }
    } else if let Err(e) = cache.remove(cache_key(&profile)) {
        log::warn!("could not remove the previously cached token: {e}");
    }

    output::note(&format!(
        "logged in: profile `{name}`{} saved in `{}`; client secret stored in the OS keychain \
         (service `{}`, account `{account}`){}{cached}",
        if make_default { " (the default)" } else { "" },
        paths.config_file.display(),
        keychain::SERVICE,
        if args.no_verify {
            "; credentials not checked (--no-verify)"
        } else {
            ""
        },
    ));
    Ok(())
}

/// A setting from its flag, else the profile's current value, else asked
/// for on the terminal.
fn setting(
    flag: Option<String>,
    current: Option<&String>,
    name: &str,
    question: &str,
) -> Result<String> {
    if let Some(value) = flag.or_else(|| current.cloned()) {
        return Ok(value.trim().to_string());
    }
    if !prompt::interactive() {
        return Err(Error::Usage(format!(
            "`{name}` is required when there is no terminal to ask on"
        )));
    }
    let answer = prompt::line(question)?;
    if answer.is_empty() {
        return Err(Error::Usage(format!(
            "no {question} given; nothing was saved"
        )));
    }
    Ok(answer)
}

fn read_secret(profile: &Profile, from_stdin: bool) -> Result<SecretString> {
    // On a terminal the secret is always read without echo, even with
    // `--client-secret-stdin`, which is meant for pipes.
    let secret = if from_stdin && !prompt::interactive() {
        prompt::secret_from_stdin()?
    } else if prompt::interactive() {
        prompt::secret(&format!(
            "Client secret for `{}` (input is hidden)",
            profile.client_id
        ))?
    } else {
        return Err(Error::Usage(
            "no terminal to ask for the client secret on; pipe it in with \
             `--client-secret-stdin`"
                .into(),
        ));
    };
    if secret.expose_secret().trim().is_empty() {
        return Err(Error::Usage(
            "the client secret is empty; nothing was saved".into(),
        ));
    }
    Ok(secret)
}

/// Asks the token endpoint for a token with the new credentials.
fn verify(profile: &Profile, secret: &SecretString) -> Result<crate::cache::CachedToken> {
    log::info!("checking the credentials with `{}`", profile.token_url);
    fetch::fetch(&fetch::TokenRequest::for_profile(profile, secret)).map_err(|e| match e {
        Error::Rejected {
            url,
            profile,
            client_id,
            detail,
        } => Error::Rejected {
            url,
            profile,
            client_id,
            detail: format!("{detail}; nothing was saved"),
        },
        other => other,
    })
}
