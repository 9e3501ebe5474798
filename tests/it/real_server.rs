//! End to end against panva's oidc-provider (a real, third-party authorization server) with
//! refresh-token rotation and reuse detection. The scripted browser completes sign-in and consent.

use std::process::Command;

use tokcli::store::crypto::Field;

use crate::support::{Home, OidcServer, Run};

const PUBLIC: &str = "tokcli-public";

fn login(home: &Home, srv: &OidcServer, profile: &str) -> Run {
    login_with(home, srv, profile, |_| {})
}

fn login_with(home: &Home, srv: &OidcServer, profile: &str, f: impl FnOnce(&mut Command)) -> Run {
    home.run_with(&["login", &srv.issuer, "--client-id", PUBLIC, "--profile", profile, "--timeout", "60s"], |c| {
        c.env("BROWSER", OidcServer::fakebrowser());
        f(c);
    })
}

#[test]
fn login_token_refresh_rotation_revoke() {
    let srv = OidcServer::start();
    let home = Home::new();
    let r = login(&home, &srv, "work");
    r.ok();
    assert!(r.stdout.is_empty(), "login prints nothing on stdout: {:?}", r.stdout);
    assert!(r.stderr.contains("Logged in to work as alice"), "{}", r.stderr);
    assert_eq!(srv.stats()["token"]["authorization_code"], 1);

    // token: exactly the token and a newline; the server says it is active.
    let at1 = home.run(&["token", "work"]).ok().line();
    assert_eq!(srv.introspect(&at1)["active"], true);
    // 20 more calls with a fresh token: no network, and the read path writes nothing to the
    // database or its WAL.
    let db_before = home.sha256_db();
    for _ in 0..20 {
        assert_eq!(home.run(&["token", "work"]).ok().line(), at1);
    }
    assert_eq!(srv.refresh_count(), 0);
    assert_eq!(home.sha256_db(), db_before);
    let wal = std::fs::metadata(home.path().join("tokcli.db-wal")).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal, 0, "the WAL is checkpointed and truncated, not replayed by every reader");

    // expiry → refresh with rotation: the old refresh token is dead at the server.
    let rt1 = home.secret("work", Field::RefreshToken).expect("refresh token stored");
    home.expire("work");
    let at2 = home.run(&["token", "work"]).ok().line();
    assert_ne!(at1, at2);
    assert_eq!(srv.refresh_count(), 1);
    let rt2 = home.secret("work", Field::RefreshToken).expect("rotated refresh token stored");
    assert_ne!(rt1, rt2, "the rotated refresh token replaced the old one (RF-02)");
    assert_eq!(srv.introspect(&rt1)["active"], false, "old refresh token is dead at the server");
    assert_eq!(srv.introspect(&rt2)["active"], true);
    assert_eq!(srv.introspect(&at2)["active"], true);

    // forced refresh through `refresh`, then list shows the count, never a secret.
    home.run(&["refresh", "work"]).ok();
    assert_eq!(srv.refresh_count(), 2);
    let list = home.run(&["list", "--json"]).ok().stdout.clone();
    let v: serde_json::Value = serde_json::from_str(&list).expect("json");
    assert_eq!(v[0]["profile"], "work");
    assert_eq!(v[0]["refresh_count"], 2);
    assert_eq!(v[0]["status"], "active");
    let rt3 = home.secret("work", Field::RefreshToken).expect("rt3");
    let at3 = home.run(&["token", "work"]).ok().line();
    for s in [&at3, &rt3, &rt2] {
        assert!(!list.contains(s.as_str()), "list leaks a secret");
    }

    // revoke: RFC 7009 at the server, then gone locally.
    home.run(&["revoke", "work"]).ok();
    assert_eq!(srv.stats()["revocation"], 1);
    assert_eq!(srv.introspect(&rt3)["active"], false);
    assert_eq!(srv.introspect(&at3)["active"], false, "revoking the grant's refresh token kills its access tokens");
    let r = home.run(&["token", "work"]);
    r.code(3);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
}

#[test]
fn storm_single_flight_against_rotating_server() {
    let srv = OidcServer::start();
    let home = Home::new();
    login(&home, &srv, "storm").ok();
    for round in 0..3 {
        home.expire("storm");
        let before = srv.refresh_count();
        let children: Vec<_> = (0..50)
            .map(|_| {
                let mut c = home.cmd();
                c.args(["token", "storm"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
                c.spawn().expect("spawn")
            })
            .collect();
        let outs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().expect("wait")).collect();
        for o in &outs {
            assert!(o.status.success(), "round {round}: {}", String::from_utf8_lossy(&o.stderr));
            assert!(!String::from_utf8_lossy(&o.stderr).contains("database is locked"));
        }
        let first = &outs[0].stdout;
        assert!(outs.iter().all(|o| &o.stdout == first), "round {round}: all processes print the same token");
        assert_eq!(srv.refresh_count() - before, 1, "round {round}: exactly one refresh reached the server");
    }
    // the grant is still alive: a forced refresh succeeds.
    home.run(&["refresh", "storm"]).ok();
    let at = home.run(&["token", "storm"]).ok().line();
    assert_eq!(srv.introspect(&at)["active"], true);
}

#[test]
fn wrong_store_key_is_exit_6_and_store_unchanged() {
    let srv = OidcServer::start();
    let home = Home::new();
    login(&home, &srv, "k").ok();
    home.expire("k");
    let before = home.sha256_db();
    let other: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    let r = home.run_with(&["token", "k"], |c| {
        c.env("TOKCLI_STORE_KEY", &other);
    });
    r.code(6);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("does not match"), "{}", r.stderr);
    assert_eq!(home.sha256_db(), before, "the database is unchanged");
    assert_eq!(srv.refresh_count(), 0, "no refresh with a wrong key");
}

