//! Where a profile's client secret comes from.
//!
//! Secrets are looked up through a chain of [`SecretSource`]s, first match
//! wins. Today the chain is the environment only; the OS keychain plugs in as
//! another source. Secrets are held as [`SecretString`], whose `Debug` output
//! is redacted and whose memory is zeroed on drop.

use secrecy::SecretString;

use crate::config::Profile;
use crate::error::{Error, Result};

/// Environment variables read for a client secret, in order. The second is
/// the name the official Optimizely tooling uses.
pub const SECRET_ENV_VARS: &[&str] = &["OPTI_CRED_CLIENT_SECRET", "OPTIMIZELY_CMS_CLIENT_SECRET"];

/// Somewhere a client secret may be kept.
pub trait SecretSource {
    /// Names the place, for messages: "environment variable `X`".
    fn describe(&self) -> String;

    /// The secret for `profile`, if this source has one.
    fn get(&self, profile: &Profile) -> Result<Option<SecretString>>;
}

/// One environment variable. It applies to whichever profile is in use: in a
/// CI job the variable is set for the one API client the job needs.
pub struct EnvVar(pub &'static str);

impl SecretSource for EnvVar {
    fn describe(&self) -> String {
        format!("environment variable `{}`", self.0)
    }

    fn get(&self, _profile: &Profile) -> Result<Option<SecretString>> {
        // A variable that is set but empty counts as unset, as a shell user
        // who wrote `VAR=` would expect.
        Ok(std::env::var(self.0)
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretString::from))
    }
}

/// The sources consulted, in order.
pub fn default_sources() -> Vec<Box<dyn SecretSource>> {
    SECRET_ENV_VARS
        .iter()
        .map(|name| Box::new(EnvVar(name)) as Box<dyn SecretSource>)
        .collect()
}

/// A secret and the place it came from.
#[derive(Debug)]
pub struct FoundSecret {
    pub secret: SecretString,
    pub source: String,
}

/// Asks each source in turn; the first that has a secret wins.
pub fn lookup(sources: &[Box<dyn SecretSource>], profile: &Profile) -> Result<FoundSecret> {
    for source in sources {
        if let Some(secret) = source.get(profile)? {
            log::debug!(
                "client secret for profile `{}` from {}",
                profile.name,
                source.describe()
            );
            return Ok(FoundSecret {
                secret,
                source: source.describe(),
            });
        }
    }
    let tried: Vec<String> = sources.iter().map(|s| s.describe()).collect();
    Err(Error::NoSecret {
        profile: profile.name.clone(),
        client_id: profile.client_id.clone(),
        tried: format!(
            "{}; set one of them without putting the secret on a command line, for example \
             `read -rs {} && export {}`",
            tried.join(", "),
            SECRET_ENV_VARS[0],
            SECRET_ENV_VARS[0]
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProfileConfig, resolve_profile};
    use secrecy::ExposeSecret;

    struct Fixed(Option<&'static str>, &'static str);

    impl SecretSource for Fixed {
        fn describe(&self) -> String {
            self.1.to_string()
        }
        fn get(&self, _: &Profile) -> Result<Option<SecretString>> {
            Ok(self.0.map(SecretString::from))
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
        ];
        let err = lookup(&sources, &profile()).unwrap_err();
        assert!(matches!(err, Error::NoSecret { .. }));
        let msg = err.to_string();
        assert!(msg.contains("place one, place two"), "{msg}");
        assert!(msg.contains("profile `prod`"), "{msg}");
    }

    #[test]
    fn debug_output_of_a_found_secret_is_redacted() {
        let secret = SecretString::from("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
