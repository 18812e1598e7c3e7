//! `opti-cred exec PROFILE -- COMMAND`: run a command with a token in its
//! environment, never on a command line.
//!
//! On Unix the command replaces opti-cred (`execvp`), so its standard
//! streams, signals and exit status are its own with nothing in between.
//! Elsewhere opti-cred runs it, waits, and exits with its status.
//!
//! The client secret variables are removed from the command's environment:
//! it gets a token, not the means to make more.

use std::ffi::OsString;
use std::process::Command;

use secrecy::ExposeSecret;

use crate::cache::TokenCache;
use crate::cli::ExecArgs;
use crate::commands::token::{DEFAULT_MIN_VALID, get_token};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::paths::Paths;

/// Set in the command's environment to the profile's name. A nested
/// `opti-cred exec` of another profile refuses to run unless asked, as
/// aws-vault does: a shell inside `exec prod` that runs `exec test` would
/// otherwise mix two instances' tokens.
pub const EXEC_MARKER: &str = "OPTI_CRED_EXEC";

pub fn run(paths: &Paths, args: ExecArgs) -> Result<()> {
    let config = Config::load(&paths.config_file)?;
    let profile = config.resolve(args.profile.as_deref())?;

    if let Some(outer) = std::env::var_os(EXEC_MARKER)
        && outer != profile.name.as_str()
        && !args.allow_nesting
    {
        return Err(Error::Usage(format!(
            "already inside `opti-cred exec` for profile `{}` ({EXEC_MARKER} is set); \
             pass `--allow-nesting` to run profile `{}` inside it",
            outer.to_string_lossy(),
            profile.name
        )));
    }

    let cache = TokenCache::new(paths.cache_dir()?);
    let token = get_token(
        &profile,
        &cache,
        args.min_valid.unwrap_or(DEFAULT_MIN_VALID),
    )?;

    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| Error::Usage("no command given after `--`".into()))?;
    let cms_url = profile.cms_url.as_str().trim_end_matches('/');
    let mut command = Command::new(program);
    command
        .args(rest)
        .env("OPTI_CRED_TOKEN", token.access_token.expose_secret())
        .env(
            "OPTI_CRED_TOKEN_EXPIRES_AT",
            token
                .expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .env("OPTI_CRED_TOKEN_TYPE", &token.token_type)
        .env("OPTI_CRED_CMS_URL", cms_url)
        // The name Optimizely's own samples and tooling read the CMS URL
        // from. None of them reads a ready token from the environment.
        .env("OPTIMIZELY_CMS_URL", cms_url)
        .env("OPTI_CRED_PROFILE", &profile.name)
        .env(EXEC_MARKER, &profile.name);
    // The command gets a token, not the means to make more.
    for name in crate::secret::SECRET_ENV_VARS {
        command.env_remove(name);
    }
    log::debug!(
        "running `{}` for profile `{}`",
        program.to_string_lossy(),
        profile.name
    );
    run_command(command, program)
}

#[cfg(unix)]
fn run_command(mut command: Command, program: &OsString) -> Result<()> {
    use std::os::unix::process::CommandExt;
    // Returns only if the command could not be started.
    let err = command.exec();
    Err(Error::Exec {
        program: program.to_string_lossy().into_owned(),
        source: err,
    })
}

#[cfg(not(unix))]
fn run_command(mut command: Command, program: &OsString) -> Result<()> {
    let status = command.status().map_err(|source| Error::Exec {
        program: program.to_string_lossy().into_owned(),
        source,
    })?;
    std::process::exit(status.code().unwrap_or(1));
}