#[test]
fn discovery_falls_back_to_openid_configuration() {
    let srv = OidcServer::start_with(&["--no-rfc8414"], &[]);
    let home = Home::new();
    login(&home, &srv, "oidc").ok();
    home.run(&["token", "oidc"]).ok();
}

#[test]
fn discovery_rejects_issuer_mismatch() {
    let srv = OidcServer::start();
    let home = Home::new();
    // A trailing slash is a different issuer (MD-02): exit 2, no authorization request.
    let r = home.run_with(&["login", &format!("{}/", srv.issuer), "--client-id", PUBLIC, "--profile", "x"], |c| {
        c.env("BROWSER", OidcServer::fakebrowser());
    });
    r.code(2);
    assert_eq!(srv.stats()["authorization"], 0);
    assert!(!home.db().exists(), "nothing stored");
}

#[test]
fn browser_gets_scrubbed_env_and_one_argv_url() {
    let srv = OidcServer::start();
    let home = Home::new();
    let log = home.path().join("browser.log");
    login_with(&home, &srv, "env", |c| {
        c.env("FAKEBROWSER_LOG", &log);
    })
    .ok();
    let line = std::fs::read_to_string(&log).expect("browser log");
    let v: serde_json::Value = serde_json::from_str(line.lines().next().expect("line")).expect("json");
    let argv = v["argv"].as_array().expect("argv");
    let url = argv.last().and_then(|a| a.as_str()).expect("url arg");
    assert!(url.starts_with(&format!("{}/auth?", srv.issuer)), "{url}");
    assert!(url.contains("code_challenge_method=S256"));
    let env = v["env"].as_object().expect("env");
    for k in env.keys() {
        assert!(!k.starts_with("TOKCLI_"), "browser saw {k}");
    }
}

#[test]
fn wrong_state_or_iss_is_rejected() {
    let srv = OidcServer::start();
    for tamper in ["state", "iss"] {
        let home = Home::new();
        let r =
            home.run_with(&["login", &srv.issuer, "--client-id", PUBLIC, "--profile", "t", "--timeout", "8s"], |c| {
                c.env("BROWSER", OidcServer::fakebrowser()).env("FAKEBROWSER_TAMPER", tamper);
            });
        // A wrong state is ignored (400) and the listener keeps waiting until the deadline;
        // a wrong iss from the right state aborts at once. Both end with exit 7, nothing stored.
        r.code(7);
        assert!(!home.db().exists() || home.run(&["list", "--json"]).stdout.trim() == "[]");
    }
    assert_eq!(srv.stats()["token"]["authorization_code"], 0, "no code was exchanged");
}

#[test]
fn access_denied_is_exit_7() {
    let srv = OidcServer::start();
    let home = Home::new();
    let r = login_with(&home, &srv, "deny", |c| {
        c.env("FAKEBROWSER_ACTION", "deny");
    });
    r.code(7);
    assert!(r.stderr.contains("access_denied"), "{}", r.stderr);
    assert_eq!(home.run(&["list", "--json"]).ok().stdout.trim(), "[]");
}

#[test]
fn manual_paste_of_redirect_url() {
    let srv = OidcServer::start();
    let home = Home::new();
    // Run login --manual, read the URL it prints, let the scripted browser produce the redirect,
    // and paste that into tokcli's stdin.
    let mut child = home
        .cmd()
        .args(["login", &srv.issuer, "--client-id", PUBLIC, "--profile", "m", "--manual", "--timeout", "60s"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut reader = std::io::BufReader::new(stderr);
    let url = loop {
        let mut l = String::new();
        assert!(std::io::BufRead::read_line(&mut reader, &mut l).expect("read") > 0, "no URL printed");
        if l.trim_start().starts_with("http") && l.contains("/auth?") {
            break l.trim().to_owned();
        }
    };
    let out = Command::new(OidcServer::fakebrowser())
        .arg(&url)
        .env("FAKEBROWSER_PRINT_REDIRECT", "1")
        .output()
        .expect("fakebrowser");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let redirect = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(redirect.contains("code="), "{redirect}");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), format!("{redirect}\n").as_bytes()).expect("paste");
    let o = child.wait_with_output().expect("wait");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).ok();
    assert!(o.status.success(), "{rest}");
    assert!(o.stdout.is_empty());
    home.run(&["token", "m"]).ok();
}

