//! The errors opti-cred reports, and the exit code each one maps to.
//!
//! Every message says what went wrong and, where there is one, the command or
//! setting that fixes it. No message ever contains a client secret or a token:
//! variants carry names (profiles, client ids, URLs, files), never values.

use std::path::PathBuf;

/// Exit codes, documented in `docs/exit-codes.md`. Scripts may rely on them.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// An unexpected failure: a file that could not be read or written, and
    /// the like.
    pub const INTERNAL: u8 = 1;
    /// Bad usage or configuration: unknown profile, malformed config file,
    /// invalid URL. Also what the argument parser exits with.
    pub const CONFIG: u8 = 2;
    /// No client secret could be found for the profile.
    pub const NO_SECRET: u8 = 3;
    /// The token endpoint rejected the client id or secret.
    pub const REJECTED: u8 = 4;
    /// The token endpoint could not be reached, failed, or answered with
    /// something that is not a usable token.
    pub const ENDPOINT: u8 = 5;
    /// The OS keychain could not be used where a command needs it (`login`,
    /// `logout`).
    pub const KEYCHAIN: u8 = 6;
    /// Another opti-cred process was fetching the same token and did not
    /// finish within the wait.
    pub const LOCK_TIMEOUT: u8 = 7;
    /// `doctor`: at least one check failed (the report on stdout says which).
    pub const CHECKS_FAILED: u8 = 8;
    /// `api`: the CMS answered with a status other than 2xx.
    pub const API_ERROR: u8 = 9;
    /// `exec`: the command was found but could not be run, as a shell says.
    pub const CANNOT_EXECUTE: u8 = 126;
    /// `exec`: the command was not found, as a shell says.
    pub const COMMAND_NOT_FOUND: u8 = 127;
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument or setting that is wrong in a way the message explains.
    #[error("{0}")]
    Usage(String),

    #[error(
        "malformed config file `{path}` at line {line}, column {column}: {message}\n\
         fix the file, or move it away and recreate profiles with `opti-cred profile add`"
    )]
    ConfigSyntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("unknown profile `{name}`; {known}")]
    UnknownProfile { name: String, known: KnownProfiles },

    #[error(
        "no profile given and no default profile set; name one (`opti-cred token NAME`), \
         set `OPTI_CRED_PROFILE`, or run `opti-cred profile default NAME`"
    )]
    NoProfile,

    #[error(
        "no client secret for profile `{profile}` (client id `{client_id}`); looked in: {tried}\n\
         store it in the OS keychain with `opti-cred login --profile {profile}`, or set \
         `OPTI_CRED_CLIENT_SECRET` without putting it on a command line: \
         `read -rs OPTI_CRED_CLIENT_SECRET && export OPTI_CRED_CLIENT_SECRET`"
    )]
    NoSecret {
        profile: String,
        client_id: String,
        tried: String,
    },

    #[error(
        "the token endpoint `{url}` rejected the credentials of profile `{profile}` \
         (client id `{client_id}`): {detail}\n\
         check the client id and the client secret of the API client in the CMS"
    )]
    Rejected {
        url: String,
        profile: String,
        client_id: String,
        detail: String,
    },

    #[error("the token endpoint `{url}` failed: {detail}")]
    Endpoint { url: String, detail: String },

    #[error("cannot reach the token endpoint `{url}`: {detail}")]
    Network { url: String, detail: String },

    #[error("the OS keychain is not available: {reason}\n{}", keychain_hint())]
    Keychain { reason: String },

    #[error(
        "waited {waited} for another opti-cred process to fetch a token (lock file `{path}`); \
         if no other opti-cred is running, the lock is held by something else, check with \
         `fuser {path}`; `{env}` sets the wait",
        waited = humantime::format_duration(*.waited),
        env = "OPTI_CRED_LOCK_TIMEOUT"
    )]
    LockTimeout {
        path: PathBuf,
        waited: std::time::Duration,
    },

    #[error("{0} check(s) failed; see the report above")]
    ChecksFailed(usize),

    #[error("the CMS answered {method} `{url}` with {detail}")]
    Api {
        method: String,
        url: String,
        detail: String,
    },

    #[error("cannot run `{program}`: {source}")]
    Exec {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{context} `{path}`: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What to do when the keychain is not there, for this platform.
fn keychain_hint() -> &'static str {
    if cfg!(target_os = "macos") {
        "unlock the login keychain, or set `OPTI_CRED_CLIENT_SECRET` instead; see docs/secrets.md"
    } else if cfg!(windows) {
        "check that Credential Manager is available, or set `OPTI_CRED_CLIENT_SECRET` instead; \
         see docs/secrets.md"
    } else {
        "opti-cred keeps secrets in the Secret Service (GNOME Keyring, KWallet, KeePassXC) on the \
         D-Bus session bus; on a headless machine, over SSH or in CI, set \
         `OPTI_CRED_CLIENT_SECRET` instead, see docs/secrets.md"
    }
}

/// The list of known profiles, rendered as the second half of an
/// unknown-profile message.
#[derive(Debug)]
pub struct KnownProfiles(pub Vec<String>);

impl std::fmt::Display for KnownProfiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            write!(
                f,
                "no profiles are defined yet; create one with `opti-cred profile add`"
            )
        } else {
            let names: Vec<String> = self.0.iter().map(|n| format!("`{n}`")).collect();
            write!(f, "known profiles: {}", names.join(", "))
        }
    }
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_)
            | Error::ConfigSyntax { .. }
            | Error::UnknownProfile { .. }
            | Error::NoProfile => exit::CONFIG,
            Error::NoSecret { .. } => exit::NO_SECRET,
            Error::Rejected { .. } => exit::REJECTED,
            Error::Endpoint { .. } | Error::Network { .. } => exit::ENDPOINT,
            Error::Keychain { .. } => exit::KEYCHAIN,
            Error::LockTimeout { .. } => exit::LOCK_TIMEOUT,
            Error::ChecksFailed(_) => exit::CHECKS_FAILED,
            Error::Api { .. } => exit::API_ERROR,
            Error::Exec { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                exit::COMMAND_NOT_FOUND
            }
            Error::Exec { .. } => exit::CANNOT_EXECUTE,
            Error::Io { .. } => exit::INTERNAL,
        }
    }

    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            context,
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
