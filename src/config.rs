//! Profiles: the TOML config file that names CMS instances and API clients.
//!
//! ```toml
//! default_profile = "prod"
//!
//! [profiles.prod]
//! cms_url = "https://app-xxxx.cms.optimizely.com"
//! client_id = "my-api-client"
//! # token_url = "https://app-xxxx.cms.optimizely.com/_cms/v1/oauth/token"
//! # act_as = "editor@example.com"
//! # connect_timeout = "10s"
//! # timeout = "30s"
//! # ca_cert = "corporate-proxy-ca.pem"
//! ```
//!
//! Reading is strict: unknown keys are errors, so that a misspelt `token_url`
//! can never send a secret somewhere unexpected. Writing goes through
//! `toml_edit`, which keeps the user's comments and layout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::cli::parse_duration;
use crate::endpoint;
use crate::error::{Error, KnownProfiles, Result};
use crate::fetch::NetworkSettings;

/// The config file as written, after its structure has been checked.
#[derive(Debug, Default)]
pub struct Config {
    pub path: PathBuf,
    pub default_profile: Option<String>,
    pub profiles: BTreeMap<String, ProfileConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    default_profile: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, ProfileConfig>,
}

/// One `[profiles.NAME]` table, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    pub cms_url: String,
    pub client_id: String,
    pub token_url: Option<String>,
    pub act_as: Option<String>,
    pub connect_timeout: Option<String>,
    pub timeout: Option<String>,
    pub ca_cert: Option<String>,
    pub api_base: Option<String>,
}

/// A profile resolved into what the program runs on: URLs parsed and
/// checked, the token URL derived.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub cms_url: Url,
    pub client_id: String,
    pub token_url: Url,
    /// Whether `token_url` was set in the config rather than derived.
    pub token_url_is_explicit: bool,
    pub act_as: Option<String>,
    pub network: NetworkSettings,
    /// Where `opti-cred api` sends requests; ends in `/`.
    pub api_base: Url,
}

impl Config {
    /// Reads the config at `path`. A missing file is an empty config.
    pub fn load(path: &Path) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config {
                    path: path.to_path_buf(),
                    ..Config::default()
                });
            }
            Err(e) => return Err(Error::io("cannot read config file", path, e)),
        };
        Config::parse(path, &text)
    }

    /// Parses config text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = line_column(text, e.span().map_or(0, |s| s.start));
            Error::ConfigSyntax {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;

        for name in raw.profiles.keys() {
            validate_profile_name(name)
                .map_err(|why| Error::Usage(format!("config file `{}`: {why}", path.display())))?;
        }
        Ok(Config {
            path: path.to_path_buf(),
            default_profile: raw.default_profile,
            profiles: raw.profiles,
        })
    }

    /// Resolves the profile to use: `requested` if given, else the default.
    pub fn resolve(&self, requested: Option<&str>) -> Result<Profile> {
        let name = match requested {
            Some(name) => name,
            None => self.default_profile.as_deref().ok_or(Error::NoProfile)?,
        };
        self.profile(name)
    }

    /// The error for a profile that is not in this config.
    pub fn unknown_profile(&self, name: &str) -> Error {
        Error::UnknownProfile {
            name: name.to_string(),
            known: KnownProfiles(self.profiles.keys().cloned().collect()),
        }
    }

    /// Resolves the profile called `name`.
    pub fn profile(&self, name: &str) -> Result<Profile> {
        let raw = self
            .profiles
            .get(name)
            .ok_or_else(|| self.unknown_profile(name))?;
        resolve_profile_in(&self.path, name, raw).map_err(|e| match e {
            Error::Usage(why) => Error::Usage(format!(
                "profile `{name}` in `{}`: {why}",
                self.path.display()
            )),
            other => other,
        })
    }
}

/// [`resolve_profile`] for a profile of the config file at `config_path`: a
/// relative `ca_cert` is taken relative to that file.
pub fn resolve_profile_in(config_path: &Path, name: &str, raw: &ProfileConfig) -> Result<Profile> {
    let mut profile = resolve_profile(name, raw)?;
    if let (Some(ca), Some(dir)) = (&profile.network.ca_cert, config_path.parent())
        && ca.is_relative()
    {
        profile.network.ca_cert = Some(dir.join(ca));
    }
    Ok(profile)
}

