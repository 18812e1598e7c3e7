//! The on-disk token cache: one small JSON file per (token URL, client id).
//!
//! Reading the cache is the hot path of `opti-cred token`, so it does as
//! little as it can: open one file, parse it, compare two timestamps. Any
//! problem with an entry (missing, unreadable, not JSON, an old schema,
//! written for another endpoint or client, readable by others or owned by
//! another user) makes it a miss, never an error: a broken cache costs one
//! fetch, not an outage.
//!
//! Beside each entry is a lock file. A process that misses takes the lock,
//! reads the entry again and fetches only if it is still missing, so that
//! many processes missing at once cause one request (see
//! [`TokenCache::lock`]).

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use hmac::{Hmac, Mac};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fsutil;

/// Bumped when the entry format changes; entries of another version are
/// misses.
const FORMAT_VERSION: u32 = 2;

/// Entries larger than this are not tokens we wrote.
const MAX_ENTRY_BYTES: u64 = 64 * 1024;

/// What a cache entry belongs to. Both parts are checked on read, so a file
/// copied or renamed into the wrong place is never served.
#[derive(Debug, Clone, Copy)]
pub struct CacheKey<'a> {
    pub token_url: &'a str,
    pub client_id: &'a str,
}

/// A token with its lifetime.
#[derive(Debug)]
pub struct CachedToken {
    pub access_token: SecretString,
    pub token_type: String,
    pub fetched_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// A keyed hash of the client secret the token was fetched with (see
    /// [`TokenCache::fingerprint`]), so that a token fetched with an old
    /// secret is not served once the secret has changed.
    pub secret_fingerprint: Option<String>,
}

impl CachedToken {
    /// Whole seconds of validity left at `now` (negative once expired).
    pub fn seconds_left(&self, now: DateTime<Utc>) -> i64 {
        (self.expires_at - now).num_seconds()
    }

