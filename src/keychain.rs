//! Client secrets in the operating system's keychain: macOS Keychain,
//! Windows Credential Manager, or the freedesktop Secret Service on Linux
//! (GNOME Keyring, KWallet, KeePassXC), through the `keyring` crates.
//!
//! One entry per API client: service `opti-cred`, account `CLIENT_ID@HOST`
//! (the host of the profile's CMS URL, with its port when it has one). Two
//! profiles for the same client share the entry, and renaming a profile
//! loses nothing.
//!
//! Every keychain call runs on a helper thread and is given a few seconds
//! ([`DEFAULT_TIMEOUT`], `OPTI_CRED_KEYCHAIN_TIMEOUT`). A Secret Service that
//! never answers, or a locked keychain waiting on a prompt nobody can see,
//! then makes the keychain unavailable instead of hanging the program.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};
use secrecy::{ExposeSecret, SecretString};

use crate::config::Profile;
use crate::error::{Error, Result};
use crate::secret::SecretSource;

/// The service name of every opti-cred keychain entry.
pub const SERVICE: &str = "opti-cred";

/// How long one keychain call may take before the keychain counts as
/// unavailable. A Secret Service read takes about 15 ms.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Overrides [`DEFAULT_TIMEOUT`] (`5s`, `500ms`).
pub const TIMEOUT_ENV: &str = "OPTI_CRED_KEYCHAIN_TIMEOUT";

/// The keychain account that holds a profile's client secret.
pub fn account(profile: &Profile) -> String {
    let host = profile.cms_url.host_str().unwrap_or_default();
    match profile.cms_url.port() {
        Some(port) => format!("{}@{host}:{port}", profile.client_id),
        None => format!("{}@{host}", profile.client_id),
    }
}

/// Why the keychain could not be used. Never holds a secret.
#[derive(Debug, Clone)]
pub struct Unavailable(pub String);

/// Where the store comes from: the platform's, set up on first use, or one
/// handed in (the mock store, in tests).
#[derive(Clone)]
enum Backend {
    Platform,
    Store(Arc<CredentialStore>),
}

/// The OS keychain, with every call bounded in time.
#[derive(Clone)]
pub struct Keychain {
    backend: Backend,
    timeout: Duration,
}

impl Keychain {
    /// The platform's keychain, with the timeout from the environment.
    pub fn platform() -> Result<Keychain> {
        let timeout = match std::env::var(TIMEOUT_ENV) {
            Ok(text) if !text.trim().is_empty() => crate::cli::parse_duration(&text)
                .map_err(|e| Error::Usage(format!("`{TIMEOUT_ENV}` is not a duration: {e}")))?,
            _ => DEFAULT_TIMEOUT,
        };
        Ok(Keychain {
            backend: Backend::Platform,
            timeout,
        })
    }

    /// A keychain backed by `store`, for tests.
    pub fn with_store(store: Arc<CredentialStore>, timeout: Duration) -> Keychain {
        Keychain {
            backend: Backend::Store(store),
            timeout,
        }
    }

    /// The secret stored for `account`, if any.
    pub fn get(&self, account: &str) -> Result<Option<SecretString>, Unavailable> {
        let account = account.to_string();
        self.call(move |entry| match entry(&account)?.get_password() {
            Ok(secret) => Ok(Some(SecretString::from(secret))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// Stores `secret` for `account`, replacing any secret there.
    pub fn set(&self, account: &str, secret: &SecretString) -> Result<(), Unavailable> {
        let account = account.to_string();
        let secret = SecretString::from(secret.expose_secret());
        self.call(move |entry| entry(&account)?.set_password(secret.expose_secret()))
    }

    /// Deletes the entry for `account`; true if there was one.
    pub fn delete(&self, account: &str) -> Result<bool, Unavailable> {
        let account = account.to_string();
        self.call(move |entry| match entry(&account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(e),
        })
    }

    /// Runs `op` on a helper thread and waits at most the timeout for it.
    /// `op` gets a function that opens the entry of an account. A thread that
    /// is still blocked when the timeout passes is left behind; the process
    /// does not wait for it on exit.
    fn call<T, F>(&self, op: F) -> Result<T, Unavailable>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Fn(&str) -> keyring_core::Result<Entry>) -> keyring_core::Result<T>
            + Send
            + 'static,
    {
        let backend = self.backend.clone();
        let (send, receive) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("keychain".into())
            .spawn(move || {
                let labelled = matches!(backend, Backend::Platform);
                let result = open_store(&backend).and_then(|store| {
                    let entry = |account: &str| new_entry(&store, account, labelled);
                    op(&entry).map_err(|e| describe(&e))
                });
                let _ = send.send(result);
            });
        if let Err(e) = spawned {
            return Err(Unavailable(format!("cannot start a thread for it: {e}")));
        }

        match receive.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Unavailable(format!(
                "it did not answer within {} (a locked keychain waiting for a password \
                 prompt counts as no answer; `{TIMEOUT_ENV}` sets the limit)",
                humantime::format_duration(self.timeout)
            ))),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(Unavailable("the keychain call failed unexpectedly".into()))
            }
        }
    }
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.backend {
            Backend::Platform => "platform",
            Backend::Store(_) => "given store",
        };
        f.debug_struct("Keychain")
            .field("backend", &backend)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn open_store(backend: &Backend) -> Result<Arc<CredentialStore>, Unavailable> {
    match backend {
        Backend::Store(store) => Ok(store.clone()),
        Backend::Platform => {
            // The first call connects to the platform's store (on Linux, the
            // session bus) and remembers the outcome for the process.
            keyring::Entry::store_status().as_ref().map_err(describe)?;
            keyring_core::get_default_store()
                .ok_or_else(|| Unavailable("no keychain store is set up".into()))
        }
    }
}

/// Opens the entry of `account`. With `labelled`, on Linux, the entry gets a
/// label, which is what a keychain app (Seahorse, KWallet) shows; the mock
/// store used in tests takes no labels.
fn new_entry(
    store: &Arc<CredentialStore>,
    account: &str,
    labelled: bool,
) -> keyring_core::Result<Entry> {
    if labelled && cfg!(all(unix, not(target_os = "macos"))) {
        let label = format!("opti-cred client secret for {account}");
        let modifiers = std::collections::HashMap::from([("label", label.as_str())]);
        return Entry::new_in_store_with_modifiers(store, SERVICE, account, &modifiers);
    }
    Entry::new_in_store(store, SERVICE, account)
}

/// A message for a keyring error. Some variants carry the bytes of a stored
/// secret (`BadEncoding`, `BadDataFormat`), so their `Debug` output is never
/// used; their `Display` does not include them.
fn describe(err: &keyring_core::Error) -> Unavailable {
    use keyring_core::Error as K;
    let text = match err {
        K::NoStorageAccess(cause) => format!("the keychain is locked or refused access ({cause})"),
        K::PlatformFailure(cause) => format!("the keychain failed: {cause}"),
        K::BadEncoding(_) | K::BadDataFormat(..) => {
            "the stored secret is not valid text; run `opti-cred login` to store it again".into()
        }
        K::NoDefaultStore => "no keychain store is set up".into(),
        other => other.to_string(),
    };
    Unavailable(text)
}

/// The keychain as a place secret lookup tries.
pub struct KeychainSource(pub Keychain);

impl SecretSource for KeychainSource {
    fn describe(&self, profile: &Profile) -> String {
        format!(
            "the OS keychain (service `{SERVICE}`, account `{}`)",
            account(profile)
        )
    }

