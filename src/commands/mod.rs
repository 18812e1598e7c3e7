//! One module per subcommand.

pub mod api;
pub mod doctor;
pub mod exec;
pub mod git_credential;
pub mod help;
pub mod login;
pub mod logout;
pub mod profile;
pub mod status;
pub mod token;