    /// "valid for 4m 10s" or "expired", for people.
    pub fn describe_life(&self, now: DateTime<Utc>) -> String {
        let left = self.seconds_left(now);
        if left > 0 {
            let left = std::time::Duration::from_secs(left.unsigned_abs());
            format!("valid for {}", humantime::format_duration(left))
        } else {
            "expired".to_string()
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Entry<'a> {
    version: u32,
    // Borrowed where the JSON string has no escapes, so the token is not
    // copied more often than it must be.
    #[serde(borrow)]
    token_url: Cow<'a, str>,
    #[serde(borrow)]
    client_id: Cow<'a, str>,
    #[serde(borrow)]
    token_type: Cow<'a, str>,
    #[serde(borrow)]
    access_token: Cow<'a, str>,
    fetched_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    #[serde(borrow, default)]
    secret_fingerprint: Option<Cow<'a, str>>,
}

/// Why the lock of an entry could not be had.
#[derive(Debug)]
pub enum LockError {
    /// The lock file could not be created or locked: the cache directory is
    /// not writable, say. The caller goes on without the lock.
    Io(std::io::Error),
    /// Another process held the lock for longer than the wait allowed.
    TimedOut { path: PathBuf, waited: Duration },
}

/// An exclusive lock on one cache entry, released when dropped, or by the
/// operating system when the process ends, however it ends.
#[derive(Debug)]
pub struct EntryLock {
    _file: File,
}

/// The cache directory and the entries in it.
#[derive(Debug, Clone)]
pub struct TokenCache {
    dir: PathBuf,
}

impl TokenCache {
    /// A cache rooted at `dir`; entries live in `dir/tokens/`.
    pub fn new(dir: impl Into<PathBuf>) -> TokenCache {
        TokenCache { dir: dir.into() }
    }

    /// The file that holds the entry for `key`. Its name is a hash of the
    /// key, so nothing in the key (a URL, a client id) can shape a path.
    pub fn entry_path(&self, key: CacheKey<'_>) -> PathBuf {
        let mut hasher = Sha256::new();
        hasher.update(key.token_url.as_bytes());
        hasher.update([0]);
        hasher.update(key.client_id.as_bytes());
        let digest = hasher.finalize();
        let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join("tokens").join(format!("{name}.json"))
    }

    /// The cached token for `key`, or `None` for a miss of any kind.
    pub fn read(&self, key: CacheKey<'_>) -> Option<CachedToken> {
        let path = self.entry_path(key);
        match read_entry(&path, key) {
            Ok(token) => Some(token),
            Err(why) => {
                log::debug!("token cache miss: {why} (`{}`)", path.display());
                None
            }
        }
    }

    /// Stores `token` for `key`, replacing any entry atomically.
    pub fn write(&self, key: CacheKey<'_>, token: &CachedToken) -> Result<PathBuf> {
        let path = self.entry_path(key);
        let entry = Entry {
            version: FORMAT_VERSION,
            token_url: Cow::Borrowed(key.token_url),
            client_id: Cow::Borrowed(key.client_id),
            token_type: Cow::Borrowed(&token.token_type),
            access_token: Cow::Borrowed(token.access_token.expose_secret()),
            fetched_at: token.fetched_at,
            expires_at: token.expires_at,
            secret_fingerprint: token.secret_fingerprint.as_deref().map(Cow::Borrowed),
        };
        let bytes = Zeroizing::new(
            serde_json::to_vec(&entry).expect("an entry of strings and dates serializes"),
        );
        fsutil::write_private(&path, &bytes)?;
        Ok(path)
    }

    /// The lock file of `key`'s entry.
    pub fn lock_path(&self, key: CacheKey<'_>) -> PathBuf {
        self.entry_path(key).with_extension("lock")
    }

    /// Takes the exclusive lock of `key`'s entry, waiting at most `wait` for
    /// another process to release it.
    ///
    /// The lock is `flock`-style (`File::lock`): the kernel releases it when
    /// the holder exits or is killed, so a crashed process never leaves a
    /// stale lock behind. Lock files are left in place; removing one while
    /// another process waits on it would let a third take a different lock.
    pub fn lock(&self, key: CacheKey<'_>, wait: Duration) -> Result<EntryLock, LockError> {
        let path = self.lock_path(key);
        if let Some(dir) = path.parent() {
            fsutil::create_private_dir(dir).map_err(|e| match e {
                Error::Io { source, .. } => LockError::Io(source),
                other => LockError::Io(std::io::Error::other(other.to_string())),
            })?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(LockError::Io)?;

        match file.try_lock() {
            Ok(()) => return Ok(EntryLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }

        // Someone else is fetching. A blocking lock wakes the moment they
        // are done; it runs on a helper thread so that the wait is bounded.
        log::debug!(
            "waiting for another opti-cred process (lock `{}`)",
            path.display()
        );
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let result = file.lock().map(|()| file);
            let _ = send.send(result);
        });
        match receive.recv_timeout(wait) {
            Ok(Ok(file)) => Ok(EntryLock { _file: file }),
            Ok(Err(e)) => Err(LockError::Io(e)),
            Err(_) => Err(LockError::TimedOut { path, waited: wait }),
        }
    }

    /// A keyed hash (HMAC-SHA-256) of `secret`, never the secret itself. The
    /// key is random, made once per cache directory and kept beside the
    /// entries (0600), so the hash cannot be checked against guesses by
    /// anyone who cannot read the cache anyway. `None` when the key cannot
    /// be read or made.
    pub fn fingerprint(&self, secret: &SecretString, create_key: bool) -> Option<String> {
        let key = self.fingerprint_key(create_key)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_slice()).expect("HMAC takes any key");
        mac.update(secret.expose_secret().as_bytes());
        let digest = mac.finalize().into_bytes();
        Some(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
    }

    fn fingerprint_key(&self, create: bool) -> Option<Zeroizing<Vec<u8>>> {
        let path = self.dir.join("fingerprint.key");
        if let Ok(key) = std::fs::read(&path).map(Zeroizing::new)
            && key.len() == 32
        {
            return Some(key);
        }
        if !create {
            return None;
        }
        let mut key = Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(&mut key).ok()?;
        // Two processes may race to make the key: the second rename wins,
        // and a token cached under the first key is merely a miss later.
        fsutil::write_private(&path, &key).ok()?;
        Some(key)
    }

    /// Deletes the entry for `key`; true if there was one.
    pub fn remove(&self, key: CacheKey<'_>) -> Result<bool> {
        let path = self.entry_path(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("cannot remove cached token", path, e)),
        }
    }
}

/// Reads and checks one entry; the error says why it is a miss.
fn read_entry(path: &Path, key: CacheKey<'_>) -> Result<CachedToken, String> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no entry".to_string(),
        _ => format!("cannot open entry: {e}"),
    })?;
    check_trusted(&file)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(1024));
    file.take(MAX_ENTRY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read entry: {e}"))?;
    if bytes.len() as u64 > MAX_ENTRY_BYTES {
        return Err("entry is too large".into());
    }

    let entry: Entry<'_> =
        serde_json::from_slice(&bytes).map_err(|e| format!("entry is not valid: {e}"))?;
    if entry.version != FORMAT_VERSION {
        return Err(format!("entry has format version {}", entry.version));
    }
    if entry.token_url != key.token_url || entry.client_id != key.client_id {
        return Err("entry belongs to another token URL or client id".into());
    }
    if entry.access_token.is_empty() || entry.expires_at <= entry.fetched_at {
        return Err("entry holds no usable token".into());
    }
    Ok(CachedToken {
        access_token: SecretString::from(entry.access_token.as_ref()),
        token_type: entry.token_type.to_string(),
        fetched_at: entry.fetched_at,
        expires_at: entry.expires_at,
        secret_fingerprint: entry.secret_fingerprint.map(Cow::into_owned),
    })
}