    fn get(&self, profile: &Profile) -> Result<Option<SecretString>, String> {
        self.0.get(&account(profile)).map_err(|e| e.0)
    }

    fn kind(&self) -> &'static str {
        "keychain"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProfileConfig, resolve_profile};

    fn profile(cms_url: &str, client_id: &str) -> Profile {
        let raw = ProfileConfig {
            cms_url: cms_url.into(),
            client_id: client_id.into(),
            ..ProfileConfig::default()
        };
        resolve_profile("p", &raw).unwrap()
    }

    fn mock() -> (Keychain, Arc<CredentialStore>) {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        (
            Keychain::with_store(store.clone(), Duration::from_secs(2)),
            store,
        )
    }

    #[test]
    fn accounts_name_the_client_and_the_host() {
        assert_eq!(
            account(&profile("https://app-x.cms.optimizely.com/", "cid")),
            "cid@app-x.cms.optimizely.com"
        );
        assert_eq!(
            account(&profile("http://127.0.0.1:8080", "cid")),
            "cid@127.0.0.1:8080"
        );
        // The same client on the same host is one entry, whatever the path.
        assert_eq!(
            account(&profile("https://a.example/cms", "c")),
            account(&profile("https://a.example", "c"))
        );
    }

    #[test]
    fn set_get_and_delete_round_trip() {
        let (keychain, _) = mock();
        assert!(keychain.get("cid@host").unwrap().is_none());

        keychain.set("cid@host", &SecretString::from("s1")).unwrap();
        keychain.set("cid@host", &SecretString::from("s2")).unwrap();
        assert_eq!(
            keychain.get("cid@host").unwrap().unwrap().expose_secret(),
            "s2"
        );
        assert!(keychain.get("other@host").unwrap().is_none());

        assert!(keychain.delete("cid@host").unwrap());
        assert!(!keychain.delete("cid@host").unwrap());
        assert!(keychain.get("cid@host").unwrap().is_none());
    }

    #[test]
    fn store_errors_become_unavailable_with_a_reason() {
        let (keychain, store) = mock();
        keychain.set("cid@host", &SecretString::from("s")).unwrap();

        let entry = Entry::new_in_store(&store, SERVICE, "cid@host").unwrap();
        let cred: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        cred.set_error(keyring_core::Error::NoStorageAccess(
            "collection is locked".into(),
        ));
        let err = keychain.get("cid@host").unwrap_err();
        assert!(
            err.0.contains("locked") && err.0.contains("collection is locked"),
            "{}",
            err.0
        );

        // The error is consumed; the secret is still there.
        assert_eq!(
            keychain.get("cid@host").unwrap().unwrap().expose_secret(),
            "s"
        );
    }

    #[test]
    fn a_bad_encoding_error_does_not_show_the_bytes() {
        let (keychain, store) = mock();
        keychain.set("cid@host", &SecretString::from("s")).unwrap();
        let entry = Entry::new_in_store(&store, SERVICE, "cid@host").unwrap();
        let cred: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        cred.set_error(keyring_core::Error::BadEncoding(b"hunter2\xff".to_vec()));
        let err = keychain.get("cid@host").unwrap_err();
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }

    #[test]
    fn a_call_that_does_not_answer_is_cut_off() {
        let (keychain, _) = mock();
        let keychain = Keychain {
            timeout: Duration::from_millis(100),
            ..keychain
        };
        let started = std::time::Instant::now();
        let err = keychain
            .call(|_| {
                std::thread::sleep(Duration::from_secs(30));
                Ok(())
            })
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(err.0.contains("did not answer within 100ms"), "{}", err.0);
    }

    #[test]
    fn the_source_describes_the_entry() {
        let (keychain, _) = mock();
        let source = KeychainSource(keychain);
        let p = profile("https://a.example", "cid");
        assert_eq!(
            source.describe(&p),
            "the OS keychain (service `opti-cred`, account `cid@a.example`)"
        );
        assert!(source.get(&p).unwrap().is_none());
    }
}
