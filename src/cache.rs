//! The on-disk token cache: one small JSON file per (token URL, client id).
//!
//! Reading the cache is the hot path of `opti-cred token`, so it does as
//! little as it can: open one file, parse it, compare two timestamps. Any
//! problem with an entry (missing, unreadable, not JSON, an old schema, or
//! written for another endpoint or client) makes it a miss, never an error:
//! a broken cache costs one fetch, not an outage.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::fsutil;

/// Bumped when the entry format changes; entries of another version are
/// misses.
const FORMAT_VERSION: u32 = 1;

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
}

impl CachedToken {
    /// Whole seconds of validity left at `now` (negative once expired).
    pub fn seconds_left(&self, now: DateTime<Utc>) -> i64 {
        (self.expires_at - now).num_seconds()
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
        };
        let bytes = Zeroizing::new(
            serde_json::to_vec(&entry).expect("an entry of strings and dates serializes"),
        );
        fsutil::write_private(&path, &bytes)?;
        Ok(path)
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
    })
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
            "{\"version\":1}".to_string(),
            good.replace("\"version\":1", "\"version\":99"),
            good.replace("\"tok\"", "\"\""),
            " ".repeat(MAX_ENTRY_BYTES as usize + 1),
        ];
        for content in broken {
            std::fs::write(&path, &content).unwrap();
            assert!(cache.read(KEY).is_none(), "served {content:.60}");
        }
    }
}
