//! Many processes and many profiles at once (issue 4): the 200-process storm and CC-T2 against the
//! real oidc-provider, `refresh --all` over 200 profiles with failures, and device-flow polling.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::mockas::{self, MockAs, Reply};
use crate::support::{Home, OidcServer};

fn spawn_tokens(home: &Home, profiles: &[String]) -> Vec<std::process::Output> {
    let kids: Vec<_> = profiles
        .iter()
        .map(|p| {
            let mut c = home.cmd();
            c.args(["token", p]).stdout(Stdio::piped()).stderr(Stdio::piped());
            c.spawn().expect("spawn")
        })
        .collect();
    kids.into_iter().map(|k| k.wait_with_output().expect("wait")).collect()
}

fn login_real(home: &Home, srv: &OidcServer, profile: &str) {
    home.run_with(
        &["login", &srv.issuer, "--client-id", "tokcli-public", "--profile", profile, "--timeout", "60s"],
        |c| {
            c.env("BROWSER", OidcServer::fakebrowser());
        },
    )
    .ok();
}

/// CC-T1 at 200 processes, repeated: exactly one refresh reaches the rotating server per round,
/// every process prints the same token, nobody sees "database is locked", the grant survives.
#[test]
fn storm_200_processes_real_server() {
    let srv = OidcServer::start();
    let home = Home::new();
    login_real(&home, &srv, "s");
    let names: Vec<String> = vec!["s".into(); 200];
    for round in 0..3 {
        home.expire("s");
        let before = srv.refresh_count();
        let outs = spawn_tokens(&home, &names);
        for o in &outs {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "round {round}: {err}");
            assert!(!err.contains("database is locked"));
        }
        assert!(outs.iter().all(|o| o.stdout == outs[0].stdout), "round {round}: one token for all");
        assert_eq!(srv.refresh_count() - before, 1, "round {round}: exactly one refresh");
    }
    home.run(&["refresh", "s"]).ok();
}

/// CC-T2: 64 processes over 8 profiles with mixed expiry, repeated: zero exit 5, zero
/// "database is locked", and exactly one refresh per expired profile per round.
#[test]
fn cc_t2_64_processes_over_8_profiles_mixed_expiry() {
    let srv = OidcServer::start();
    let home = Home::new();
    let profiles: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    for p in &profiles {
        login_real(&home, &srv, p);
    }
    for round in 0..5 {
        // Within each round some profiles are expired and some fresh; which ones changes by round.
        let expired: Vec<&String> =
            profiles.iter().enumerate().filter(|(i, _)| (i + round) % 3 == 0).map(|(_, p)| p).collect();
        for p in &expired {
            home.expire(p);
        }
        let before = srv.refresh_count();
        let calls: Vec<String> = (0..64).map(|i| profiles[i % 8].clone()).collect();
        let outs = spawn_tokens(&home, &calls);
        for o in &outs {
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "round {round}: {err}");
            assert!(!err.contains("database is locked"), "round {round}: {err}");
        }
        for (i, o) in outs.iter().enumerate() {
            assert_eq!(o.stdout, outs[i % 8].stdout, "round {round}: one token per profile");
        }
        assert_eq!(
            srv.refresh_count() - before,
            expired.len() as u64,
            "round {round}: one refresh per expired profile"
        );
    }
}

