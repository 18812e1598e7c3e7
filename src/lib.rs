//! opti-cred: access tokens for Optimizely CMS API clients.
//!
//! The binary in `main.rs` parses arguments and calls [`run`]; everything
//! else lives here, one module per concept:
//!
//! - [`cli`]: the command line, with every command and option
//! - [`config`]: profiles in the TOML config file; [`paths`]: where it and
//!   the cache live
//! - [`endpoint`]: which token URL and API base a profile uses, and which
//!   URLs are allowed
//! - [`secret`]: where client secrets come from: the environment, then
//!   [`keychain`], the OS keychain
//! - [`fetch`]: asking the token endpoint for a token
//! - [`cache`]: the on-disk token cache
//! - [`gitcred`]: git's credential helper protocol
//! - [`commands`]: one module per subcommand
//! - [`error`]: every error and its exit code
//! - small helpers: [`fsutil`] (private files, atomic writes), [`output`]
//!   (stdout and notes), [`prompt`] (the terminal), [`progress`] (the
//!   spinner)

pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod fetch;
pub mod fsutil;
pub mod gitcred;
pub mod keychain;
pub mod output;
pub mod paths;
pub mod progress;
pub mod prompt;
pub mod secret;

pub use error::{Error, Result};

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> Result<()> {
    let paths = paths::Paths::new(cli.global.config)?;
    match cli.command {
        cli::Command::Token(args) => commands::token::run(&paths, &args),
        cli::Command::Exec(args) => commands::exec::run(&paths, args),
        cli::Command::Login(args) => commands::login::run(&paths, args),
        cli::Command::Logout(args) => commands::logout::run(&paths, &args),
        cli::Command::Profile(cmd) => commands::profile::run(&paths, cmd),
        cli::Command::Status(args) => commands::status::run(&paths, &args),
        cli::Command::Doctor(args) => commands::doctor::run(&paths, &args),
        cli::Command::Api(args) => commands::api::run(&paths, args),
        cli::Command::Completions { shell } => commands::help::completions(shell),
        cli::Command::Man => commands::help::man(),
        cli::Command::GitCredential(args) => commands::git_credential::run(&paths, &args),
    }
}
