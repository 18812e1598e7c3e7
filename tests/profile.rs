//! `opti-cred profile …`: managing profiles without editing TOML.

mod common;

use common::*;

/// `opti-cred profile add NAME --cms-url URL --client-id ID`.
fn add(env: &TestEnv, name: &str, url: &str, client_id: &str) -> Outcome {
    run(env.cmd().args([
        "profile",
        "add",
        name,
        "--cms-url",
        url,
        "--client-id",
        client_id,
    ]))
}

#[tokio::test]
async fn add_then_token_uses_the_new_profile() {
    let server = token_endpoint(INSTANCE_TOKEN_PATH, Tokens::lasting(300)).await;
    let env = TestEnv::new();

    let out = add(&env, "prod", &server.uri(), CLIENT_ID);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "", "confirmations go to stderr");
    assert!(
        out.stderr.contains("saved profile `prod`") && out.stderr.contains("default"),
        "{}",
        out.stderr
    );

    // The first profile became the default.
    let out = run(env.cmd_with_secret().arg("token"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "token-1\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn add_refuses_bad_input_and_writes_nothing() {
    let env = TestEnv::new();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "../evil",
                "--cms-url",
                "https://a.example",
                "--client-id",
                "c",
            ],
            "invalid profile name",
        ),
        (
            &["p", "--cms-url", "http://a.example", "--client-id", "c"],
            "plain http",
        ),
        (
            &["p", "--cms-url", "https://a.example", "--client-id", " "],
            "`client_id` is empty",
        ),
        (
            &[
                "p",
                "--cms-url",
                "https://a.example",
                "--client-id",
                "c",
                "--token-url",
                "ftp://x",
            ],
            "`token_url` has the scheme `ftp`",
        ),
    ];
    for (args, want) in cases {
        let out = run(env.cmd().args(["profile", "add"]).args(args));
        assert_eq!(out.code, 2, "{args:?}");
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        assert!(!env.config.exists(), "{args:?} wrote the config");
    }
}

#[test]
fn add_does_not_overwrite_without_replace() {
    let env = TestEnv::new();
    let add_p = |url: &str, extra: &[&str]| {
        run(env
            .cmd()
            .args(["profile", "add", "p", "--cms-url", url, "--client-id", "c"])
            .args(extra))
    };
    assert_eq!(add_p("https://one.example", &[]).code, 0);
    let out = add_p("https://two.example", &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("already exists") && out.stderr.contains("--replace"),
        "{}",
        out.stderr
    );
    assert!(
        std::fs::read_to_string(&env.config)
            .unwrap()
            .contains("one.example")
    );

    assert_eq!(add_p("https://two.example", &["--replace"]).code, 0);
    let text = std::fs::read_to_string(&env.config).unwrap();
    assert!(
        text.contains("two.example") && !text.contains("one.example"),
        "{text}"
    );
}

#[test]
fn list_marks_the_default() {
    let env = TestEnv::new();
    let out = run(env.cmd().args(["profile", "list"]));
    assert_eq!((out.code, out.stdout.as_str()), (0, ""));
    out.stderr_has("no profiles");

    for (name, url) in [
        ("prod", "https://prod.example"),
        ("dev", "https://dev.example"),
    ] {
        add(&env, name, url, "cid");
    }
    let out = run(env.cmd().args(["profile", "list"]));
    assert_eq!(
        out.stdout,
        "  dev   https://dev.example  cid\n* prod  https://prod.example  cid\n"
    );

    run(env.cmd().args(["profile", "default", "dev"]));
    let out = run(env.cmd().args(["profile", "list"]));
    assert!(out.stdout.starts_with("* dev "), "{}", out.stdout);
}

#[tokio::test]
async fn show_tells_where_things_are_and_never_prints_secrets() {
    let (server, env) = prod_profile().await;

    let out = run(env.cmd().args(["profile", "show", "prod"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout_has("profile:     prod (default)");
    out.stdout_has(&format!("client_id:   {CLIENT_ID}"));
    assert!(
        out.stdout.contains(&format!(
            "{}{INSTANCE_TOKEN_PATH} (derived from cms_url)",
            server.uri()
        )),
        "{}",
        out.stdout
    );
    out.stdout_has("secret:      not found; run `opti-cred login --profile prod`");
    // Without a session bus the keychain is unavailable, and show says so.
    assert!(
        out.stdout.contains(
            "lookup order:\n  1. environment variable `OPTI_CRED_CLIENT_SECRET`: no secret\n  \
             2. environment variable `OPTIMIZELY_CMS_CLIENT_SECRET`: no secret\n  \
             3. the OS keychain (service `opti-cred`, account `test-client@127.0.0.1:"
        ),
        "{}",
        out.stdout
    );
    out.stdout_has("token:       none cached");

    run(env.cmd_with_secret().arg("token"));
    let out = run(env.cmd_with_secret().args(["profile", "show"]));
    out.stdout_has("secret:      from environment variable `OPTI_CRED_CLIENT_SECRET`");
    out.stdout_has("1. environment variable `OPTI_CRED_CLIENT_SECRET`: has a secret");
    out.stdout_has("token:       valid for 4m");
    assert!(
        !out.stdout.contains("token-1"),
        "show printed the token: {}",
        out.stdout
    );
}

#[test]
fn remove_and_default_check_the_name() {
    let env = TestEnv::new();
    add(&env, "a", "https://a.example", "c");
    add(&env, "b", "https://b.example", "c");

    let out = run(env.cmd().args(["profile", "remove", "zzz"]));
    assert_eq!(out.code, 2);
    out.stderr_has("known profiles: `a`, `b`");
    let out = run(env.cmd().args(["profile", "default", "zzz"]));
    assert_eq!(out.code, 2);

    let out = run(env.cmd().args(["profile", "remove", "a"]));
    assert_eq!(out.code, 0);
    out.stderr_has("no default profile now");
    let out = run(env.cmd().args(["profile", "list"]));
    assert_eq!(out.stdout, "  b  https://b.example  c\n");
}

#[test]
fn edits_keep_the_users_comments() {
    let env = TestEnv::new();
    env.write_config("# work instances\n[profiles.a] # the main one\ncms_url = \"https://a.example\"\nclient_id = \"c\"\n");
    add(&env, "b", "https://b.example", "d");
    let text = std::fs::read_to_string(&env.config).unwrap();
    assert!(
        text.contains("# work instances") && text.contains("# the main one"),
        "{text}"
    );
    // A comment stays with the table it stands above.
    assert!(text.contains("# work instances\n[profiles.a]"), "{text}");
    assert!(text.starts_with("default_profile = \"b\"\n"), "{text}");
}

#[test]
fn a_malformed_config_is_never_overwritten() {
    let env = TestEnv::new();
    env.write_config("[profiles.a\n");
    let out = add(&env, "b", "https://b.example", "d");
    assert_eq!(out.code, 2);
    assert_eq!(
        std::fs::read_to_string(&env.config).unwrap(),
        "[profiles.a\n"
    );
}
