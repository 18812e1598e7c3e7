//! `opti-cred logout`: remove client secrets from the OS keychain and the
//! cached tokens, and with `--forget` the profiles themselves.

use crate::cache::TokenCache;
use crate::cli::LogoutArgs;
use crate::commands::token::cache_key;
use crate::config::{ConfigEditor, Profile};
use crate::error::{Error, Result};
use crate::keychain::{self, Keychain};
use crate::output;
use crate::paths::Paths;

pub fn run(paths: &Paths, args: &LogoutArgs) -> Result<()> {
    let (mut editor, config) = ConfigEditor::open(&paths.config_file)?;
    let profiles: Vec<Profile> = if args.all {
        config
            .profiles
            .keys()
            .map(|name| config.profile(name))
            .collect::<Result<_>>()?
    } else {
        vec![config.resolve(args.profile.as_deref())?]
    };
    if profiles.is_empty() {
        output::note("no profiles; nothing to log out of");
        return Ok(());
    }

    let keychain = Keychain::platform()?;
    let cache = TokenCache::new(paths.cache_dir()?);
    for profile in &profiles {
        let token_removed = cache.remove(cache_key(profile))?;
        let account = keychain::account(profile);
        let secret_removed = keychain
            .delete(&account)
            .map_err(|e| Error::Keychain { reason: e.0 })?;

        let secret = if secret_removed {
            format!("removed the client secret `{account}` from the OS keychain")
        } else {
            format!("no client secret `{account}` was in the OS keychain")
        };
        let token = if token_removed {
            "removed its cached token"
        } else {
            "no token was cached"
        };
        output::note(&format!("profile `{}`: {secret}; {token}", profile.name));
    }

    if args.forget {
        for profile in &profiles {
            editor.remove_profile(&profile.name);
            if config.default_profile.as_deref() == Some(profile.name.as_str()) {
                editor.set_default(None);
            }
        }
        editor.save()?;
        let names: Vec<String> = profiles.iter().map(|p| format!("`{}`", p.name)).collect();
        output::note(&format!(
            "removed {} from the config file",
            names.join(", ")
        ));
    }
    Ok(())
}