/// Checks a profile's settings and derives its token URL.
pub fn resolve_profile(name: &str, raw: &ProfileConfig) -> Result<Profile> {
    let cms_url = endpoint::parse_url("cms_url", &raw.cms_url)?;
    let explicit = raw
        .token_url
        .as_deref()
        .map(|u| endpoint::parse_url("token_url", u))
        .transpose()?;
    let api_base = raw
        .api_base
        .as_deref()
        .map(|u| endpoint::parse_url("api_base", u))
        .transpose()?;
    validate_client_id(&raw.client_id).map_err(Error::Usage)?;
    if let Some(act_as) = &raw.act_as
        && (act_as.trim().is_empty() || act_as.chars().any(char::is_control))
    {
        return Err(Error::Usage(
            "`act_as` must be a non-empty user name without control characters".into(),
        ));
    }

    let duration = |key: &str, value: &Option<String>, default: Duration| match value {
        None => Ok(default),
        Some(text) => match parse_duration(text) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(Error::Usage(format!("`{key}` must be longer than zero"))),
            Err(e) => Err(Error::Usage(format!("`{key}` = `{text}`: {e}"))),
        },
    };
    let defaults = NetworkSettings::default();
    let network = NetworkSettings {
        connect_timeout: duration(
            "connect_timeout",
            &raw.connect_timeout,
            defaults.connect_timeout,
        )?,
        timeout: duration("timeout", &raw.timeout, defaults.timeout)?,
        ca_cert: raw.ca_cert.as_ref().map(PathBuf::from),
    };

    Ok(Profile {
        name: name.to_string(),
        token_url: endpoint::token_url(&cms_url, explicit.as_ref()),
        api_base: endpoint::api_base(&cms_url, api_base.as_ref()),
        token_url_is_explicit: explicit.is_some(),
        cms_url,
        client_id: raw.client_id.clone(),
        act_as: raw.act_as.clone(),
        network,
    })
}

/// Profile names are 1 to 64 ASCII letters, digits, `-` and `_`, starting
/// with a letter or digit, so that a name is safe anywhere: in a file name,
/// an environment variable suffix, a keychain entry.
pub fn validate_profile_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid profile name `{}`: use 1 to 64 letters, digits, `-` or `_`, \
             starting with a letter or digit",
            name.escape_debug()
        ))
    }
}

fn validate_client_id(id: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        return Err("`client_id` is empty; copy it from the API client in the CMS".into());
    }
    if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("`client_id` contains white space or control characters".into());
    }
    Ok(())
}

/// One-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Edits the config file in place, keeping comments and formatting.
pub struct ConfigEditor {
    path: PathBuf,
    doc: toml_edit::DocumentMut,
}

