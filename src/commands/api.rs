//! `opti-cred api PROFILE [METHOD] PATH`: call the CMS REST API with the
//! profile's token, as `gh api` does for GitHub.
//!
//! PATH is joined to the profile's API base (an instance's
//! `/_cms/preview2/`, the gateway's `/preview3/`, or `api_base`) and may not
//! leave it, so the token only ever goes where the profile points. The body
//! of a 2xx answer goes to stdout; anything else is an error on stderr. A
//! 401 drops the cached token and retries once with a fresh one.

use std::io::Read;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::cache::TokenCache;
use crate::cli::ApiArgs;
use crate::commands::token::{DEFAULT_MIN_VALID, cache_key, get_token};
use crate::config::{Config, Profile};
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::{fetch, output, progress};

/// An API request, ready to send any number of times.
struct Call {
    method: reqwest::Method,
    url: Url,
    headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    body: Option<bytes::Bytes>,
    include: bool,
}

/// The answer, read whole.
struct Answer {
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: bytes::Bytes,
}

pub fn run(paths: &Paths, args: ApiArgs) -> Result<()> {
    let config = Config::load(&paths.config_file)?;
    let profile = config.profile(&args.profile)?;
    let call = prepare(&profile, &args)?;
    let cache = TokenCache::new(paths.cache_dir()?);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start", "the async runtime", e))?;
    let client = fetch::build_client(&profile.network).map_err(|detail| Error::Network {
        url: call.url.to_string(),
        detail,
    })?;

    let mut token = get_token(&profile, &cache, DEFAULT_MIN_VALID)?;
    let mut answer = runtime.block_on(send(&client, &call, &token.access_token))?;
    if answer.status == reqwest::StatusCode::UNAUTHORIZED {
        // The token may have been revoked or rotated early: one fresh try.
        log::info!("the API answered 401; fetching a new token and trying once more");
        cache.remove(cache_key(&profile))?;
        token = get_token(&profile, &cache, DEFAULT_MIN_VALID)?;
        answer = runtime.block_on(send(&client, &call, &token.access_token))?;
    }

    if call.include {
        let mut head = format!("{:?} {}\n", reqwest::Version::HTTP_11, answer.status);
        for (name, value) in &answer.headers {
            head.push_str(&format!(
                "{name}: {}\n",
                value.to_str().unwrap_or("(binary)")
            ));
        }
        eprintln!("{head}");
    }
    log::info!("{} {} -> {}", call.method, call.url, answer.status);

    if answer.status.is_success() {
        let mut body = answer.body.to_vec();
        if !body.is_empty()
            && !body.ends_with(b"\n")
            && std::io::IsTerminal::is_terminal(&std::io::stdout())
        {
            body.push(b'\n');
        }
        return output::print_bytes(&body);
    }
    Err(Error::Api {
        method: call.method.to_string(),
        url: call.url.to_string(),
        detail: fetch::describe_answer(answer.status.as_u16(), &answer.body, &token.access_token),
    })
}

fn prepare(profile: &Profile, args: &ApiArgs) -> Result<Call> {
    let (method, path) = match args.request.as_slice() {
        [path] if args.data.is_some() => ("POST".to_string(), path.clone()),
        [path] => ("GET".to_string(), path.clone()),
        [method, path] => (method.to_ascii_uppercase(), path.clone()),
        _ => return Err(Error::Usage("expected `[METHOD] PATH`".into())),
    };
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| Error::Usage(format!("`{method}` is not an HTTP method")))?;
    let url = join(&profile.api_base, &path)?;

    let mut headers = Vec::new();
    for raw in &args.headers {
        let (name, value) = raw
            .split_once(':')
            .ok_or_else(|| Error::Usage(format!("header `{raw}` is not `Name: value`")))?;
        let name = reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| Error::Usage(format!("`{}` is not a header name", name.trim())))?;
        if name == reqwest::header::AUTHORIZATION {
            return Err(Error::Usage(
                "`Authorization` is set by opti-cred from the profile's token".into(),
            ));
        }
        let value = reqwest::header::HeaderValue::from_str(value.trim())
            .map_err(|_| Error::Usage(format!("the value of header `{name}` is not valid")))?;
        headers.push((name, value));
    }

    let body = match args.data.as_deref() {
        None => None,
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Error::io("cannot read", "standard input", e))?;
            Some(buf)
        }
        Some(data) => match data.strip_prefix('@') {
            Some(file) => Some(
                std::fs::read(file).map_err(|e| Error::io("cannot read request body", file, e))?,
            ),
            None => Some(data.as_bytes().to_vec()),
        },
    };
    if body.is_some()
        && !headers
            .iter()
            .any(|(n, _)| n == reqwest::header::CONTENT_TYPE)
    {
        headers.push((
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        ));
    }

    Ok(Call {
        method,
        url,
        headers,
        body: body.map(bytes::Bytes::from),
        include: args.include,
    })
}

/// `path` below `base`, refusing anything that would leave it: another
/// host, or `..` climbing out of the API.
fn join(base: &Url, path: &str) -> Result<Url> {
    if path.contains("://") || path.starts_with("//") {
        return Err(Error::Usage(format!(
            "`{path}` is a full URL; give a path below the profile's API base `{base}`"
        )));
    }
    let url = base
        .join(path.trim_start_matches('/'))
        .map_err(|e| Error::Usage(format!("`{path}` is not a valid path: {e}")))?;
    if url.origin() != base.origin() || !url.path().starts_with(base.path()) {
        return Err(Error::Usage(format!(
            "`{path}` leads outside the profile's API base `{base}`"
        )));
    }
    Ok(url)
}

async fn send(client: &reqwest::Client, call: &Call, token: &SecretString) -> Result<Answer> {
    let network = |e: reqwest::Error| Error::Network {
        url: call.url.to_string(),
        detail: e.to_string(),
    };
    let mut request = client
        .request(call.method.clone(), call.url.clone())
        .bearer_auth(token.expose_secret())
        .header(reqwest::header::ACCEPT, "application/json");
    for (name, value) in &call.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &call.body {
        request = request.body(body.clone());
    }

    let _spinner = progress::Spinner::after(Duration::from_millis(300), "waiting for the CMS");
    let response = request.send().await.map_err(network)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(network)?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_below_the_api_base() {
        let base = Url::parse("https://app.example/_cms/preview2/").unwrap();
        assert_eq!(
            join(&base, "contenttypes").unwrap().as_str(),
            "https://app.example/_cms/preview2/contenttypes"
        );
        assert_eq!(
            join(&base, "/contenttypes/x?y=1").unwrap().as_str(),
            "https://app.example/_cms/preview2/contenttypes/x?y=1"
        );
        for bad in [
            "https://evil.example/x",
            "//evil.example/x",
            "../../etc",
            "../oauth/token",
        ] {
            assert!(join(&base, bad).is_err(), "{bad}");
        }
    }
}
