//! CLI contract tests that need no server: exit codes, help, bad input, hostile stores.

use crate::support::Home;

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
