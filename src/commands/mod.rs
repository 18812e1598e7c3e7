//! One module per subcommand.

pub mod profile;
pub mod token;