impl ConfigEditor {
    /// Opens the config for editing. The current content must be valid (the
    /// same checks as [`Config::load`]), so an edit never builds on a
    /// malformed file.
    pub fn open(path: &Path) -> Result<(ConfigEditor, Config)> {
        let config = Config::load(path)?;
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io("cannot read config file", path, e)),
        };
        let doc = text
            .parse::<toml_edit::DocumentMut>()
            .map_err(|e| Error::Usage(format!("config file `{}`: {e}", path.display())))?;
        let editor = ConfigEditor {
            path: path.to_path_buf(),
            doc,
        };
        Ok((editor, config))
    }

    /// Writes `[profiles.NAME]`, replacing any table of that name.
    pub fn set_profile(&mut self, name: &str, profile: &ProfileConfig) {
        let profiles = self
            .doc
            .entry("profiles")
            .or_insert_with(|| {
                let mut t = toml_edit::Table::new();
                t.set_implicit(true);
                toml_edit::Item::Table(t)
            })
            .as_table_mut()
            .expect("`profiles` is a table in a config that passed validation");

        let mut table = toml_edit::Table::new();
        table["cms_url"] = toml_edit::value(&profile.cms_url);
        table["client_id"] = toml_edit::value(&profile.client_id);
        let optional = [
            ("token_url", &profile.token_url),
            ("act_as", &profile.act_as),
            ("connect_timeout", &profile.connect_timeout),
            ("timeout", &profile.timeout),
            ("ca_cert", &profile.ca_cert),
            ("api_base", &profile.api_base),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                table[key] = toml_edit::value(value);
            }
        }
        profiles.insert(name, toml_edit::Item::Table(table));
    }

    /// Removes `[profiles.NAME]`; true if it was there.
    pub fn remove_profile(&mut self, name: &str) -> bool {
        self.doc
            .get_mut("profiles")
            .and_then(|p| p.as_table_mut())
            .is_some_and(|p| p.remove(name).is_some())
    }

    /// Sets or clears `default_profile`.
    pub fn set_default(&mut self, name: Option<&str>) {
        match name {
            Some(name) => {
                // Keep the key at the top, before the first table, where a
                // reader looks for it.
                self.doc["default_profile"] = toml_edit::value(name);
            }
            None => {
                self.doc.remove("default_profile");
            }
        }
    }

    /// Writes the file atomically.
    pub fn save(&self) -> Result<()> {
        crate::fsutil::write_private(&self.path, self.doc.to_string().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("/cfg/config.toml"), text)
    }

    #[test]
    fn an_empty_file_has_no_profiles() {
        let config = parse("").unwrap();
        assert!(config.profiles.is_empty());
        assert!(matches!(config.resolve(None), Err(Error::NoProfile)));
    }

    #[test]
    fn resolves_the_default_profile_and_derives_its_token_url() {
        let config = parse(
            r#"
default_profile = "prod"
[profiles.prod]
cms_url = "https://app-abcd.cms.optimizely.com"
client_id = "client-1"
act_as = "editor@example.com"
"#,
        )
        .unwrap();
        let p = config.resolve(None).unwrap();
        assert_eq!(p.name, "prod");
        assert_eq!(p.client_id, "client-1");
        assert_eq!(p.act_as.as_deref(), Some("editor@example.com"));
        assert_eq!(
            p.token_url.as_str(),
            "https://app-abcd.cms.optimizely.com/_cms/preview2/oauth/token"
        );
        assert!(!p.token_url_is_explicit);
    }

    #[test]
    fn syntax_errors_name_the_file_line_and_column() {
        let err = parse("default_profile = \"a\"\n[profiles.a]\ncms_url = = 1\n").unwrap_err();
        match err {
            Error::ConfigSyntax {
                path, line, column, ..
            } => {
                assert_eq!(path, Path::new("/cfg/config.toml"));
                assert_eq!(line, 3);
                assert!(column >= 10, "column {column}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_keys_are_errors_with_a_location() {
        let err =
            parse("[profiles.a]\ncms_url = \"https://x\"\nclient_id = \"c\"\ntokenurl = \"y\"\n")
                .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("tokenurl"), "{msg}");
        assert!(msg.contains("line 4"), "{msg}");

        let err = parse("colour = \"blue\"\n").unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn unknown_profiles_list_the_known_ones() {
        let config = parse(
            "[profiles.prod]\ncms_url = \"https://a\"\nclient_id = \"c\"\n\
             [profiles.test]\ncms_url = \"https://b\"\nclient_id = \"d\"\n",
        )
        .unwrap();
        let msg = config.resolve(Some("stage")).unwrap_err().to_string();
        assert!(msg.contains("`stage`"), "{msg}");
        assert!(msg.contains("`prod`, `test`"), "{msg}");
    }

    #[test]
    fn profile_names_are_restricted() {
        for ok in ["prod", "Prod-2", "a_b", "9"] {
            assert!(validate_profile_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            "../x",
            "a/b",
            ".hidden",
            "-x",
            "a b",
            "prød",
            long.as_str(),
        ] {
            assert!(validate_profile_name(bad).is_err(), "{bad}");
        }
        let err = parse("[profiles.\"../etc\"]\ncms_url = \"https://a\"\nclient_id = \"c\"\n")
            .unwrap_err();
        assert!(err.to_string().contains("invalid profile name"), "{err}");
    }

    #[test]
    fn bad_settings_name_the_profile() {
        let config =
            parse("[profiles.p]\ncms_url = \"http://example.com\"\nclient_id = \"c\"\n").unwrap();
        let msg = config.profile("p").unwrap_err().to_string();
        assert!(
            msg.contains("profile `p`") && msg.contains("plain http"),
            "{msg}"
        );

        let config = parse("[profiles.p]\ncms_url = \"https://a\"\nclient_id = \" \"\n").unwrap();
        let msg = config.profile("p").unwrap_err().to_string();
        assert!(msg.contains("`client_id` is empty"), "{msg}");
    }

    #[test]
    fn network_settings_have_defaults_and_can_be_set() {
        let config = parse(
            "[profiles.a]\ncms_url = \"https://a\"\nclient_id = \"c\"\n\
             [profiles.b]\ncms_url = \"https://b\"\nclient_id = \"c\"\n\
             connect_timeout = \"2s\"\ntimeout = \"1m\"\nca_cert = \"certs/ca.pem\"\n",
        )
        .unwrap();
        assert_eq!(
            config.profile("a").unwrap().network,
            NetworkSettings::default()
        );
        let b = config.profile("b").unwrap().network;
        assert_eq!(b.connect_timeout, Duration::from_secs(2));
        assert_eq!(b.timeout, Duration::from_secs(60));
        assert_eq!(b.ca_cert, Some(PathBuf::from("/cfg/certs/ca.pem")));

        for bad in ["timeout = \"soon\"", "connect_timeout = \"0s\""] {
            let config = parse(&format!(
                "[profiles.x]\ncms_url = \"https://a\"\nclient_id = \"c\"\n{bad}\n"
            ))
            .unwrap();
            let msg = config.profile("x").unwrap_err().to_string();
            assert!(
                msg.contains("profile `x`") && msg.contains("timeout"),
                "{bad}: {msg}"
            );
        }
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("abc\ndé", 7), (2, 3));
        // An offset inside a character counts as that character.
        assert_eq!(line_column("abc\ndé", 6), (2, 2));
    }

    #[test]
    fn editing_keeps_comments_and_other_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "# my profiles\n[profiles.keep]\ncms_url = \"https://a\" # the old one\nclient_id = \"k\"\n",
        )
        .unwrap();

        let (mut editor, _) = ConfigEditor::open(&path).unwrap();
        editor.set_profile(
            "new",
            &ProfileConfig {
                cms_url: "https://b".into(),
                client_id: "n".into(),
                timeout: Some("5s".into()),
                ..ProfileConfig::default()
            },
        );
        editor.set_default(Some("new"));
        editor.save().unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("# my profiles") && text.contains("# the old one"),
            "{text}"
        );
        let config = Config::load(&path).unwrap();
        assert_eq!(config.default_profile.as_deref(), Some("new"));
        assert_eq!(config.profiles.len(), 2);

        let (mut editor, _) = ConfigEditor::open(&path).unwrap();
        assert!(editor.remove_profile("keep"));
        assert!(!editor.remove_profile("keep"));
        editor.save().unwrap();
        assert_eq!(Config::load(&path).unwrap().profiles.len(), 1);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Pieces of config files, so that generated input reaches past the
        /// TOML syntax check into the structure and name checks.
        fn fragment() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("[profiles.p]\n".to_string()),
                Just("[profiles.\"../x\"]\n".to_string()),
                Just("default_profile = \"p\"\n".to_string()),
                Just("cms_url = \"https://a.example\"\n".to_string()),
                Just("client_id = \"c\"\n".to_string()),
                Just("timeout = \"5s\"\n".to_string()),
                Just("[profiles]\n".to_string()),
                "[a-z_]{1,12} = \"[ -~]{0,20}\"\n",
                "[ -~]{0,30}\n",
            ]
        }

        proptest! {
            #[test]
            fn parsing_any_text_never_panics(text in "\\PC{0,400}") {
                let _ = Config::parse(Path::new("/c.toml"), &text);
            }

            #[test]
            fn parsing_and_resolving_config_like_text_never_panics(
                parts in proptest::collection::vec(fragment(), 0..12)
            ) {
                let text = parts.concat();
                if let Ok(config) = Config::parse(Path::new("/c.toml"), &text) {
                    for name in config.profiles.keys() {
                        prop_assert!(validate_profile_name(name).is_ok());
                        let _ = config.profile(name);
                    }
                    let _ = config.resolve(None);
                }
            }

            #[test]
            fn error_locations_are_inside_the_text(text in "[ -~\n]{0,200}") {
                if let Err(Error::ConfigSyntax { line, column, .. }) =
                    Config::parse(Path::new("/c.toml"), &text)
                {
                    prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1);
                    prop_assert!(column >= 1);
                }
            }
        }
    }
}
