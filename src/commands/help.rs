//! `opti-cred completions SHELL` and `opti-cred man`: shell completions and
//! the manual page, both generated from the command line's definition in
//! [`crate::cli`], so they never disagree with `--help`.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::output;

pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "opti-cred", &mut script);
    output::print_bytes(&script)
}

pub fn man() -> Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| Error::io("cannot render", "the manual page", e))?;
    output::print_bytes(&page)
}