/// An entry others could have written or read is not trusted: it may not
/// be the token we stored, and the token in it may be known to others.
#[cfg(unix)]
fn check_trusted(file: &File) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot inspect entry: {e}"))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    trusted(meta.uid(), meta.mode(), me)
}

/// The rule behind [`check_trusted`]: owned by `me`, no permission bits for
/// group or others.
#[cfg(unix)]
fn trusted(owner: u32, mode: u32, me: u32) -> Result<(), String> {
    if owner != me {
        return Err(format!("entry belongs to user id {owner}, not to us"));
    }
    if mode & 0o077 != 0 {
        return Err(format!("entry has mode {:o}, open to others", mode & 0o777));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_trusted(_file: &File) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    const KEY: CacheKey<'static> = CacheKey {
        token_url: "https://a.example/_cms/preview2/oauth/token",
        client_id: "client-a",
    };

    fn token(value: &str) -> CachedToken {
        let now = Utc::now();
        CachedToken {
            access_token: SecretString::from(value),
            token_type: "Bearer".into(),
            fetched_at: now,
            expires_at: now + TimeDelta::seconds(300),
            secret_fingerprint: None,
        }
    }

    #[test]
    fn a_written_entry_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        assert!(cache.read(KEY).is_none());

        cache.write(KEY, &token("tok-1")).unwrap();
        let got = cache.read(KEY).unwrap();
        assert_eq!(got.access_token.expose_secret(), "tok-1");
        assert_eq!(got.token_type, "Bearer");
        assert!((295..=300).contains(&got.seconds_left(Utc::now())));

        assert!(cache.remove(KEY).unwrap());
        assert!(!cache.remove(KEY).unwrap());
        assert!(cache.read(KEY).is_none());
    }

    #[test]
    fn keys_map_to_distinct_files() {
        let cache = TokenCache::new("/c");
        let other_client = CacheKey {
            client_id: "client-b",
            ..KEY
        };
        let other_url = CacheKey {
            token_url: "https://b.example/oauth/token",
            ..KEY
        };
        let a = cache.entry_path(KEY);
        assert_ne!(a, cache.entry_path(other_client));
        assert_ne!(a, cache.entry_path(other_url));
        assert!(a.starts_with("/c/tokens"));
    }

    #[test]
    fn an_entry_under_the_wrong_key_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        let other = CacheKey {
            client_id: "client-b",
            ..KEY
        };
        cache.write(KEY, &token("tok-a")).unwrap();
        std::fs::copy(cache.entry_path(KEY), cache.entry_path(other)).unwrap();
        assert!(cache.read(other).is_none());
    }

    #[test]
    fn broken_entries_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        cache.write(KEY, &token("tok")).unwrap();
        let path = cache.entry_path(KEY);
        let good = std::fs::read_to_string(&path).unwrap();

        let broken = [
            String::new(),
            good[..good.len() / 2].to_string(),
            "not json".to_string(),
            format!("{{\"version\":{FORMAT_VERSION}}}"),
            good.replace(&format!("\"version\":{FORMAT_VERSION}"), "\"version\":99"),
            good.replace("\"tok\"", "\"\""),
            " ".repeat(MAX_ENTRY_BYTES as usize + 1),
        ];
        for content in broken {
            std::fs::write(&path, &content).unwrap();
            assert!(cache.read(KEY).is_none(), "served {content:.60}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_entry_open_to_others_is_a_miss() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        cache.write(KEY, &token("tok")).unwrap();
        let path = cache.entry_path(KEY);
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(cache.read(KEY).is_none(), "mode {mode:o} was trusted");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(cache.read(KEY).is_some());
    }

    #[cfg(unix)]
    #[test]
    fn only_private_entries_of_our_own_are_trusted() {
        assert!(trusted(1000, 0o100600, 1000).is_ok());
        assert!(trusted(1000, 0o100400, 1000).is_ok());
        let other_owner = trusted(0, 0o100600, 1000).unwrap_err();
        assert!(other_owner.contains("user id 0"), "{other_owner}");
        for mode in [0o100640, 0o100604, 0o100620, 0o100602, 0o100666] {
            assert!(trusted(1000, mode, 1000).is_err(), "{mode:o}");
        }
    }

    #[test]
    fn fingerprints_are_keyed_stable_and_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        let a = SecretString::from("secret-a");
        assert_eq!(cache.fingerprint(&a, false), None, "no key yet, none made");

        let fa = cache.fingerprint(&a, true).unwrap();
        assert_eq!(fa.len(), 32);
        assert!(!fa.contains("secret-a"));
        assert_eq!(cache.fingerprint(&a, false).as_ref(), Some(&fa));
        assert_ne!(
            cache
                .fingerprint(&SecretString::from("secret-b"), false)
                .unwrap(),
            fa
        );

        // Another cache directory has another key, so another fingerprint.
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            TokenCache::new(other.path()).fingerprint(&a, true).unwrap(),
            fa
        );
    }

    #[test]
    fn the_fingerprint_round_trips_through_an_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        let mut t = token("tok");
        t.secret_fingerprint = Some("0123abcd".into());
        cache.write(KEY, &t).unwrap();
        assert_eq!(
            cache.read(KEY).unwrap().secret_fingerprint.as_deref(),
            Some("0123abcd")
        );
    }

    #[test]
    fn a_held_lock_makes_others_wait_and_time_out() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        let held = cache.lock(KEY, Duration::from_secs(1)).unwrap();

        match cache.lock(KEY, Duration::from_millis(100)) {
            Err(LockError::TimedOut { path, .. }) => assert_eq!(path, cache.lock_path(KEY)),
            other => panic!("expected a time-out, got {other:?}"),
        }
        // Another entry's lock is independent.
        let other = CacheKey {
            client_id: "client-b",
            ..KEY
        };
        assert!(cache.lock(other, Duration::from_millis(100)).is_ok());

        drop(held);
        assert!(cache.lock(KEY, Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn a_waiter_gets_the_lock_when_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        let held = cache.lock(KEY, Duration::from_secs(1)).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
        });
        assert!(cache.lock(KEY, Duration::from_secs(10)).is_ok());
        releaser.join().unwrap();
    }

    #[test]
    fn an_unwritable_directory_is_a_lock_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let cache = TokenCache::new(&blocker);
        assert!(matches!(
            cache.lock(KEY, Duration::from_millis(100)),
            Err(LockError::Io(_))
        ));
    }
}
