//! Writing the requested output to stdout.
//!
//! stdout carries only what the user asked for (a token, JSON, a listing);
//! everything else goes to stderr.

use std::io::Write;

use crate::error::{Error, Result};

/// Writes `text` to stdout and flushes it.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("cannot write to", "standard output", e))
}

/// Writes raw bytes (an API answer) to stdout and flushes them.
pub fn print_bytes(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("cannot write to", "standard output", e))
}

/// Tells the user what a command did, on stderr.
pub fn note(text: &str) {
    eprintln!("opti-cred: {text}");
}
