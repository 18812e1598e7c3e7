//! `opti-cred profile add|list|show|remove|default`: manage profiles without
//! editing TOML by hand.

use std::fmt::Write as _;

use chrono::Utc;

use crate::cache::TokenCache;
use crate::cli::{ProfileAddArgs, ProfileCommand};
use crate::commands::token::cache_key;
use crate::config::{self, Config, ConfigEditor, ProfileConfig};
use crate::error::{Error, Result};
use crate::output;
use crate::paths::Paths;
use crate::secret::{self, SourceState};

pub fn run(paths: &Paths, cmd: ProfileCommand) -> Result<()> {
    match cmd {
        ProfileCommand::Add(args) => add(paths, args),
        ProfileCommand::List => list(paths),
        ProfileCommand::Show { name } => show(paths, name.as_deref()),
        ProfileCommand::Remove { name } => remove(paths, &name),
        ProfileCommand::Default { name } => set_default(paths, &name),
    }
}

fn add(paths: &Paths, args: ProfileAddArgs) -> Result<()> {
    config::validate_profile_name(&args.name).map_err(Error::Usage)?;
    let raw = ProfileConfig {
        cms_url: args.cms_url.trim().to_string(),
        client_id: args.client_id.trim().to_string(),
        token_url: args.token_url.map(|u| u.trim().to_string()),
        act_as: args.act_as,
        ..ProfileConfig::default()
    };
    // Check everything before writing anything.
    let profile = config::resolve_profile_in(&paths.config_file, &args.name, &raw)?;

    let (mut editor, config) = ConfigEditor::open(&paths.config_file)?;
    if config.profiles.contains_key(&args.name) && !args.replace {
        return Err(Error::Usage(format!(
            "profile `{}` already exists; pass `--replace` to overwrite it, \
             or choose another name",
            args.name
        )));
    }
    editor.set_profile(&args.name, &raw);
    let make_default = args.default || config.default_profile.is_none();
    if make_default {
        editor.set_default(Some(&args.name));
    }
    editor.save()?;

    output::note(&format!(
        "saved profile `{}` (token endpoint `{}`){} in `{}`",
        args.name,
        profile.token_url,
        if make_default { " as the default" } else { "" },
        paths.config_file.display()
    ));
    Ok(())
}

fn list(paths: &Paths) -> Result<()> {
    let config = Config::load(&paths.config_file)?;
    if config.profiles.is_empty() {
        output::note(&format!(
            "no profiles in `{}`; create one with `opti-cred profile add`",
            paths.config_file.display()
        ));
        return Ok(());
    }

    let width = config.profiles.keys().map(String::len).max().unwrap_or(0);
    let mut text = String::new();
    for (name, raw) in &config.profiles {
        let mark = if config.default_profile.as_deref() == Some(name) {
            '*'
        } else {
            ' '
        };
        let _ = writeln!(
            text,
            "{mark} {name:width$}  {}  {}",
            raw.cms_url, raw.client_id
        );
    }
    output::print(&text)
}

fn show(paths: &Paths, name: Option<&str>) -> Result<()> {
    let config = Config::load(&paths.config_file)?;
    let profile = config.resolve(name)?;
    let is_default = config.default_profile.as_deref() == Some(profile.name.as_str());

    let mut text = String::new();
    let _ = writeln!(
        text,
        "profile:     {}{}",
        profile.name,
        if is_default { " (default)" } else { "" }
    );
    let _ = writeln!(text, "cms_url:     {}", profile.cms_url);
    let _ = writeln!(text, "client_id:   {}", profile.client_id);
    let _ = writeln!(
        text,
        "token_url:   {}{}",
        profile.token_url,
        if profile.token_url_is_explicit {
            ""
        } else {
            " (derived from cms_url)"
        }
    );
    if let Some(act_as) = &profile.act_as {
        let _ = writeln!(text, "act_as:      {act_as}");
    }

    // Every source is asked, so that the listing shows the whole lookup
    // order; only its first match would be used.
    let survey = secret::survey(&secret::default_sources()?, &profile);
    let mut order = String::new();
    for (i, report) in survey.iter().enumerate() {
        let state = match &report.state {
            SourceState::HasSecret => "has a secret".to_string(),
            SourceState::NoSecret => "no secret".to_string(),
            SourceState::Unavailable(why) => format!("unavailable: {why}"),
        };
        let _ = writeln!(order, "  {}. {}: {state}", i + 1, report.place);
    }
    let secret_line = match survey.iter().find(|r| r.state == SourceState::HasSecret) {
        Some(report) => format!("from {}", report.place),
        None => format!(
            "not found; run `opti-cred login --profile {}` or set `{}`",
            profile.name,
            secret::SECRET_ENV_VARS[0]
        ),
    };
    let _ = writeln!(text, "secret:      {secret_line}");
    let _ = write!(text, "lookup order:\n{order}");

    let cache = TokenCache::new(paths.cache_dir()?);
    let now = Utc::now();
    let token_line = match cache.read(cache_key(&profile)) {
        None => "none cached".to_string(),
        Some(t) if t.seconds_left(now) > 0 => format!(
            "{} (until {})",
            t.describe_life(now),
            t.expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        Some(t) => t.describe_life(now),
    };
    let _ = writeln!(text, "token:       {token_line}");
    output::print(&text)
}

fn remove(paths: &Paths, name: &str) -> Result<()> {
    let (mut editor, config) = ConfigEditor::open(&paths.config_file)?;
    if !editor.remove_profile(name) {
        return Err(config.unknown_profile(name));
    }
    let was_default = config.default_profile.as_deref() == Some(name);
    if was_default {
        editor.set_default(None);
    }
    editor.save()?;
    output::note(&format!(
        "removed profile `{name}`{}",
        if was_default {
            "; there is no default profile now"
        } else {
            ""
        }
    ));
    Ok(())
}

fn set_default(paths: &Paths, name: &str) -> Result<()> {
    let (mut editor, config) = ConfigEditor::open(&paths.config_file)?;
    if !config.profiles.contains_key(name) {
        return Err(config.unknown_profile(name));
    }
    editor.set_default(Some(name));
    editor.save()?;
    output::note(&format!("`{name}` is now the default profile"));
    Ok(())
}