#[test]
fn client_credentials_confidential_client() {
    let srv = OidcServer::start();
    let home = Home::new();
    let r = home.run_stdin(
        &[
            "login",
            &srv.issuer,
            "--client-id",
            "tokcli-cc",
            "--client-secret-stdin",
            "--client-credentials",
            "--scope",
            "api:read",
            "--profile",
            "ci",
        ],
        "tokcli-cc-secret\n",
        |_| {},
    );
    r.ok();
    let at1 = home.run(&["token", "ci"]).ok().line();
    assert_eq!(srv.introspect(&at1)["active"], true);
    // the secret is sealed in the store, never in plaintext
    let raw = std::fs::read(home.db()).expect("db");
    assert!(!raw.windows(16).any(|w| w == b"tokcli-cc-secret"));
    // "refresh" is a new client-credentials request under the same lock
    home.expire("ci");
    let at2 = home.run(&["token", "ci"]).ok().line();
    assert_ne!(at1, at2);
    assert_eq!(srv.stats()["token"]["client_credentials"], 2);
}

#[test]
fn refresh_token_import_and_confidential_auth_code() {
    let srv = OidcServer::start();
    let home = Home::new();
    // a confidential auth-code client: secret from the environment, Basic auth at the token endpoint
    let r = home.run_with(
        &["login", &srv.issuer, "--client-id", "tokcli-confidential", "--profile", "conf", "--timeout", "60s"],
        |c| {
            c.env("BROWSER", OidcServer::fakebrowser()).env("TOKCLI_CLIENT_SECRET", "tokcli-confidential-secret");
        },
    );
    r.ok();
    let rt = home.secret("conf", Field::RefreshToken).expect("rt");
    // import that refresh token into another home: validated by an immediate refresh.
    let other = Home::new();
    let r = other.run_stdin(
        &[
            "login",
            &srv.issuer,
            "--client-id",
            "tokcli-confidential",
            "--client-secret-stdin",
            "--refresh-token-stdin",
            "--profile",
            "imp",
        ],
        &format!("tokcli-confidential-secret\n{rt}\n"),
        |_| {},
    );
    r.ok();
    assert_eq!(srv.refresh_count(), 1);
    let at = other.run(&["token", "imp"]).ok().line();
    assert_eq!(srv.introspect(&at)["active"], true);
    // a bogus refresh token is refused with exit 3 and nothing stored
    let third = Home::new();
    let r = third.run_stdin(
        &[
            "login",
            &srv.issuer,
            "--client-id",
            "tokcli-confidential",
            "--client-secret-stdin",
            "--refresh-token-stdin",
            "--profile",
            "bad",
        ],
        "tokcli-confidential-secret\nnot-a-token\n",
        |_| {},
    );
    r.code(3);
    assert!(!third.db().exists());
}

#[test]
fn device_flow_approve_and_deny() {
    let srv = OidcServer::start();
    for (action, want) in [("approve", 0), ("deny", 7)] {
        let home = Home::new();
        let mut child = home
            .cmd()
            .args(["login", &srv.issuer, "--client-id", PUBLIC, "--device", "--profile", "dev", "--timeout", "60s"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let mut reader = std::io::BufReader::new(stderr);
        let (mut uri, mut code) = (String::new(), String::new());
        let mut seen = String::new();
        while code.is_empty() {
            let mut l = String::new();
            assert!(std::io::BufRead::read_line(&mut reader, &mut l).expect("read") > 0, "no user code: {seen}");
            seen.push_str(&l);
            if let Some(rest) = l.strip_prefix("To log in, open ") {
                let (u, c) = rest.split_once(" and enter the code: ").expect("format");
                uri = u.to_owned();
                code = c.trim().to_owned();
            }
        }
        let out = Command::new(crate::support::repo().join("tests/oidc/device-approve"))
            .args([&uri, &code, action])
            .output()
            .expect("device-approve");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let o = child.wait_with_output().expect("wait");
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut reader, &mut rest).ok();
        assert_eq!(o.status.code(), Some(want), "{action}: {rest}");
        if want == 0 {
            home.run(&["token", "dev"]).ok();
        }
    }
}

/// TE-10 against the real server: its ID tokens are RS256 and verify against its jwks_uri.
#[test]
fn id_token_signature_verifies_against_the_real_jwks() {
    use base64::Engine as _;
    let srv = OidcServer::start();
    let home = Home::new();
    let r = home.run_with(
        &["-v", "login", &srv.issuer, "--client-id", PUBLIC, "--profile", "sig", "--timeout", "60s"],
        |c| {
            c.env("BROWSER", OidcServer::fakebrowser());
        },
    );
    r.ok();
    assert!(r.stderr.contains("the ID token's signature verifies against"), "{}", r.stderr);
    let id = home.run(&["token", "sig", "--id-token"]).ok().line();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id.split('.').next().unwrap()).unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(header["alg"], "RS256", "{header}");
}
