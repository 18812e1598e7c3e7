//! A token endpoint behind TLS with a certificate from a private CA, as an
//! instance behind a TLS-inspecting corporate proxy looks: refused by
//! default, trusted with the profile's `ca_cert`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA (as PEM) and a certificate for `localhost` it signed, with its key.
fn private_pki() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "opti-cred test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (ca.pem(), leaf.der().clone(), key)
}

/// A minimal HTTPS token endpoint on 127.0.0.1: it answers every request
/// with a token and counts the requests that got through the handshake.
fn https_token_endpoint(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> (u16, Arc<AtomicUsize>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut reader = BufReader::new(&mut tls);
            let mut length = 0;
            let mut line = String::new();
            // A failed handshake (an untrusted certificate) ends here.
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            if line != "\r\n" {
                continue;
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let json = r#"{"access_token":"tls-token","expires_in":300,"token_type":"Bearer"}"#;
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{json}",
                json.len()
            );
            let _ = tls.flush();
        }
    });
    (port, served)
}

#[test]
fn a_private_ca_is_trusted_only_through_ca_cert() {
    let (ca_pem, cert, key) = private_pki();
    let (port, served) = https_token_endpoint(cert, key);
    let env = TestEnv::new();
    let profile = |extra: &str| {
        format!(
            "default_profile = \"p\"\n[profiles.p]\ncms_url = \"https://localhost:{port}\"\n\
             client_id = \"{CLIENT_ID}\"\ntimeout = \"5s\"\n{extra}"
        )
    };

    env.write_config(&profile(""));
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.code, 5, "{}", out.stderr);
    out.stderr_has("invalid peer certificate");
    out.stderr_has("set the profile's `ca_cert`");
    assert!(
        !out.stderr.contains("attempts"),
        "a refused certificate was retried: {}",
        out.stderr
    );
    assert_eq!(served.load(Ordering::SeqCst), 0);

    // A relative `ca_cert` is found beside the config file.
    std::fs::write(env.config.with_file_name("proxy-ca.pem"), &ca_pem).unwrap();
    env.write_config(&profile("ca_cert = \"proxy-ca.pem\"\n"));
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "tls-token\n"),
        "{}",
        out.stderr
    );
    assert_eq!(served.load(Ordering::SeqCst), 1);
}

#[test]
fn an_unreadable_ca_cert_is_a_clear_error() {
    let env = TestEnv::new();
    env.write_config(&format!(
        "default_profile = \"p\"\n[profiles.p]\ncms_url = \"https://localhost:1\"\n\
         client_id = \"{CLIENT_ID}\"\nca_cert = \"/nonexistent/ca.pem\"\n"
    ));
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.code, 5, "{}", out.stderr);
    out.stderr_has("cannot read `ca_cert` `/nonexistent/ca.pem`");

    std::fs::write(env.home.join("junk.pem"), "not a certificate").unwrap();
    env.write_config(&format!(
        "default_profile = \"p\"\n[profiles.p]\ncms_url = \"https://localhost:1\"\n\
         client_id = \"{CLIENT_ID}\"\nca_cert = \"{}\"\n",
        env.home.join("junk.pem").display()
    ));
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(out.code, 5, "{}", out.stderr);
    out.stderr_has("holds no");
}
