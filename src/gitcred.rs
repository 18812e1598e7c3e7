//! git's credential helper protocol (gitcredentials(7), git-credential(1)):
//! `key=value` lines, ended by a blank line or the end of input, in both
//! directions.
//!
//! Parsing is strict about what would make an answer ambiguous (a line
//! without `=`, a NUL byte, an over-long line) and lenient about the rest:
//! unknown attributes are kept but ignored, as the protocol requires.

use std::io::BufRead;

/// The longest line accepted; git limits lines to the same size.
pub const MAX_LINE: usize = 65535;

/// What git sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Request {
    pub protocol: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub username: Option<String>,
    /// `capability[]` values git announced (`authtype`, `state`).
    pub capabilities: Vec<String>,
}

impl Request {
    /// Whether git can take `authtype=` and `credential=` answers.
    pub fn supports_authtype(&self) -> bool {
        self.capabilities.iter().any(|c| c == "authtype")
    }
}

/// Why input was not a credential description. Never quotes the input,
/// which may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("line {0} has no `=`; expected `key=value` lines")]
    NoEquals(usize),
    #[error("line {0} contains a NUL byte")]
    Nul(usize),
    #[error("line {0} is longer than {MAX_LINE} bytes")]
    TooLong(usize),
    #[error("line {0} is not valid UTF-8")]
    NotUtf8(usize),
    #[error("cannot read standard input: {0}")]
    Read(String),
}

/// Reads one credential description.
pub fn read_request(input: impl BufRead) -> Result<Request, ProtocolError> {
    let mut request = Request::default();
    // One byte past the limit tells an over-long line from a full one.
    let mut limited = input.take((MAX_LINE + 2) as u64);
    let mut number = 0;
    loop {
        number += 1;
        let mut raw = Vec::new();
        limited.set_limit((MAX_LINE + 2) as u64);
        limited
            .read_until(b'\n', &mut raw)
            .map_err(|e| ProtocolError::Read(e.to_string()))?;
        if raw.is_empty() {
            break;
        }
        let line = raw.strip_suffix(b"\n").unwrap_or(&raw);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_LINE || (!raw.ends_with(b"\n") && raw.len() > MAX_LINE) {
            return Err(ProtocolError::TooLong(number));
        }
        if line.contains(&0) {
            return Err(ProtocolError::Nul(number));
        }
        if line.is_empty() {
            break;
        }
        let line = std::str::from_utf8(line).map_err(|_| ProtocolError::NotUtf8(number))?;
        let (key, value) = line
            .split_once('=')
            .ok_or(ProtocolError::NoEquals(number))?;
        let value = value.to_string();
        match key {
            "protocol" => request.protocol = Some(value),
            "host" => request.host = Some(value),
            "path" => request.path = Some(value),
            "username" => request.username = Some(value),
            "capability[]" => request.capabilities.push(value),
            // url= is split into its parts by git before a helper sees it;
            // everything else (password, wwwauth[], state[] ...) is unused.
            _ => {}
        }
    }
    Ok(request)
}

/// An answer, written as `key=value` lines. Values must not contain a
/// newline or NUL; tokens and client ids never do, and a value that does is
/// refused rather than written.
#[derive(Debug, Default)]
pub struct Response {
    lines: Vec<(&'static str, String)>,
}

impl Response {
    pub fn push(&mut self, key: &'static str, value: impl Into<String>) -> Result<(), String> {
        let value = value.into();
        if value.contains(['\n', '\0']) {
            return Err(format!("the value of `{key}` contains a newline or NUL"));
        }
        self.lines.push((key, value));
        Ok(())
    }

    /// The lines, each ending in a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (key, value) in &self.lines {
            out.push_str(key);
            out.push('=');
            out.push_str(value);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Request, ProtocolError> {
        read_request(text.as_bytes())
    }

    #[test]
    fn reads_the_attributes_it_uses_and_ignores_the_rest() {
        let request = parse(
            "capability[]=authtype\ncapability[]=state\nprotocol=https\n\
             host=app-x.cms.optimizely.com:8443\npath=repo.git\nwwwauth[]=Bearer realm=x\n\
             password=old\nfuture-attribute=1\n\nprotocol=ignored-after-blank\n",
        )
        .unwrap();
        assert_eq!(request.protocol.as_deref(), Some("https"));
        assert_eq!(
            request.host.as_deref(),
            Some("app-x.cms.optimizely.com:8443")
        );
        assert_eq!(request.path.as_deref(), Some("repo.git"));
        assert_eq!(request.capabilities, ["authtype", "state"]);
        assert!(request.supports_authtype());
    }

    #[test]
    fn the_end_of_input_ends_a_request_too() {
        let request = parse("protocol=http\r\nhost=127.0.0.1:9").unwrap();
        assert_eq!(request.host.as_deref(), Some("127.0.0.1:9"));
        assert_eq!(parse("").unwrap(), Request::default());
    }

    #[test]
    fn values_may_contain_equals_signs() {
        let request = parse("path=a=b\n").unwrap();
        assert_eq!(request.path.as_deref(), Some("a=b"));
    }

    #[test]
    fn malformed_input_is_refused_without_quoting_it() {
        assert_eq!(
            parse("protocol=https\nhunter2\n"),
            Err(ProtocolError::NoEquals(2))
        );
        assert_eq!(parse("host=a\0b\n"), Err(ProtocolError::Nul(1)));
        assert_eq!(parse("host=\u{0}\n"), Err(ProtocolError::Nul(1)));
        let long = format!("host={}\n", "x".repeat(MAX_LINE));
        assert_eq!(parse(&long), Err(ProtocolError::TooLong(1)));
        let long_unterminated = format!("host={}", "x".repeat(MAX_LINE + 10));
        assert_eq!(parse(&long_unterminated), Err(ProtocolError::TooLong(1)));
        assert_eq!(
            read_request(&b"host=\xff\n"[..]),
            Err(ProtocolError::NotUtf8(1))
        );
        let msg = parse("hunter2\n").unwrap_err().to_string();
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_accepted() {
        let line = format!("path={}\n", "y".repeat(MAX_LINE - 5));
        assert_eq!(parse(&line).unwrap().path.unwrap().len(), MAX_LINE - 5);
    }

    #[test]
    fn responses_refuse_values_that_would_break_the_format() {
        let mut response = Response::default();
        response.push("username", "client").unwrap();
        assert!(response.push("password", "a\nb").is_err());
        response.push("password", "tok").unwrap();
        assert_eq!(response.render(), "username=client\npassword=tok\n");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_input_parses_or_is_refused_without_panicking(
                bytes in proptest::collection::vec(any::<u8>(), 0..2000)
            ) {
                let _ = read_request(&bytes[..]);
            }

            #[test]
            fn well_formed_requests_round_trip(
                protocol in "[a-z]{1,8}",
                host in "[a-z0-9.:-]{1,40}",
                path in proptest::option::of("[ -~]{0,40}"),
            ) {
                let mut text = format!("protocol={protocol}\nhost={host}\n");
                if let Some(path) = &path {
                    text.push_str(&format!("path={path}\n"));
                }
                text.push('\n');
                let request = read_request(text.as_bytes()).unwrap();
                prop_assert_eq!(request.protocol, Some(protocol));
                prop_assert_eq!(request.host, Some(host));
                prop_assert_eq!(request.path, path);
            }
        }
    }
}
