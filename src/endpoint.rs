//! Where a profile's token endpoint is, and which URLs opti-cred will send a
//! secret to.
//!
//! A CMS instance (`https://app-xxxx.cms.optimizely.com`) serves tokens at
//! `/_cms/preview2/oauth/token`; the API gateway hosts serve them at
//! `/oauth/token`. A profile's `token_url` overrides both.

use std::net::IpAddr;

use url::{Host, Url};

use crate::error::{Error, Result};

/// Hosts of the Optimizely CMS API gateway, whose token endpoint is
/// `/oauth/token` rather than an instance's `/_cms/preview2/oauth/token`.
pub const GATEWAY_HOSTS: &[&str] = &["api.cms.optimizely.com", "api.cmstest.optimizely.com"];

const INSTANCE_TOKEN_PATH: &str = "_cms/preview2/oauth/token";
const GATEWAY_TOKEN_PATH: &str = "oauth/token";
const INSTANCE_API_PATH: &str = "_cms/preview2/";
const GATEWAY_API_PATH: &str = "preview3/";

/// Parses a URL from the config or the command line and checks that a secret
/// may be sent to it: `https`, or plain `http` to a loopback host only, and
/// no user name, password, query or fragment.
///
/// `what` names the setting in the error message (`cms_url`, `token_url`).
pub fn parse_url(what: &str, raw: &str) -> Result<Url> {
    // The raw text is not echoed: a URL that fails to parse may still hold a
    // password.
    let url = Url::parse(raw.trim()).map_err(|e| {
        Error::Usage(format!(
            "`{what}` is not a valid URL ({e}); \
             expected something like `https://app-xxxx.cms.optimizely.com`"
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Usage(format!(
            "`{what}` contains a user name or password; remove it (the client id and secret \
             are sent in the request body)"
        )));
    }

    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::Usage(format!(
                "`{what}` uses plain http to a host that is not loopback: `{url}`; \
                 a client secret is only sent over https (plain http is allowed for \
                 127.0.0.1, ::1 and localhost)"
            )));
        }
        other => {
            return Err(Error::Usage(format!(
                "`{what}` has the scheme `{other}`; only https URLs are supported: `{url}`"
            )));
        }
    }
    if url.host().is_none() {
        return Err(Error::Usage(format!("`{what}` has no host: `{url}`")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Usage(format!(
            "`{what}` must not have a query or fragment: `{url}`"
        )));
    }
    Ok(url)
}

/// True for 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => {
            let d = d.strip_suffix('.').unwrap_or(d);
            d.eq_ignore_ascii_case("localhost")
        }
        None => false,
    }
}

/// The token URL for a CMS URL, unless `token_url` overrides it.
pub fn token_url(cms_url: &Url, token_url: Option<&Url>) -> Url {
    if let Some(explicit) = token_url {
        return explicit.clone();
    }
    let suffix = if is_gateway(cms_url) {
        GATEWAY_TOKEN_PATH
    } else {
        INSTANCE_TOKEN_PATH
    };
    under(cms_url, suffix)
}

/// The base the paths of `opti-cred api` are joined to: an instance's
/// `/_cms/preview2/`, the gateway's versioned `/preview3/`, unless
/// `api_base` overrides it. Always ends in `/`.
pub fn api_base(cms_url: &Url, api_base: Option<&Url>) -> Url {
    if let Some(explicit) = api_base {
        return with_trailing_slash(explicit.clone());
    }
    let suffix = if is_gateway(cms_url) {
        GATEWAY_API_PATH
    } else {
        INSTANCE_API_PATH
    };
    under(cms_url, suffix)
}

fn is_gateway(cms_url: &Url) -> bool {
    cms_url
        .host_str()
        .is_some_and(|h| GATEWAY_HOSTS.iter().any(|g| h.eq_ignore_ascii_case(g)))
}

