//! Asking the person at the terminal. Prompts go to stderr (or the terminal
//! itself), never to stdout, which carries only requested output.

use std::io::{BufRead, IsTerminal, Write};

use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// True when there is a person to ask: standard input is a terminal.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks for one line of text on the terminal.
pub fn line(question: &str) -> Result<String> {
    eprint!("{question}: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::io("cannot read from", "standard input", e))?;
    Ok(answer.trim().to_string())
}

/// Asks for a secret on the terminal without echoing it.
pub fn secret(question: &str) -> Result<SecretString> {
    let answer = Zeroizing::new(
        rpassword::prompt_password(format!("{question}: "))
            .map_err(|e| Error::io("cannot read the secret from", "the terminal", e))?,
    );
    Ok(SecretString::from(answer.as_str()))
}

/// Reads a secret from standard input: its first line, without the line
/// ending.
pub fn secret_from_stdin() -> Result<SecretString> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("cannot read the secret from", "standard input", e))?;
    Ok(SecretString::from(line.trim_end_matches(['\r', '\n'])))
}
