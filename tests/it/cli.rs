//! CLI contract tests that need no server: exit codes, help, bad input, hostile stores.

use crate::support::{Home, Run, bin};

#[test]
fn help_documents_exit_codes_and_has_no_secret_flags() {
    let home = Home::new();
    let r = home.run(&["--help"]);
    r.ok();
    for code in ["  3 ", "  4 ", "  6 ", "  7 ", "  130 "] {
        assert!(r.stdout.contains(code), "missing exit code {code}");
    }
    for sub in ["login", "token", "refresh", "list", "revoke"] {
        let h = home.run(&[sub, "--help"]);
        h.ok();
        assert!(h.stdout.contains("Examples:"), "{sub} --help has examples");
        for bad in ["--client-secret ", "--refresh-token ", "--password", "--access-token"] {
            assert!(!h.stdout.contains(bad), "{sub} has a secret-bearing flag {bad}");
        }
    }
}

#[test]
fn token_without_store_is_exit_3_and_creates_nothing() {
    let home = Home::new();
    let r = home.run(&["token", "nope"]);
    r.code(3);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("no profile named nope"));
    assert!(r.stderr.contains("hint:"));
    assert!(!home.db().exists());
}

#[test]
fn bad_usage_is_exit_2() {
    let home = Home::new();
    home.run(&["token"]).code(2);
    home.run(&["token", "x", "--min-valid", "soon"]).code(2);
    home.run(&["token", "../etc"]).code(2);
    let r = home.run(&["login", "http://example.com", "--client-id", "x"]);
    r.code(2);
    assert!(r.stderr.contains("plain-http"), "{}", r.stderr);
    home.run(&["login", "https://127.0.0.1:1", "--client-id", "x"]).code(4);
    let r = home.run_with(&["token", "x"], |c| {
        c.env("TOKCLI_KEY_SOURCE", "plaintext");
    });
    r.code(2);
}

#[test]
fn list_on_empty_home_is_empty() {
    let home = Home::new();
    assert_eq!(home.run(&["list", "--json"]).ok().stdout.trim(), "[]");
    assert!(home.run(&["list"]).ok().stdout.is_empty());
}

#[test]
fn hostile_store_files_are_refused_untouched() {
    let home = Home::new();
    for content in [Vec::new(), vec![0x5a; 8192], b"not sqlite at all".repeat(100)] {
        std::fs::write(home.db(), &content).expect("write");
        let mut perms = std::fs::metadata(home.db()).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        std::fs::set_permissions(home.db(), perms).expect("chmod");
        for args in [&["token", "x"][..], &["list"][..]] {
            let r = home.run(args);
            r.code(5);
            assert!(r.stderr.contains("store unreadable"), "{}", r.stderr);
        }
        assert_eq!(std::fs::read(home.db()).expect("read"), content, "file untouched");
    }
}

#[test]
fn world_readable_store_is_refused() {
    let home = Home::new();
    std::fs::write(home.db(), b"").expect("write");
    let mut perms = std::fs::metadata(home.db()).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(home.db(), perms).expect("chmod");
    let r = home.run(&["list"]);
    r.code(5);
    assert!(r.stderr.contains("tokcli.db is accessible by other users"), "{}", r.stderr);
    home.run(&["list", "--fix-permissions"]).code(5); // repaired, then refused as an empty file
}

/// LB-06: on a host without IPv4 loopback (a network namespace whose `lo` has only ::1), the
/// login listens on [::1] and sends `redirect_uri=http://[::1]:PORT/callback`; the browser's
/// redirect to it is received and checked (here it carries access_denied: exit 7). Needs root for
/// the namespace, as CI has.
#[test]
fn lb_06_ipv6_only_host_gets_the_ipv6_loopback() {
    let home = Home::new();
    std::fs::write(
        home.path().join("config.toml"),
        "[providers.v6]\nauthorization_endpoint = \"http://[::1]:9/authorize\"\ntoken_endpoint = \"http://[::1]:9/token\"\n",
    )
    .unwrap();
    let out = home.path().join("browser-saw");
    let browser = home.path().join("browser.sh");
    std::fs::write(
        &browser,
        format!(
            r#"#!/bin/sh
url="$1"
printf '%s\n' "$url" > '{out}.url'
redirect=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlsplit(sys.argv[1]).query)["redirect_uri"][0])' "$url")
state=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlsplit(sys.argv[1]).query)["state"][0])' "$url")
curl -s -o /dev/null -w '%{{http_code}}' "$redirect?error=access_denied&state=$state" > '{out}.code'
"#,
            out = out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // tokcli runs inside `unshare -n`, with the home's usual environment.
    let out_of = home
        .cmd_for("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up && ip addr del 127.0.0.1/8 dev lo && exec \"$@\"", "sh"])
        .arg(bin())
        .args(["login", "v6", "--client-id", "c", "--profile", "v6", "--timeout", "20s"])
        .env("BROWSER", &browser)
        .output()
        .expect("unshare (util-linux)");
    let r = Run::of(&out_of);
    let url = std::fs::read_to_string(format!("{}.url", out.display()))
        .unwrap_or_else(|_| panic!("the browser never ran: {}", r.stderr));
    assert!(url.contains("redirect_uri=http%3A%2F%2F%5B%3A%3A1%5D%3A"), "redirect_uri is not [::1]: {url}");
    r.code(7);
    assert!(r.stderr.contains("access_denied"), "{}", r.stderr);
    let code = std::fs::read_to_string(format!("{}.code", out.display())).unwrap_or_default();
    // The listener on [::1] answered the redirect with its "Login failed" page.
    assert_eq!(code.trim(), "400", "the [::1] listener answered the redirect");
}
