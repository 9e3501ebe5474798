//! The OS keyring key source against a real Secret Service: gnome-keyring under
//! `dbus-run-session` (KM-01..KM-06). Each test gets its own session bus and keyring files.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Home, KeyringSession as Session, OidcServer};

fn login(s: &Session, home: &Home, srv: &OidcServer) {
    home.run_with(
        &["login", &srv.issuer, "--client-id", "tokcli-public", "--profile", "kr", "--timeout", "60s"],
        |c| {
            s.apply(c);
            c.env("BROWSER", OidcServer::fakebrowser());
        },
    )
    .ok();
}

#[test]
fn key_lives_in_secret_service_and_locked_keyring_is_exit_6() {
    let s = Session::start();
    let srv = OidcServer::start();
    let home = Home::new();
    login(&s, &home, &srv);
    assert_eq!(s.tokcli_items(), 1, "exactly one keyring item: the 32-byte store key (KM-05)");
    let pinned: Vec<u8> =
        home.sql().query_row("SELECT value FROM meta WHERE key='key_source'", [], |r| r.get(0)).expect("meta");
    assert_eq!(pinned, b"keyring");
    // a new process reads the key back from the Secret Service
    let at = s.run(&home, &["token", "kr"]).ok().line();
    assert_eq!(srv.introspect(&at)["active"], true);

    // KM-06: 64 concurrent readers all get the key.
    let kids: Vec<_> = (0..64)
        .map(|_| {
            let mut c = home.cmd();
            s.apply(&mut c);
            c.args(["token", "kr"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().expect("wait");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    // Locked: the kernel-keyring copy of the key (read from the Secret Service above, scoped to
    // this D-Bus session) keeps the hot path working until it expires — the documented trade-off.
    s.lock();
    assert_eq!(s.run(&home, &["token", "kr"]).ok().line(), at);
    // Without the cache: exit 6 within a few seconds, a message that says how to unlock,
    // nothing changed.
    home.expire("kr");
    let before = home.sha256_db();
    let t = Instant::now();
    let r = home.run_with(&["token", "kr"], |c| {
        s.apply(c);
        c.env("TOKCLI_KEY_CACHE", "off");
    });
    r.code(6);
    assert!(t.elapsed() < Duration::from_secs(6), "took {:?}", t.elapsed());
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("locked") && r.stderr.contains("unlock"), "{}", r.stderr);
    assert!(r.stderr.contains("TOKCLI_KEY_SOURCE"), "names the headless options: {}", r.stderr);
    assert_eq!(home.sha256_db(), before);
    assert_eq!(srv.refresh_count(), 0);
}

#[test]
fn missing_entry_or_bus_never_makes_a_new_key() {
    let s = Session::start();
    let srv = OidcServer::start();
    let home = Home::new();
    login(&s, &home, &srv);
    let before = home.sha256_db();
    // The login's read-back does not populate the kernel cache, but be explicit: this test is
    // about the Secret Service itself.

    // No session bus at all.
    let r = home.run_with(&["token", "kr"], |c| {
        s.apply(c);
        c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    });
    r.code(6);
    assert!(r.stderr.contains("TOKCLI_KEY_SOURCE"), "{}", r.stderr);

    // The entry deleted behind tokcli's back.
    let st = s.command("secret-tool").args(["clear", "service", "tokcli"]).status().expect("secret-tool clear");
    assert!(st.success());
    assert_eq!(s.tokcli_items(), 0);
    let r = home.run_with(&["token", "kr"], |c| {
        s.apply(c);
        c.env("TOKCLI_KEY_CACHE", "off");
    });
    r.code(6);
    assert!(r.stderr.contains("missing"), "{}", r.stderr);
    assert_eq!(s.tokcli_items(), 0, "no new key generated while the store holds ciphertexts (KM-03)");
    assert_eq!(home.sha256_db(), before);

    // A first login with no reachable keyring creates nothing.
    let fresh = Home::new();
    let r = fresh.run_with(&["login", &srv.issuer, "--client-id", "tokcli-public", "--profile", "x"], |c| {
        s.apply(c);
        c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus").env("BROWSER", OidcServer::fakebrowser());
    });
    r.code(6);
    assert!(!fresh.db().exists());
}
