//! The `opti-cred` binary: parse the command line, run it, and turn an error
//! into one message on stderr and a documented exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use opti_cred::cli::{Cli, TokenCli};

fn main() -> ExitCode {
    let args = arguments();
    // `token` is the hot path: parse it with the small definition that has
    // only that command (see `TokenCli`).
    let cli = if args.get(1).is_some_and(|a| a == "token") {
        Cli::from(TokenCli::parse_from(args))
    } else {
        Cli::parse_from(args)
    };
    init_logging(cli.global.verbose);

    match opti_cred::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("opti-cred: error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// The command line, with one rewrite: run as `git-credential-opti-cred`
/// (a link on the PATH, which is how `git config credential.helper
/// opti-cred` finds it), the arguments git passes are those of
/// `opti-cred git-credential`.
fn arguments() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .map(std::path::Path::new)
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned());
    if invoked_as.as_deref() == Some("git-credential-opti-cred") {
        args.insert(1, "git-credential".into());
    }
    args
}

/// Warnings always; `-v` adds info, `-vv` debug, `-vvv` trace, all for
/// opti-cred's own messages. `RUST_LOG`, when set, replaces this filter.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        2 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let mut builder = env_logger::Builder::new();
    builder
        .filter_level(log::LevelFilter::Warn)
        .filter_module("opti_cred", level)
        .format(|buf, record| {
            let level = match record.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug => "debug",
                log::Level::Trace => "trace",
            };
            writeln!(buf, "opti-cred: {level}: {}", record.args())
        });
    if let Ok(filter) = std::env::var("RUST_LOG") {
        builder.parse_filters(&filter);
    }
    builder.init();
}
