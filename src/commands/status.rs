//! `opti-cred status [PROFILE]`: where each profile stands: its CMS URL and
//! client id, where its secret would come from (never the secret), and how
//! long its cached token has left. A table for people, `--json` for scripts.

use std::fmt::Write as _;

use chrono::Utc;
use serde::Serialize;

use crate::cache::TokenCache;
use crate::cli::StatusArgs;
use crate::commands::token::cache_key;
use crate::config::{Config, Profile};
use crate::error::Result;
use crate::output;
use crate::paths::Paths;
use crate::secret::{self, SourceReport, SourceState};

#[derive(Serialize)]
struct Row {
    profile: String,
    default: bool,
    cms_url: String,
    client_id: String,
    token_url: String,
    secret: SecretStatus,
    token: TokenStatus,
}

#[derive(Serialize)]
struct SecretStatus {
    /// `environment`, `keychain`, or `null` when no place has one.
    source: Option<&'static str>,
    /// The place, as messages name it.
    place: Option<String>,
    /// Places that could not be asked, with why.
    unavailable: Vec<String>,
}

#[derive(Serialize)]
struct TokenStatus {
    /// `valid`, `expired` or `none`.
    state: &'static str,
    expires_at: Option<String>,
    expires_in: Option<i64>,
    /// For the table: "valid for 4m 10s", "expired", "none cached".
    #[serde(skip)]
    life: String,
}

pub fn run(paths: &Paths, args: &StatusArgs) -> Result<()> {
    let config = Config::load(&paths.config_file)?;
    let profiles: Vec<Profile> = match &args.profile {
        Some(name) => vec![config.profile(name)?],
        None => config
            .profiles
            .keys()
            .map(|name| config.profile(name))
            .collect::<Result<_>>()?,
    };
    let cache = TokenCache::new(paths.cache_dir()?);
    let sources = secret::default_sources()?;
    let rows: Vec<Row> = profiles
        .iter()
        .map(|p| row(&config, p, &secret::survey(&sources, p), &cache))
        .collect();

    if args.json {
        let mut text = serde_json::to_string_pretty(&rows).expect("rows serialize");
        text.push('\n');
        return output::print(&text);
    }
    if rows.is_empty() {
        output::note(&format!(
            "no profiles in `{}`; create one with `opti-cred login`",
            paths.config_file.display()
        ));
        return Ok(());
    }
    output::print(&table(&rows))
}

fn row(config: &Config, profile: &Profile, survey: &[SourceReport], cache: &TokenCache) -> Row {
    let found = survey.iter().find(|r| r.state == SourceState::HasSecret);
    let unavailable = survey
        .iter()
        .filter_map(|r| match &r.state {
            SourceState::Unavailable(why) => Some(format!("{}: {why}", r.place)),
            _ => None,
        })
        .collect();

    let now = Utc::now();
    let token = match cache.read(cache_key(profile)) {
        None => TokenStatus {
            state: "none",
            expires_at: None,
            expires_in: None,
            life: "none cached".to_string(),
        },
        Some(t) => TokenStatus {
            state: if t.seconds_left(now) > 0 {
                "valid"
            } else {
                "expired"
            },
            expires_at: Some(
                t.expires_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            expires_in: Some(t.seconds_left(now).max(0)),
            life: t.describe_life(now),
        },
    };

    Row {
        profile: profile.name.clone(),
        default: config.default_profile.as_deref() == Some(profile.name.as_str()),
        cms_url: profile.cms_url.as_str().trim_end_matches('/').to_string(),
        client_id: profile.client_id.clone(),
        token_url: profile.token_url.to_string(),
        secret: SecretStatus {
            source: found.map(|r| r.kind),
            place: found.map(|r| r.place.clone()),
            unavailable,
        },
        token,
    }
}

fn table(rows: &[Row]) -> String {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let name = format!("{}{}", if r.default { "* " } else { "  " }, r.profile);
            let secret = match (&r.secret.source, r.secret.unavailable.is_empty()) {
                (Some(kind), _) => kind.to_string(),
                (None, true) => "missing".to_string(),
                (None, false) => "missing (keychain unavailable)".to_string(),
            };
            [
                name,
                r.cms_url.clone(),
                r.client_id.clone(),
                secret,
                r.token.life.clone(),
            ]
        })
        .collect();

    let header = ["  PROFILE", "CMS URL", "CLIENT ID", "SECRET", "TOKEN"].map(str::to_string);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&cells) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
