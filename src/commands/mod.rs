//! One module per subcommand.

pub mod login;
pub mod logout;
pub mod profile;
pub mod token;
