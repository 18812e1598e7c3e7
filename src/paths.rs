//! Where the config file and the token cache live.
//!
//! The config file is `config.toml` in the platform's config directory
//! (`~/.config/opti-cred` on Linux), unless `--config` or `OPTI_CRED_CONFIG`
//! names another. The cache is the platform's cache directory
//! (`~/.cache/opti-cred` on Linux), unless `OPTI_CRED_CACHE_DIR` names
//! another.

use std::path::PathBuf;

use directories::ProjectDirs;

use crate::error::{Error, Result};

/// Overrides the cache directory.
pub const CACHE_DIR_ENV: &str = "OPTI_CRED_CACHE_DIR";

#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
}

impl Paths {
    /// `config_file` is the `--config`/`OPTI_CRED_CONFIG` override, if any.
    pub fn new(config_file: Option<PathBuf>) -> Result<Paths> {
        let config_file = match config_file {
            Some(path) => path,
            None => project_dirs("config file", "OPTI_CRED_CONFIG")?
                .config_dir()
                .join("config.toml"),
        };
        Ok(Paths { config_file })
    }

    /// The token cache directory.
    pub fn cache_dir(&self) -> Result<PathBuf> {
        match std::env::var_os(CACHE_DIR_ENV) {
            Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
            _ => Ok(project_dirs("token cache", CACHE_DIR_ENV)?
                .cache_dir()
                .to_path_buf()),
        }
    }
}

fn project_dirs(what: &str, env: &str) -> Result<ProjectDirs> {
    ProjectDirs::from("", "", "opti-cred").ok_or_else(|| {
        Error::Usage(format!(
            "cannot find a home directory to keep the {what} in; set `{env}` to a path"
        ))
    })
}
