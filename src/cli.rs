//! The command-line interface: every command, flag and environment variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "opti-cred",
    version,
    about = "Access tokens for Optimizely CMS API clients: named profiles, cached tokens",
    after_help = "\
Examples:
  opti-cred login --profile prod --cms-url https://app-xxxx.cms.optimizely.com --client-id my-client
  opti-cred token prod

Exit codes: 0 ok, 1 unexpected failure, 2 usage or config error, 3 no client secret,
4 credentials rejected, 5 token endpoint unreachable or failing, 6 keychain unavailable,
7 timed out waiting for another opti-cred fetching the same token, 8 a doctor check
failed, 9 the CMS API answered with an error; exec: 126/127 as a shell, else the
command's own."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More diagnostics on stderr: -v for what happens, -vv for details.
    /// Secrets and tokens are never logged.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// The config file [default: the platform's config directory,
    /// ~/.config/opti-cred/config.toml on Linux]
    #[arg(long, env = "OPTI_CRED_CONFIG", value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
}

const TOKEN_ABOUT: &str =
    "Print an access token for a profile, from the cache when it is still valid.";
const TOKEN_HELP: &str = "\
Examples:
  opti-cred token prod --format header | curl -H @- https://app-xxxx.cms.optimizely.com/...
  opti-cred token prod --format curl-config | curl -K - https://app-xxxx.cms.optimizely.com/...
  eval \"$(opti-cred token prod --format env)\"
  opti-cred token prod --min-valid 2m --json

The header and curl-config forms keep the token out of curl's command line, where
every user of the machine could read it.";

/// `opti-cred token …` alone. Building the full command line definition
/// (every command, argument and help text) takes a good part of a cache
/// hit's time and memory, so `main` parses `token` with this definition,
/// which has the same options, help and errors for that command.
#[derive(Debug, Parser)]
#[command(name = "opti-cred", version)]
pub struct TokenCli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: TokenOnly,
}

#[derive(Debug, Subcommand)]
pub enum TokenOnly {
    #[command(about = TOKEN_ABOUT, after_help = TOKEN_HELP)]
    Token(TokenArgs),
}

impl From<TokenCli> for Cli {
    fn from(parsed: TokenCli) -> Cli {
        let TokenOnly::Token(args) = parsed.command;
        Cli {
            global: parsed.global,
            command: Command::Token(args),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(about = TOKEN_ABOUT, after_help = TOKEN_HELP)]
    Token(TokenArgs),

    /// Run a command with a profile's token in its environment
    /// (`OPTI_CRED_TOKEN`, `OPTI_CRED_TOKEN_EXPIRES_AT`, `OPTI_CRED_CMS_URL`).
    #[command(after_help = "\
Examples:
  opti-cred exec prod -- ./deploy-content.sh
  opti-cred exec prod -- sh -c 'curl -H \"Authorization: Bearer $OPTI_CRED_TOKEN\" \"$OPTI_CRED_CMS_URL/...\"'

The command replaces opti-cred: its input, output, signals and exit status are its own.")]
    Exec(ExecArgs),

    /// Store an API client's secret in the OS keychain and create or update
    /// its profile, after checking the credentials with the token endpoint.
    #[command(after_help = "\
Examples:
  opti-cred login --profile prod --cms-url https://app-xxxx.cms.optimizely.com --client-id my-client
  opti-cred login                                   # asks for whatever is missing
  printf '%s\\n' \"$SECRET\" | opti-cred login --profile ci --cms-url URL --client-id ID --client-secret-stdin

There is no flag that takes the secret itself: a command line is visible to every user
of the machine. On a terminal the secret is read without echo.")]
    Login(LoginArgs),

    /// Remove a profile's client secret from the OS keychain and its cached
    /// token. The profile stays unless `--forget` is given.
    #[command(after_help = "\
Examples:
  opti-cred logout prod
  opti-cred logout --all --forget")]
    Logout(LogoutArgs),

    /// Create, list, show and remove profiles.
    #[command(
        subcommand,
        after_help = "\
Examples:
  opti-cred profile add prod --cms-url https://app-xxxx.cms.optimizely.com --client-id my-client
  opti-cred profile list
  opti-cred profile show prod"
    )]
    Profile(ProfileCommand),

    /// Show each profile's CMS URL, client id, where its secret comes from
    /// and its cached token's remaining life. Never prints a secret.
    #[command(after_help = "\
Examples:
  opti-cred status
  opti-cred status prod --json")]
    Status(StatusArgs),

    /// Check the config, the cache directory, the keychain, the client
    /// secret, the token endpoint and the clock, each with what to do when
    /// it fails. Exits with 8 when a check fails.
    #[command(after_help = "\
Examples:
  opti-cred doctor
  opti-cred doctor prod --json")]
    Doctor(DoctorArgs),

    /// Call the CMS REST API with a profile's token: PATH is joined to the
    /// profile's API base; the answer's body goes to stdout.
    #[command(after_help = "\