/// `refresh --all` over 200 profiles, one failing for good (invalid_grant) and one transiently
/// (503): the report and the exit code say so, and every other profile is refreshed.
#[test]
fn refresh_all_200_profiles_with_a_permanent_and_a_transient_failure() {
    let mock = MockAs::start();
    let home = Home::new();
    let names = mockas::login_many(&home, &mock, 200);
    let (dead, flaky) = (&names[17], &names[123]);
    // Point the two profiles at token endpoints that fail, as a provider would for them.
    mock.set_default("/token-dead", Reply::Json(400, json!({"error": "invalid_grant"})));
    mock.set_default("/token-flaky", Reply::RetryAfter(503, "0".into()));
    let sql = home.sql();
    for (p, path) in [(dead, "/token-dead"), (flaky, "/token-flaky")] {
        sql.execute("UPDATE profiles SET token_endpoint = ?1 WHERE name = ?2", [mock.url(path), p.clone()])
            .expect("sql");
    }
    let before = mock.count_grant("refresh_token");
    let r = home.run(&["refresh", "--all", "--jobs", "16", "--json"]);
    r.code(3);
    let rep: serde_json::Value = serde_json::from_str(&r.stdout).expect("json report");
    assert_eq!(rep["refreshed"], 198);
    assert_eq!(rep["failed"], 2);
    assert_eq!(rep["skipped"], 0);
    let status = |p: &str| {
        rep["results"].as_array().expect("results").iter().find(|x| x["profile"] == p).expect("profile")["status"]
            .clone()
    };
    assert_eq!(status(dead), "failed");
    assert_eq!(status(flaky), "failed");
    assert_eq!(status(&names[0]), "refreshed");
    assert_eq!(mock.count_grant("refresh_token") - before, 198, "every good profile refreshed once");
    assert_eq!(mock.count("/token-flaky"), 3, "transient failures are retried (3 attempts)");
    assert_eq!(mock.count("/token-dead"), 1, "invalid_grant is not retried");
    // The dead one needs a login; the flaky one is still active and retried by the next run.
    let list: serde_json::Value = serde_json::from_str(&home.run(&["list", "--json"]).ok().stdout).expect("list");
    let st = |p: &str| list.as_array().expect("list").iter().find(|x| x["profile"] == p).expect("p")["status"].clone();
    assert_eq!(st(dead), "needs-login");
    assert_eq!(st(flaky), "error");
    // Only the transient failure left: exit 4 (try later), not 3.
    let r2 = home.run(&["refresh", &names[5], flaky]);
    r2.code(4);
}

/// DG-02/DG-03: the first poll waits `interval`, and `slow_down` adds 5 s to it for good.
#[test]
fn device_flow_slow_down_adds_five_seconds() {
    let mock = MockAs::start();
    mock.set_device_interval(Some(1));
    mock.script("/token", vec![Reply::Json(400, json!({"error": "slow_down"}))]);
    let home = Home::new();
    let child = home
        .cmd()
        .args([
            "login",
            &mock.issuer(),
            "--client-id",
            mockas::CLIENT_ID,
            "--device",
            "--profile",
            "d",
            "--timeout",
            "60s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let t0 = std::time::Instant::now();
    while mock.count("/token") < 2 {
        assert!(t0.elapsed() < Duration::from_secs(20), "no second poll");
        std::thread::sleep(Duration::from_millis(50));
    }
    mock.approve_device();
    let o = child.wait_with_output().expect("wait");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let polls: Vec<_> = mock.requests("/token").iter().map(|r| r.received_at).collect();
    let started = mock.requests("/device_authorization")[0].received_at;
    let first = polls[0] - started;
    assert!(first >= Duration::from_millis(950), "first poll after the interval: {first:?}");
    for w in polls.windows(2) {
        assert!(w[1] - w[0] >= Duration::from_millis(5950), "after slow_down the interval is 1+5 s: {:?}", w[1] - w[0]);
    }
    assert!(polls.len() >= 3, "polled until approved");
}

/// DG-04 against the real server: a device code that expires unapproved ends the login with
/// exit 7 and nothing stored.
#[test]
fn device_code_expiry_real_server() {
    let srv = OidcServer::start_with(&[], &[("DEVICE_TTL", "7")]);
    let home = Home::new();
    let t0 = std::time::Instant::now();
    let r = home.run(&[
        "login",
        &srv.issuer,
        "--client-id",
        "tokcli-public",
        "--device",
        "--profile",
        "x",
        "--timeout",
        "60s",
    ]);
    r.code(7);
    assert!(r.stderr.contains("expired"), "{}", r.stderr);
    assert!(t0.elapsed() < Duration::from_secs(15));
    assert!(!home.db().exists() || home.run(&["list", "--json"]).stdout.trim() == "[]");
}
