//! Where a profile's client secret comes from.
//!
//! Secrets are looked up through a chain of [`SecretSource`]s, first match
//! wins: the environment first (for CI), then the OS keychain. Secrets are
//! held as [`SecretString`], whose `Debug` output is redacted and whose
//! memory is zeroed on drop.

use secrecy::SecretString;

use crate::config::Profile;
use crate::error::{Error, Result};
use crate::keychain::{Keychain, KeychainSource};

/// Environment variables read for a client secret, in order. The second is
/// the name the official Optimizely tooling uses.
pub const SECRET_ENV_VARS: &[&str] = &["OPTI_CRED_CLIENT_SECRET", "OPTIMIZELY_CMS_CLIENT_SECRET"];

/// Somewhere a client secret may be kept.
pub trait SecretSource {
    /// Names the place for `profile`, for messages: "environment variable
    /// `X`". Never includes a secret.
    fn describe(&self, profile: &Profile) -> String;

    /// The secret for `profile`, if this source has one. An error means the
    /// source could not be asked, and says why.
    fn get(&self, profile: &Profile) -> Result<Option<SecretString>, String>;

    /// A one-word kind for reports: `environment`, `keychain`.
    fn kind(&self) -> &'static str;
}

/// What one source holds for a profile, as a report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceState {
    HasSecret,
    NoSecret,
    Unavailable(String),
}

/// One line of a lookup-order report.
#[derive(Debug, Clone)]
pub struct SourceReport {
    pub place: String,
    pub kind: &'static str,
    pub state: SourceState,
}

/// Asks every source, in order, what it holds for `profile`, without
/// keeping any secret: the lookup order as `profile show`, `status` and
/// `doctor` display it.
pub fn survey(sources: &[Box<dyn SecretSource>], profile: &Profile) -> Vec<SourceReport> {
    sources
        .iter()
        .map(|source| SourceReport {
            place: source.describe(profile),
            kind: source.kind(),
            state: match source.get(profile) {
                Ok(Some(_)) => SourceState::HasSecret,
                Ok(None) => SourceState::NoSecret,
                Err(why) => SourceState::Unavailable(why),
            },
        })
        .collect()
}

/// One environment variable. It applies to whichever profile is in use: in a
/// CI job the variable is set for the one API client the job needs.
pub struct EnvVar(pub &'static str);

impl SecretSource for EnvVar {
    fn describe(&self, _profile: &Profile) -> String {
        format!("environment variable `{}`", self.0)
    }

    fn get(&self, _profile: &Profile) -> Result<Option<SecretString>, String> {
        Ok(env_var(self.0))
    }

    fn kind(&self) -> &'static str {
        "environment"
    }
}

/// The sources consulted, in order: the environment variables, then the
/// platform's keychain.
pub fn default_sources() -> Result<Vec<Box<dyn SecretSource>>> {
    let mut sources: Vec<Box<dyn SecretSource>> = SECRET_ENV_VARS
        .iter()
        .map(|name| Box::new(EnvVar(name)) as Box<dyn SecretSource>)
        .collect();
    sources.push(Box::new(KeychainSource(Keychain::platform()?)));
    Ok(sources)
}

/// The secret from the environment, if one of the variables is set: cheap
/// to read, unlike the keychain, so the cache-hit path may check it.
pub fn from_environment() -> Option<SecretString> {
    SECRET_ENV_VARS.iter().find_map(|name| env_var(name))
}

/// A variable that is set but empty counts as unset, as a shell user who
/// wrote `VAR=` would expect.
fn env_var(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
}

/// A secret and the place it came from.
#[derive(Debug)]
pub struct FoundSecret {
    pub secret: SecretString,
    pub source: String,
}

/// Asks each source in turn; the first that has a secret wins. A source that
/// cannot be asked (a keychain that is not there) is passed over, and named
/// with its reason if no source has the secret.
pub fn lookup(sources: &[Box<dyn SecretSource>], profile: &Profile) -> Result<FoundSecret> {
    let mut tried = Vec::with_capacity(sources.len());
    for source in sources {
        let place = source.describe(profile);
        match source.get(profile) {
            Ok(Some(secret)) => {
                log::debug!("client secret for profile `{}` from {place}", profile.name);
                return Ok(FoundSecret {
                    secret,
                    source: place,
                });
            }
            Ok(None) => tried.push(place),
            Err(why) => {
                log::debug!("{place} is unavailable: {why}");
                tried.push(format!("{place}, which is unavailable: {why}"));
            }
        }
    }
    Err(Error::NoSecret {
        profile: profile.name.clone(),
        client_id: profile.client_id.clone(),
        tried: tried.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProfileConfig, resolve_profile};
    use secrecy::ExposeSecret;

    struct Fixed(Option<&'static str>, &'static str);

    impl SecretSource for Fixed {
        fn describe(&self, _: &Profile) -> String {
            self.1.to_string()
        }
        fn get(&self, _: &Profile) -> Result<Option<SecretString>, String> {
            Ok(self.0.map(SecretString::from))
        }
        fn kind(&self) -> &'static str {
            "test"
        }
    }

    struct Broken;

    impl SecretSource for Broken {
        fn describe(&self, _: &Profile) -> String {
            "the broken place".to_string()
        }
        fn get(&self, _: &Profile) -> Result<Option<SecretString>, String> {
            Err("it is on fire".to_string())
        }
        fn kind(&self) -> &'static str {
            "test"
        }
    }

    fn profile() -> Profile {
        let raw = ProfileConfig {
            cms_url: "https://app.example.com".into(),
            client_id: "cid".into(),
            ..ProfileConfig::default()
        };
        resolve_profile("prod", &raw).unwrap()
    }

    #[test]
    fn the_first_source_with_a_secret_wins() {
        let sources: Vec<Box<dyn SecretSource>> = vec![
            Box::new(Fixed(None, "first")),
            Box::new(Broken),
            Box::new(Fixed(Some("s2"), "second")),
            Box::new(Fixed(Some("s3"), "third")),
        ];
        let found = lookup(&sources, &profile()).unwrap();
        assert_eq!(found.secret.expose_secret(), "s2");
        assert_eq!(found.source, "second");
    }

    #[test]
    fn no_secret_names_every_source_tried() {
        let sources: Vec<Box<dyn SecretSource>> = vec![
            Box::new(Fixed(None, "place one")),
            Box::new(Fixed(None, "place two")),
            Box::new(Broken),
        ];
        let err = lookup(&sources, &profile()).unwrap_err();
        assert!(matches!(err, Error::NoSecret { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains(
                "place one; place two; the broken place, which is unavailable: it is on fire"
            ),
            "{msg}"
        );
        assert!(msg.contains("opti-cred login --profile prod"), "{msg}");
        assert!(msg.contains("profile `prod`"), "{msg}");
    }

    #[test]
    fn debug_output_of_a_found_secret_is_redacted() {
        let secret = SecretString::from("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