/// `suffix` below `base`, keeping any path prefix the base has (an instance
/// behind a reverse proxy at `/cms`, say).
fn under(base: &Url, suffix: &str) -> Url {
    with_trailing_slash(base.clone())
        .join(suffix)
        .expect("a relative path joins onto an http(s) URL")
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derive(cms: &str) -> String {
        token_url(&parse_url("cms_url", cms).unwrap(), None).to_string()
    }

    #[test]
    fn instance_urls_use_the_preview2_path() {
        assert_eq!(
            derive("https://app-abcd.cms.optimizely.com"),
            "https://app-abcd.cms.optimizely.com/_cms/preview2/oauth/token"
        );
        assert_eq!(
            derive("https://app-abcd.cms.optimizely.com/"),
            "https://app-abcd.cms.optimizely.com/_cms/preview2/oauth/token"
        );
    }

    #[test]
    fn a_path_prefix_is_kept() {
        assert_eq!(
            derive("https://example.com/cms"),
            "https://example.com/cms/_cms/preview2/oauth/token"
        );
        assert_eq!(
            derive("https://example.com/cms/"),
            "https://example.com/cms/_cms/preview2/oauth/token"
        );
    }

    #[test]
    fn gateway_hosts_use_oauth_token() {
        assert_eq!(
            derive("https://api.cms.optimizely.com"),
            "https://api.cms.optimizely.com/oauth/token"
        );
        assert_eq!(
            derive("https://API.cmstest.optimizely.com/"),
            "https://api.cmstest.optimizely.com/oauth/token"
        );
    }

    #[test]
    fn an_explicit_token_url_wins() {
        let cms = parse_url("cms_url", "https://app-abcd.cms.optimizely.com").unwrap();
        let explicit = parse_url(
            "token_url",
            "https://app-abcd.cms.optimizely.com/_cms/v1/oauth/token",
        )
        .unwrap();
        assert_eq!(token_url(&cms, Some(&explicit)), explicit);
    }

    #[test]
    fn api_bases_follow_the_same_rules() {
        let base = |cms: &str| api_base(&parse_url("cms_url", cms).unwrap(), None).to_string();
        assert_eq!(
            base("https://app-x.cms.optimizely.com"),
            "https://app-x.cms.optimizely.com/_cms/preview2/"
        );
        assert_eq!(
            base("https://example.com/cms"),
            "https://example.com/cms/_cms/preview2/"
        );
        assert_eq!(
            base("https://api.cms.optimizely.com"),
            "https://api.cms.optimizely.com/preview3/"
        );
        let explicit = parse_url("api_base", "https://example.com/api/v9").unwrap();
        assert_eq!(
            api_base(&parse_url("cms_url", "https://a").unwrap(), Some(&explicit)).as_str(),
            "https://example.com/api/v9/"
        );
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:9000",
            "http://localhost:3000",
            "http://LOCALHOST./",
        ] {
            assert!(parse_url("cms_url", ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "http://localhost.example.com",
            "http://[::2]",
        ] {
            let err = parse_url("cms_url", bad).unwrap_err().to_string();
            assert!(err.contains("plain http"), "{bad}: {err}");
        }
    }

    #[test]
    fn other_schemes_and_odd_parts_are_refused() {
        let cases = [
            ("ftp://example.com", "scheme `ftp`"),
            ("https://user:pw@example.com", "user name or password"),
            ("https://example.com/?a=b", "query or fragment"),
            ("https://example.com/#x", "query or fragment"),
            ("not a url", "not a valid URL"),
        ];
        for (raw, want) in cases {
            let err = parse_url("cms_url", raw).unwrap_err().to_string();
            assert!(err.contains(want), "{raw}: {err}");
        }
    }

    #[test]
    fn a_password_in_a_url_is_not_echoed() {
        for raw in [
            "https://user:hunter2@example.com",
            "http://user:hunter2@example.com",
            "https://user:hunter2@exa mple.com",
        ] {
            let err = parse_url("cms_url", raw).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn accepted_urls_are_https_or_loopback_http(
                raw in prop_oneof!["\\PC{0,60}", "(https?|ftp)://[a-z0-9.:@\\[\\]/?#-]{0,40}"]
            ) {
                if let Ok(url) = parse_url("cms_url", &raw) {
                    prop_assert!(url.scheme() == "https" || is_loopback(&url));
                    prop_assert!(url.password().is_none() && url.username().is_empty());
                    let token = token_url(&url, None);
                    prop_assert_eq!(token.scheme(), url.scheme());
                    prop_assert_eq!(token.host_str(), url.host_str());
                }
            }
        }
    }
}