Examples:
  opti-cred api prod contenttypes
  opti-cred api prod GET 'contenttypes?pageSize=5' -i
  opti-cred api prod POST contenttypes --data @article.json
  echo '{\"displayName\":\"News\"}' | opti-cred api prod PATCH contenttypes/news --data -

The API base is the instance's /_cms/preview2/ or the gateway's /preview3/ (the
profile's `api_base` overrides it). A 401 fetches a new token and tries once more.
A status other than 2xx is an error: exit code 9, the answer on stderr.")]
    Api(ApiArgs),

    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  opti-cred completions bash > ~/.local/share/bash-completion/completions/opti-cred
  opti-cred completions zsh > \"${fpath[1]}/_opti-cred\"
  opti-cred completions fish > ~/.config/fish/completions/opti-cred.fish
  opti-cred completions powershell >> $PROFILE")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },

    /// Print the manual page (roff), generated from this command line's
    /// definition.
    #[command(after_help = "\
Examples:
  opti-cred man > ~/.local/share/man/man1/opti-cred.1 && man opti-cred")]
    Man,

    /// Act as a git credential helper (get, store, erase), answering with a
    /// token for the profile whose CMS URL matches git's host.
    #[command(after_help = "\
Examples:
  printf 'protocol=https\\nhost=app-xxxx.cms.optimizely.com\\n\\n' | git credential fill

Set up, either of:
  ln -s \"$(command -v opti-cred)\" ~/.local/bin/git-credential-opti-cred
  git config --global credential.https://app-xxxx.cms.optimizely.com.helper opti-cred
or, without the link:
  git config --global credential.helper '!opti-cred git-credential'
  git config --global credential.helper '!opti-cred git-credential --profile prod'")]
    GitCredential(GitCredentialArgs),
}

#[derive(Debug, Args)]
pub struct GitCredentialArgs {
    /// Answer with this profile's token for any host, instead of matching
    /// the host to a profile's CMS URL.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// What git asks for: `get`, `store` or `erase` (others are ignored).
    pub operation: String,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this profile [default: all]
    pub profile: Option<String>,

    /// Print JSON for scripts instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The profile to check [default: `OPTI_CRED_PROFILE`, then
    /// `default_profile`]
    #[arg(env = "OPTI_CRED_PROFILE")]
    pub profile: Option<String>,

    /// Print JSON for scripts instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The profile whose token and API base to use.
    pub profile: String,

    /// `[METHOD] PATH`: the method (GET, or POST with `--data`) and the path
    /// below the API base.
    #[arg(num_args = 1..=2, required = true, value_name = "[METHOD] PATH")]
    pub request: Vec<String>,

    /// The request body: `@FILE`, `-` for standard input, or the text itself.
    #[arg(long, short = 'd', value_name = "DATA")]
    pub data: Option<String>,

