//! `opti-cred doctor [PROFILE]`: checks what opti-cred depends on, one line
//! each, with what to do about a failure: the config file, the cache
//! directory, the keychain, a client secret, the token endpoint, the clock.
//!
//! The endpoint check fetches a fresh token (the cache is neither read nor
//! written), so it tests the network path and the credentials as they are
//! now.

use std::path::Path;

use serde::Serialize;

use crate::cli::DoctorArgs;
use crate::config::{Config, Profile};
use crate::error::{Error, Result};
use crate::fetch::{self, CLOCK_OFFSET_LIMIT};
use crate::keychain::{self, Keychain};
use crate::output;
use crate::paths::Paths;
use crate::secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Ok,
    Fail,
    Skip,
}

#[derive(Debug, Serialize)]
struct Check {
    check: &'static str,
    outcome: Outcome,
    detail: String,
    /// What to do, for a failure.
    fix: Option<String>,
}

impl Check {
    fn ok(check: &'static str, detail: impl Into<String>) -> Check {
        Check {
            check,
            outcome: Outcome::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            check,
            outcome: Outcome::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn skip(check: &'static str, detail: impl Into<String>) -> Check {
        Check {
            check,
            outcome: Outcome::Skip,
            detail: detail.into(),
            fix: None,
        }
    }
}

pub fn run(paths: &Paths, args: &DoctorArgs) -> Result<()> {
    let mut checks = Vec::new();

    let config = match Config::load(&paths.config_file) {
        Ok(config) => {
            checks.push(Check::ok(
                "config",
                format!(
                    "config file `{}` is valid ({} profile(s))",
                    paths.config_file.display(),
                    config.profiles.len()
                ),
            ));
            Some(config)
        }
        Err(e) => {
            checks.push(Check::fail(
                "config",
                e.to_string(),
                "fix the file as the message says, or move it away and run `opti-cred login`",
            ));
            None
        }
    };

    checks.push(check_cache_dir(&paths.cache_dir()?));

    let profile =
        config
            .as_ref()
            .and_then(|config| match config.resolve(args.profile.as_deref()) {
                Ok(profile) => Some(profile),
                Err(e) => {
                    checks.push(Check::fail(
                    "profile",
                    e.to_string(),
                    "name a profile (`opti-cred doctor NAME`) or create one with `opti-cred login`",
                ));
                    None
                }
            });
    match &profile {
        Some(profile) => check_profile(profile, &mut checks)?,
        None => {
            for check in ["keychain", "secret", "endpoint", "clock"] {
                checks.push(Check::skip(check, "no profile to check"));
            }
        }
    }

    let failed = checks.iter().any(|c| c.outcome == Outcome::Fail);
    let text = if args.json {
        let mut text = serde_json::to_string_pretty(&checks).expect("checks serialize");
        text.push('\n');
        text
    } else {
        render(&checks)
    };
    output::print(&text)?;
    if failed {
        Err(Error::ChecksFailed(
            checks.iter().filter(|c| c.outcome == Outcome::Fail).count(),
        ))
    } else {
        Ok(())
    }
}

fn check_cache_dir(dir: &Path) -> Check {
    if !dir.exists() {
        return Check::ok(
            "cache",
            format!(
                "cache directory `{}` does not exist yet; it is made on first use",
                dir.display()
            ),
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
        match mode(dir) {
            Ok(m) if m & 0o077 != 0 => {
                return Check::fail(
                    "cache",
                    format!(
                        "cache directory `{}` has mode {m:o}, open to others",
                        dir.display()
                    ),
                    format!("chmod 700 '{}'", dir.display()),
                );
            }
            Err(e) => {
                return Check::fail(
                    "cache",
                    format!("cannot inspect `{}`: {e}", dir.display()),
                    "check the directory's owner and permissions",
                );
            }
            Ok(_) => {}
        }
        let tokens = dir.join("tokens");
        let open: Vec<String> = std::fs::read_dir(&tokens)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter(|p| mode(p).is_ok_and(|m| m & 0o077 != 0))
            .map(|p| p.display().to_string())
            .collect();
        if !open.is_empty() {
            return Check::fail(
                "cache",
                format!(
                    "cached tokens open to others (they are not used): {}",
                    open.join(", ")
                ),
                format!("chmod 600 '{}'/*.json, or delete them", tokens.display()),
            );
        }
    }
    match tempfile::tempfile_in(dir) {
        Ok(_) => Check::ok(
            "cache",
            format!(
                "cache directory `{}` is private and writable",
                dir.display()
            ),
        ),
        Err(e) => Check::fail(
            "cache",
            format!("cannot write in `{}`: {e}", dir.display()),
            "tokens are still fetched, but every call fetches; fix the directory's owner or \
             permissions, or set `OPTI_CRED_CACHE_DIR`",
        ),
    }
}

fn check_profile(profile: &Profile, checks: &mut Vec<Check>) -> Result<()> {
    let account = keychain::account(profile);
    match Keychain::platform()?.get(&account) {
        Ok(Some(_)) => checks.push(Check::ok(
            "keychain",
            format!("the OS keychain has `{account}`"),
        )),
        Ok(None) => checks.push(Check::ok(
            "keychain",
            format!("the OS keychain answers; it has no entry `{account}`"),
        )),
        // Without a keychain, a secret in the environment is all it takes.
        Err(e) if secret::from_environment().is_some() => checks.push(Check::skip(
            "keychain",
            format!(
                "the OS keychain is not available ({}); not needed, the secret comes from the \
                 environment",
                e.0
            ),
        )),
        Err(e) => checks.push(Check::fail(
            "keychain",
            format!("the OS keychain is not available: {}", e.0),
            format!(
                "start a Secret Service (see docs/secrets.md), or set `{}`",
                secret::SECRET_ENV_VARS[0]
            ),
        )),
    }

    let found = match secret::lookup(&secret::default_sources()?, profile) {
        Ok(found) => {
            checks.push(Check::ok(
                "secret",
                format!(
                    "profile `{}` takes its client secret from {}",
                    profile.name, found.source
                ),
            ));
            found
        }
        Err(e) => {
            // The lookup's own error already lists every place it tried.
            let detail = match e {
                Error::NoSecret { tried, .. } => format!(
                    "no client secret for profile `{}`; looked in: {tried}",
                    profile.name
                ),
                other => other.to_string(),
            };
            checks.push(Check::fail(
                "secret",
                detail,
                format!(
                    "run `opti-cred login --profile {}`, or set `{}`",
                    profile.name,
                    secret::SECRET_ENV_VARS[0]
                ),
            ));
            checks.push(Check::skip("endpoint", "no client secret to try"));
            checks.push(Check::skip(
                "clock",
                "no answer from the token endpoint to compare with",
            ));
            return Ok(());
        }
    };

    let fetched =
        fetch::fetch_with_report(&fetch::TokenRequest::for_profile(profile, &found.secret));
    let report = match fetched {
        Ok((token, report)) => {
            checks.push(Check::ok(
                "endpoint",
                format!(
                    "`{}` accepted the credentials; the token lasts {}s",
                    profile.token_url,
                    token.seconds_left(token.fetched_at)
                ),
            ));
            report
        }
        Err(e) => {
            let fix = match &e {
                Error::Rejected { .. } => format!(
                    "check the API client in the CMS, then `opti-cred login --profile {}`",
                    profile.name
                ),
                _ => "check the profile's `cms_url`/`token_url`, the network and any proxy \
                      (`HTTPS_PROXY`, `ca_cert`)"
                    .to_string(),
            };
            checks.push(Check::fail("endpoint", e.to_string(), fix));
            checks.push(Check::skip(
                "clock",
                "no answer from the token endpoint to compare with",
            ));
            return Ok(());
        }
    };

    checks.push(match report.clock_offset {
        None => Check::skip("clock", "the token endpoint sent no `Date` header"),
        Some(offset) if offset.abs() <= CLOCK_OFFSET_LIMIT => Check::ok(
            "clock",
            format!(
                "the local clock is within {}s of the token endpoint's",
                offset.abs().max(1)
            ),
        ),
        Some(offset) => Check::fail(
            "clock",
            format!(
                "the local clock is {} the token endpoint's by {}s; cached tokens are kept for \
                 that much less",
                if offset > 0 { "behind" } else { "ahead of" },
                offset.abs()
            ),
            "set the clock right: enable NTP (`timedatectl set-ntp true`); on WSL, \
             `wsl --shutdown` resyncs it",
        ),
    });
    Ok(())
}

fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for check in checks {
        let mark = match check.outcome {
            Outcome::Ok => "ok  ",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        };
        out.push_str(&format!("{mark}  {:<8}  {}\n", check.check, check.detail));
        if let Some(fix) = &check.fix {
            out.push_str(&format!("      {:<8}  fix: {fix}\n", ""));
        }
    }
    out
}