    /// An extra request header, `Name: value`; may be repeated.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// Print the answer's status line and headers on stderr.
    #[arg(long, short = 'i')]
    pub include: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The profile to create or update [default: the default profile, else
    /// `default`]
    #[arg(long, short = 'p', value_name = "NAME")]
    pub profile: Option<String>,

    /// The CMS instance or API gateway URL (asked for when missing).
    #[arg(long, value_name = "URL")]
    pub cms_url: Option<String>,

    /// The API client's id (asked for when missing).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,

    /// The token endpoint, when it is not the one derived from the CMS URL.
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,

    /// Request tokens that act as this CMS user.
    #[arg(long, value_name = "USER")]
    pub act_as: Option<String>,

    /// Read the client secret from standard input (its first line), for CI
    /// and scripts that have no terminal.
    #[arg(long)]
    pub client_secret_stdin: bool,

    /// Save without asking the token endpoint whether the credentials work,
    /// for setting up offline.
    #[arg(long)]
    pub no_verify: bool,

    /// Make this the default profile (the first profile becomes the default
    /// anyway).
    #[arg(long)]
    pub default: bool,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The profile [default: `OPTI_CRED_PROFILE`, then `default_profile`]
    #[arg(env = "OPTI_CRED_PROFILE", conflicts_with = "all")]
    pub profile: Option<String>,

    /// Log out of every profile.
    #[arg(long)]
    pub all: bool,

    /// Also remove the profile from the config file.
    #[arg(long)]
    pub forget: bool,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The profile [default: `OPTI_CRED_PROFILE`, then the config's `default_profile`]
    #[arg(env = "OPTI_CRED_PROFILE")]
    pub profile: Option<String>,

    /// Only accept a cached token that stays valid at least this long (`90s`,
    /// `2m`, or seconds) [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub min_valid: Option<Duration>,

    /// How to print the token (see `--help` for each).
    #[arg(long, value_enum, default_value_t = TokenFormat::Raw)]
    pub format: TokenFormat,

    /// The same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

/// The shapes `opti-cred token` prints a token in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TokenFormat {
    /// The token and a newline.
    Raw,
    /// `{"access_token", "token_type", "expires_at", "expires_in"}`.
    Json,
    /// An `Authorization: Bearer ...` line, for `curl -H @-`.
    Header,
    /// A `header = "Authorization: Bearer ..."` line, for `curl -K -`.
    CurlConfig,
    /// `export` lines for `eval`: `OPTI_CRED_TOKEN`, `OPTI_CRED_TOKEN_EXPIRES_AT`.
    Env,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The profile [default: `OPTI_CRED_PROFILE`, then `default_profile`]
    #[arg(env = "OPTI_CRED_PROFILE")]
    pub profile: Option<String>,

    /// Hand over a token that stays valid at least this long [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub min_valid: Option<Duration>,

    /// Run even inside another `opti-cred exec` of a different profile.
    #[arg(long)]
    pub allow_nesting: bool,

    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Add a profile.
    #[command(after_help = "\
Examples:
  opti-cred profile add prod --cms-url https://app-xxxx.cms.optimizely.com --client-id my-client
  opti-cred profile add gateway --cms-url https://api.cms.optimizely.com --client-id my-client")]
    Add(ProfileAddArgs),

    /// List the profiles; the default one is marked with `*`.
    #[command(after_help = "\
Examples:
  opti-cred profile list
  opti-cred profile list | awk '{print $2}'    # the names")]
    List,

    /// Show a profile's settings, where its secret would come from, and its
    /// cached token's remaining life. Never prints a secret or a token.
    #[command(after_help = "\
Examples:
  opti-cred profile show prod
  OPTI_CRED_PROFILE=test opti-cred profile show")]
    Show {
        /// The profile [default: `OPTI_CRED_PROFILE`, then `default_profile`]
        #[arg(env = "OPTI_CRED_PROFILE")]
        name: Option<String>,
    },

    /// Remove a profile from the config file (its secret stays in the
    /// keychain; `opti-cred logout --forget` removes both).
    #[command(after_help = "\
Examples:
  opti-cred profile remove old-staging")]
    Remove {
        /// The profile to remove.
        name: String,
    },

    /// Make a profile the default.
    #[command(after_help = "\
Examples:
  opti-cred profile default prod")]
    Default {
        /// The profile to use when none is named.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct ProfileAddArgs {
    /// The profile's name: letters, digits, `-` and `_`.
    pub name: String,

    /// The CMS instance, e.g. https://app-xxxx.cms.optimizely.com, or the API
    /// gateway https://api.cms.optimizely.com
    #[arg(long, value_name = "URL")]
    pub cms_url: String,

    /// The API client's id, from the CMS's API clients settings.
    #[arg(long, value_name = "ID")]
    pub client_id: String,

    /// The token endpoint, when it is not the one derived from the CMS URL
    /// (e.g. https://app-xxxx.cms.optimizely.com/_cms/v1/oauth/token)
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,

    /// Request tokens that act as this CMS user.
    #[arg(long, value_name = "USER")]
    pub act_as: Option<String>,

    /// Make this the default profile (the first profile becomes the default
    /// anyway).
    #[arg(long)]
    pub default: bool,

    /// Replace a profile of the same name.
    #[arg(long)]
    pub replace: bool,
}

/// Parses `90s`, `2m`, `1m 30s` (humantime syntax) or a plain number of
/// seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}; expected a duration such as `90s`, `2m` or `1m 30s`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
        TokenCli::command().debug_assert();
    }

    #[test]
    fn the_token_only_definition_matches_the_full_one() {
        let full = Cli::command();
        let full = full.find_subcommand("token").unwrap();
        let small = TokenCli::command();
        let small = small.find_subcommand("token").unwrap();
        let describe = |cmd: &clap::Command| {
            let mut args: Vec<String> = cmd
                .get_arguments()
                .map(|a| format!("{:?} {:?} {:?}", a.get_id(), a.get_long(), a.get_env()))
                .collect();
            args.sort();
            (
                args,
                cmd.get_about().map(|s| s.to_string()),
                cmd.get_after_help().map(|s| s.to_string()),
            )
        };
        assert_eq!(describe(full), describe(small));
    }

    #[test]
    fn every_command_has_an_example_in_its_help() {
        fn walk(cmd: &clap::Command, path: &str) {
            if cmd.get_name() != "help" {
                let after = cmd
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                assert!(
                    after.contains("Examples:\n  opti-cred ")
                        || after.contains("Examples:\n  printf"),
                    "`{path}` has no example in its help"
                );
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        walk(&Cli::command(), "opti-cred");
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration(" 0 "), Ok(Duration::ZERO));
        for bad in ["", "soon", "-5s", "2 parsecs"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
