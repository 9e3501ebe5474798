//! The fault matrix (SECURITY-RELIABILITY §2.14) and the token-endpoint rows it leans on (TE-08,
//! TE-09, TE-12), black-box against [`MockAs`].
//!
//! Every failure case checks the exit code, that stdout is empty, that stderr is a `tokcli: error:`
//! report without the response body, a token or the mock's canary, the request count at the mock,
//! and that the stored grant did not change. Successes check that stdout is exactly the token and
//! one newline.
//!
//! Environment faults need root (the suite runs as root locally and in CI):
//! - read-only home (FI-23): root ignores mode bits, so the home is chowned to uid 65534 with the
//!   write bits removed and tokcli runs as that uid (`Command::uid`, no external tool, works in an
//!   unprivileged container too). Non-root runs just drop the write bits.
//! - disk full (FI-21, FI-22): a 1 MiB tmpfs mounted over the test's home (`mount -t tmpfs`, needs
//!   CAP_SYS_ADMIN), filled with a file.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::mockas::{self, CLIENT_ID, MockAs, Reply, http, http_get};
use crate::support::{Home, Run, TmpfsHome};

const P: &str = "work";

// ---------------------------------------------------------------------------------------------
// Helpers

fn canary() -> String {
    format!("CNRY{:08x}", rand::random::<u32>())
}

/// A mock with a canary, a home and one logged-in profile `work`.
struct Env {
    home: Home,
    mock: MockAs,
    canary: String,
}

fn setup() -> Env {
    let mock = MockAs::start();
    let canary = canary();
    mock.set_canary(&canary);
    let home = Home::new();
    mockas::login(&home, &mock, P);
    Env { home, mock, canary }
}

/// The parts of a profile row that a failed refresh must leave alone.
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    generation: i64,
    access_ct: Option<Vec<u8>>,
    refresh_ct: Option<Vec<u8>>,
    expires_at: Option<i64>,
}

fn stored(home: &Home, name: &str) -> Stored {
    home.sql()
        .query_row(
            "SELECT generation, access_token_ct, refresh_token_ct, expires_at FROM profiles WHERE name = ?1",
            [name],
            |r| {
                Ok(Stored { generation: r.get(0)?, access_ct: r.get(1)?, refresh_ct: r.get(2)?, expires_at: r.get(3)? })
            },
        )
        .unwrap_or_else(|e| panic!("no profile {name}: {e}"))
}

fn profile_count(home: &Home) -> i64 {
    if !home.db().exists() {
        return 0;
    }
    home.sql().query_row("SELECT count(*) FROM profiles", [], |r| r.get(0)).unwrap()
}

fn list_json(home: &Home) -> serde_json::Value {
    let r = home.run(&["list", "--json"]);
    r.ok();
    serde_json::from_str(&r.stdout).unwrap()
}

/// A failed run: the exit code, empty stdout, one error report, no secret or body echoed.
#[track_caller]
fn assert_fail(r: &Run, code: i32, canary: &str) {
    r.code(code);
    assert!(r.stdout.is_empty(), "stdout must be empty on failure: {:?}", r.stdout);
    assert!(r.stderr.contains("tokcli: error:"), "no error report on stderr: {}", r.stderr);
    assert!(!r.stderr.contains(canary), "a token, code or body leaked to stderr: {}", r.stderr);
    assert!(!r.stderr.contains('\x1b') && !r.stderr.contains('\x07'), "control bytes on stderr: {:?}", r.stderr);
}

/// A successful `token`: stdout is exactly the token and one newline.
#[track_caller]
fn assert_token(r: &Run, token: &str, canary: &str) {
    r.ok();
    assert_eq!(r.stdout, format!("{token}\n"));
    assert!(!r.stderr.contains(canary), "a token leaked to stderr: {}", r.stderr);
}

/// A running tokcli whose stderr is streamed line by line.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    err_reader: Option<JoinHandle<()>>,
    out_reader: Option<JoinHandle<String>>,
    started: Instant,
}

impl Proc {
    fn spawn(mut c: Command) -> Proc {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = c.spawn().expect("spawn tokcli");
        let (tx, lines) = channel();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (buf, pipe) = (Arc::clone(&stderr), child.stderr.take().unwrap());
        let err_reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                buf.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let mut out = child.stdout.take().unwrap();
        let out_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        Proc { child, lines, stderr, err_reader: Some(err_reader), out_reader: Some(out_reader), started }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([&format!("-{sig}"), &self.pid().to_string()]).status().unwrap();
        assert!(ok.success(), "kill -{sig} failed");
    }

    /// Waits for a stderr line matching `f`.
    fn line_where(&self, limit: Duration, f: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + limit;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if f(&l) => return l,
                Ok(_) => {}
                Err(_) => {
                    panic!("no matching stderr line within {limit:?}; stderr so far:\n{}", self.stderr.lock().unwrap())
                }
            }
        }
    }

    /// Waits at most `limit` for the exit; kills and panics after that.
    fn wait(mut self, limit: Duration) -> (Run, Duration) {
        use std::os::unix::process::ExitStatusExt as _;
        let until = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("tokcli still running after {limit:?}; stderr:\n{}", self.stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.started.elapsed();
        let stdout = self.out_reader.take().unwrap().join().unwrap();
        self.err_reader.take().unwrap().join().unwrap();
        let stderr = self.stderr.lock().unwrap().clone();
        let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        (Run { code, stdout, stderr }, elapsed)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spawn_token(home: &Home, args: &[&str]) -> Proc {
    let mut c = home.cmd();
    c.arg("token").arg(P).args(args);
    Proc::spawn(c)
}

fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `tokcli login --no-browser` driven by hand: the test plays the browser.
struct Login {
    proc: Option<Proc>,
    auth_url: url::Url,
    state: String,
    redirect: url::Url,
    issuer: String,
}

impl Login {
    fn start(home: &Home, mock: &MockAs, extra: &[&str]) -> Login {
        let mut c = home.cmd();
        c.args(["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", P, "--no-browser"]).args(extra);
        let proc = Proc::spawn(c);
        let line = proc.line_where(Duration::from_secs(10), |l| l.starts_with("  http"));
        let auth_url = url::Url::parse(line.trim()).unwrap();
        let q = |k: &str| auth_url.query_pairs().find(|(a, _)| a == k).map(|(_, v)| v.into_owned());
        let redirect = url::Url::parse(&q("redirect_uri").expect("redirect_uri")).unwrap();
        Login { state: q("state").expect("state"), redirect, auth_url, proc: Some(proc), issuer: mock.issuer() }
    }

    fn wait(&mut self, limit: Duration) -> (Run, Duration) {
        self.proc.take().expect("already waited").wait(limit)
    }

    fn signal(&self, sig: &str) {
        self.proc.as_ref().expect("running").signal(sig);
    }

    fn addr(&self) -> SocketAddr {
        format!("127.0.0.1:{}", self.redirect.port().unwrap()).parse().unwrap()
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.redirect.port().unwrap())
    }

    /// GET `/callback?<query>` with the right Host.
    fn callback(&self, query: &str) -> std::io::Result<mockas::RawResponse> {
        http(self.addr(), "GET", &format!("{}?{query}", self.redirect.path()), &self.host(), &[], b"")
    }

    /// Lets the mock approve the authorization request; returns the redirect's query string.
    fn approve(&self) -> String {
        let r = http_get(self.auth_url.as_str()).unwrap();
        assert_eq!(r.status, 302, "mock /authorize refused: {}", String::from_utf8_lossy(&r.body));
        let loc = url::Url::parse(r.header("location").unwrap()).unwrap();
        assert_eq!(loc.port(), self.redirect.port());
        loc.query().unwrap().to_owned()
    }

    fn iss(&self) -> String {
        url::form_urlencoded::byte_serialize(self.issuer.as_bytes()).collect()
    }

    fn port_closed(&self) -> bool {
        TcpStream::connect_timeout(&self.addr(), Duration::from_secs(1)).is_err()
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let f = tempfile::NamedTempFile::new().unwrap();
    f.as_file().metadata().unwrap().uid() == 0
}

const NOBODY: u32 = 65_534;

/// Makes `home` read-only for the runs of [`ReadOnly::run`]; restores it on drop.
struct ReadOnly<'a> {
    home: &'a Home,
    root: bool,
}

impl<'a> ReadOnly<'a> {
    fn new(home: &'a Home) -> Self {
        let root = is_root();
        walk(home.path(), &mut |p, is_dir| {
            if root {
                std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).unwrap();
            }
            chmod(p, if is_dir { 0o500 } else { 0o400 });
        });
        Self { home, root }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.home.run_with(args, |c| {
            if self.root {
                use std::os::unix::process::CommandExt as _;
                c.uid(NOBODY).gid(NOBODY);
            }
        })
    }
}

impl Drop for ReadOnly<'_> {
    fn drop(&mut self) {
        walk(self.home.path(), &mut |p, is_dir| {
            chmod(p, if is_dir { 0o700 } else { 0o600 });
            if self.root {
                let _ = std::os::unix::fs::chown(p, Some(0), Some(0));
            }
        });
    }
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn walk(p: &Path, f: &mut dyn FnMut(&Path, bool)) {
    let is_dir = p.is_dir();
    if is_dir {
        // Children first so a read-only directory never blocks the walk (root or not).
        chmod(p, 0o700);
        for e in std::fs::read_dir(p).unwrap() {
            walk(&e.unwrap().path(), f);
        }
    }
    f(p, is_dir);
}

fn html_page(canary: &str) -> Vec<u8> {
    format!("<!doctype html><html><body><h1>Captive portal</h1><p>secret-{canary}</p></body></html>").into_bytes()
}

// ---------------------------------------------------------------------------------------------
// FI-01..FI-07: the token endpoint during a refresh

/// FI-01 / TE-03: an HTML page, with 200 or 5xx, is never parsed for tokens; exit 4, the message
/// names status and content type, the body is not echoed.
#[test]
fn fi_01_html_response() {
    for (status, want_requests) in [(200, 1), (502, 3)] {
        let e = setup();
        e.home.expire(P);
        let before = stored(&e.home, P);
        e.mock.set_default(
            "/token",
            Reply::Raw {
                status,
                content_type: "text/html; charset=utf-8".into(),
                body: html_page(&e.canary),
                headers: vec![],
            },
        );
        let r = e.home.run(&["token", P]);
        assert_fail(&r, 4, &e.canary);
        assert!(
            r.stderr.contains(&format!("non-JSON response (status {status}, content-type text/html")),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("Captive") && !r.stderr.contains('<'), "body echoed: {}", r.stderr);
        assert_eq!(e.mock.count_grant("refresh_token"), want_requests, "HTTP {status}: 5xx is retried, 200 is not");
        assert_eq!(stored(&e.home, P), before);
    }
}

/// FI-02 / TE-04: no `expires_in` on an opaque token: stored with the assumed lifetime (300 s),
/// served from the cache without another request.
#[test]
fn fi_02_missing_expires_in() {
    let mock = MockAs::start();
    mock.set_expires_in(None);
    let home = Home::new();
    mockas::login(&home, &mock, P);
    let lifetime: i64 = home
        .sql()
        .query_row("SELECT expires_at - obtained_at FROM profiles WHERE name = ?1", [P], |r| r.get(0))
        .unwrap();
    assert_eq!(lifetime, 300, "assume_lifetime, never infinite");
    let at = mock.last_access_token().unwrap();
    for _ in 0..3 {
        assert_token(&home.run(&["token", P]), &at, "\x00");
    }
    assert_eq!(mock.count("/token"), 1, "only the code exchange");
    // A refresh without expires_in gets the same treatment.
    home.expire(P);
    let r = home.run(&["token", P]);
    assert_token(&r, &mock.last_access_token().unwrap(), "\x00");
    let exp = list_json(&home)[0]["expires_in"].as_i64().unwrap();
    assert!((295..=300).contains(&exp), "expires_in {exp}");
}

/// FI-03 / TE-07: a 100 MiB body: reading stops at 1 MiB, exit 4 quickly, nothing stored.
#[test]
fn fi_03_huge_body() {
    let e = setup();
    e.home.expire(P);
    let before = stored(&e.home, P);
    e.mock.set_default("/token", Reply::Huge(100 << 20));
    let t = Instant::now();
    let r = e.home.run(&["token", P, "--timeout", "20s"]);
    let took = t.elapsed();
    assert!(r.code == 4 || r.code == 2, "exit {}: {}", r.code, r.stderr);
    assert_fail(&r, r.code, &e.canary);
    assert!(r.stderr.contains("larger than 1024 KiB"), "{}", r.stderr);
    assert!(!r.stderr.contains("aaaa"), "body echoed: {}", r.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(e.mock.count_grant("refresh_token"), 1);
    assert_eq!(stored(&e.home, P), before);
}

fn fi_04(reply: Reply) {
    let e = setup();
    e.home.expire(P);
    let before = stored(&e.home, P);
    e.mock.set_default("/token", reply);
    let t = Instant::now();
    let r = e.home.run(&["token", P, "--timeout", "5s"]);
    let took = t.elapsed();
    assert_fail(&r, 4, &e.canary);
    assert!(took <= Duration::from_millis(6_500), "gave up after {took:?}, deadline 5 s");
    assert!((1..=2).contains(&e.mock.count_grant("refresh_token")));
    assert_eq!(stored(&e.home, P), before);
    // The lock was released with the process.
    let f = std::fs::File::open(e.home.path().join(format!("locks/{P}.lock"))).unwrap();
    f.try_lock().expect("the profile lock is free");
    // The diagnosis names the cause (a body read that times out is reported by reqwest as "request
    // or response body error", with the timeout only in its source chain).
    assert!(r.stderr.contains("timed out"), "the message does not say it timed out: {}", r.stderr);
}

/// FI-04 / TE-11: the token endpoint accepts and never answers: exit 4 at the deadline.
#[test]
fn fi_04_hang() {
    fi_04(Reply::Hang);
}

/// FI-04 / TE-11: a 1 byte/s drip gets the same treatment.
#[test]
fn fi_04_drip() {
    fi_04(Reply::Drip);
}

fn fi_05(status: u16) {
    let e = setup();
    e.home.expire(P);
    e.mock.script("/token", vec![Reply::RetryAfter(status, "2".into()), Reply::RetryAfter(status, "2".into())]);
    let r = e.home.run(&["token", P]);
    assert_token(&r, &e.mock.last_access_token().unwrap(), &e.canary);
    let reqs = e.mock.requests("/token");
    let refreshes: Vec<_> = reqs.iter().filter(|q| q.grant_type() == Some("refresh_token")).collect();
    assert_eq!(refreshes.len(), 3);
    for w in refreshes.windows(2) {
        let gap = w[1].received_at - w[0].received_at;
        assert!(gap >= Duration::from_secs(2), "Retry-After: 2 not honoured: {gap:?}");
    }
    assert_eq!(list_json(&e.home)[0]["status"], "active");
}

/// FI-05 / TE-12: 503 with `Retry-After: 2` twice, then success: waits, retries, exit 0.
#[test]
fn fi_05_retry_after_503() {
    fi_05(503);
}

/// FI-05 / TE-12: the same with 429.
#[test]
fn fi_05_retry_after_429() {
    fi_05(429);
}

/// FI-06 / RF-08: 5xx forever while the cached token is still valid (but under min_valid):
/// stale-while-error prints it with a warning; `--strict` exits 4.
#[test]
fn fi_06_stale_while_error() {
    let e = setup();
    let cached = e.mock.last_access_token().unwrap();
    let before = stored(&e.home, P);
    e.mock
        .set_default("/token", Reply::Json(503, json!({"error": "temporarily_unavailable", "error_description": "x"})));
    let r = e.home.run(&["token", P, "--min-valid", "2h"]);
    assert_token(&r, &cached, &e.canary);
    assert!(r.stderr.contains("warning") && r.stderr.contains("cached token"), "{}", r.stderr);
    assert_eq!(e.mock.count_grant("refresh_token"), 3, "TE-12: three attempts");
    let r = e.home.run(&["token", P, "--min-valid", "2h", "--strict"]);
    assert_fail(&r, 4, &e.canary);
    assert_eq!(e.mock.count_grant("refresh_token"), 6);
    assert_eq!(stored(&e.home, P), before);
    // The token itself is still served without a request when it is fresh enough.
    assert_token(&e.home.run(&["token", P]), &cached, &e.canary);
    assert_eq!(e.mock.count_grant("refresh_token"), 6);
}

/// FI-07 / RF-04: `invalid_grant` on refresh: exit 3, needs-login, and no later call contacts
/// the provider.
#[test]
fn fi_07_invalid_grant() {
    let e = setup();
    e.home.expire(P);
    e.mock.script("/token", vec![Reply::Json(400, json!({"error": "invalid_grant", "error_description": "revoked"}))]);
    let r = e.home.run(&["token", P]);
    assert_fail(&r, 3, &e.canary);
    assert!(r.stderr.contains("invalid_grant") && r.stderr.contains("tokcli login"), "{}", r.stderr);
    assert_eq!(e.mock.count_grant("refresh_token"), 1);
    for args in [&["token", P][..], &["token", P, "--force-refresh"], &["refresh", P]] {
        for _ in 0..4 {
            let r = e.home.run(args);
            assert_fail(&r, 3, &e.canary);
        }
    }
    assert_eq!(e.mock.count_grant("refresh_token"), 1, "no request after invalid_grant");
    let l = list_json(&e.home);
    assert_eq!(l[0]["status"], "needs-login");
    assert_eq!(l[0]["has_refresh_token"], false, "RF-04 wipes the dead tokens");
    // A new login repairs it.
    mockas::login(&e.home, &e.mock, P);
    assert_token(&e.home.run(&["token", P]), &e.mock.last_access_token().unwrap(), &e.canary);
}

// ---------------------------------------------------------------------------------------------
// FI-08..FI-13: the loopback callback

/// FI-08 / CB-02: `access_denied` with the right state: exit 7, nothing stored, no exchange.
#[test]
fn fi_08_access_denied() {
    let mock = MockAs::start();
    let home = Home::new();
    let mut l = Login::start(&home, &mock, &[]);
    let r = l
        .callback(&format!(
            "error=access_denied&error_description=The+user+said+no%1b%5b31m&state={}&iss={}",
            l.state,
            l.iss()
        ))
        .unwrap();
    assert_eq!(r.status, 400);
    let (run, _) = l.wait(Duration::from_secs(10));
    assert_fail(&run, 7, "\x00");
    assert!(run.stderr.contains("access_denied"), "{}", run.stderr);
    assert_eq!(mock.count("/token"), 0);
    assert_eq!(profile_count(&home), 0);
}

/// FI-09 / CB-01: a wrong or missing state gets 400 and the listener keeps waiting; the valid
/// callback then succeeds.
#[test]
fn fi_09_wrong_state_then_valid() {
    let mock = MockAs::start();
    let home = Home::new();
    let mut l = Login::start(&home, &mock, &[]);
    let good = l.approve();
    let code = url::form_urlencoded::parse(good.as_bytes()).find(|(k, _)| k == "code").unwrap().1.into_owned();
    for q in [
        format!("code={code}&state=not-the-state&iss={}", l.iss()),
        format!("code={code}&iss={}", l.iss()),
        format!("error=access_denied&state=wrong&iss={}", l.iss()),
        format!("code={code}&state={}&state={}&iss={}", l.state, l.state, l.iss()),
    ] {
        assert_eq!(l.callback(&q).unwrap().status, 400, "{q}");
    }
    let r = l.callback(&good).unwrap();
    assert_eq!(r.status, 303);
    let (run, _) = l.wait(Duration::from_secs(15));
    run.ok();
    assert!(run.stdout.is_empty());
    assert_eq!(mock.count_grant("authorization_code"), 1);
    assert_eq!(profile_count(&home), 1);
}

/// FI-10 / CB-07: stray requests (favicon, `/`, a foreign Host, POST, scanner bytes, a slowloris
/// connection) are refused and the real callback still succeeds.
#[test]
fn fi_10_stray_requests() {
    let mock = MockAs::start();
    let home = Home::new();
    let mut l = Login::start(&home, &mock, &[]);
    // A slowloris connection that never finishes its headers.
    let mut slow = TcpStream::connect(l.addr()).unwrap();
    slow.write_all(b"GET /callback?state=").unwrap();
    assert_eq!(http(l.addr(), "GET", "/favicon.ico", &l.host(), &[], b"").unwrap().status, 404);
    assert_eq!(http(l.addr(), "GET", "/", &l.host(), &[], b"").unwrap().status, 404);
    let good = l.approve();
    let target = format!("{}?{good}", l.redirect.path());
    assert_eq!(http(l.addr(), "GET", &target, "evil.example", &[], b"").unwrap().status, 400, "foreign Host");
    assert_eq!(http(l.addr(), "GET", &target, "localhost:1", &[], b"").unwrap().status, 400, "foreign Host");
    assert_eq!(http(l.addr(), "POST", &target, &l.host(), &[], b"x").unwrap().status, 405);
    {
        let mut scan = TcpStream::connect(l.addr()).unwrap();
        scan.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        scan.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n").unwrap();
        let mut sink = Vec::new();
        let _ = scan.read_to_end(&mut sink);
        assert!(!sink.starts_with(b"HTTP/1.1 2") && !sink.starts_with(b"HTTP/1.1 3"));
    }
    let r = l.callback(&good).unwrap();
    assert_eq!(r.status, 303, "the real callback still works");
    let (run, _) = l.wait(Duration::from_secs(15));
    run.ok();
    drop(slow);
    assert_eq!(mock.count_grant("authorization_code"), 1);
    assert_eq!(profile_count(&home), 1);
}

/// FI-11 / CB-05, LB-08: a replayed callback is refused (404/400 or connection refused) and the
/// code is exchanged once.
#[test]
fn fi_11_replayed_callback() {
    let mock = MockAs::start();
    let home = Home::new();
    let mut l = Login::start(&home, &mock, &[]);
    let good = l.approve();
    assert_eq!(l.callback(&good).unwrap().status, 303);
    if let Ok(r) = l.callback(&good) {
        assert!(r.status >= 400, "replay accepted with {}", r.status);
    }
    let (run, _) = l.wait(Duration::from_secs(15));
    run.ok();
    assert!(l.callback(&good).is_err(), "the listener is closed after the login");
    assert!(l.port_closed());
    assert_eq!(mock.count_grant("authorization_code"), 1);
}

/// FI-12 / LB-09: the browser never comes back: exit 7 at the timeout, listener closed, nothing
/// stored.
#[test]
fn fi_12_browser_never_returns() {
    let mock = MockAs::start();
    let home = Home::new();
    let mut l = Login::start(&home, &mock, &["--timeout", "3s"]);
    let (run, took) = l.wait(Duration::from_secs(10));
    assert_fail(&run, 7, "\x00");
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    assert!(took <= Duration::from_secs(4), "took {took:?} with --timeout 3s");
    assert!(
        TcpStream::connect_timeout(
            &format!("127.0.0.1:{}", l.redirect.port().unwrap()).parse().unwrap(),
            Duration::from_secs(1)
        )
        .is_err()
    );
    assert_eq!(mock.count("/token"), 0);
    assert_eq!(profile_count(&home), 0);
}

/// FI-13 / CR-04: Ctrl-C while waiting for the browser: exit 130 (or death by SIGINT), the port is
/// closed and nothing is stored.
#[test]
fn fi_13_sigint_while_waiting_for_browser() {
    let mock = MockAs::start();
    let home = Home::new();
    let mut l = Login::start(&home, &mock, &[]);
    l.signal("INT");
    let addr = l.addr();
    let (run, _) = l.wait(Duration::from_secs(5));
    run.code(130);
    assert!(run.stdout.is_empty());
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(), "listener still open");
    assert_eq!(mock.count("/token"), 0);
    assert_eq!(profile_count(&home), 0);
}

// ---------------------------------------------------------------------------------------------
// FI-14, FI-15: interrupted refreshes

/// FI-14 / CR-04: SIGINT after the refresh request was sent: the process finishes the commit,
/// then exits 130; the next call prints the new token without contacting the provider.
#[test]
fn fi_14_sigint_during_refresh() {
    let e = setup();
    e.home.expire(P);
    e.mock.script("/token", vec![Reply::Delay(Duration::from_secs(2), Box::new(Reply::Default))]);
    let before_at = e.mock.last_access_token();
    let p = spawn_token(&e.home, &[]);
    wait_until(Duration::from_secs(10), "the refresh request", || e.mock.count_grant("refresh_token") == 1);
    p.signal("INT");
    let (run, _) = p.wait(Duration::from_secs(40));
    // The mock has processed the refresh (after its delay) whatever tokcli did.
    wait_until(Duration::from_secs(5), "the mock to rotate", || e.mock.last_access_token() != before_at);
    run.code(130);
    let new_at = e.mock.last_access_token().unwrap();
    let next = e.home.run(&["token", P]);
    assert_token(&next, &new_at, &e.canary);
    assert_eq!(e.mock.count_grant("refresh_token"), 1, "the rotated token was persisted before exiting");
}

/// FI-15 / RF-05, CR-03: the provider rotates, then the connection drops before the response.
/// Without a grace window the RF-05 retry meets reuse detection: exit 3 saying the refresh was
/// interrupted, and no further request.
#[test]
fn fi_15_drop_after_commit_without_grace() {
    let e = setup();
    e.home.expire(P);
    e.mock.script("/token", vec![Reply::DropAfterCommit]);
    let r = e.home.run(&["token", P]);
    assert_fail(&r, 3, &e.canary);
    assert_eq!(e.mock.count_grant("refresh_token"), 2, "RF-05: exactly one retry with the same token");
    let reqs = e.mock.requests("/token");
    let rts: Vec<_> = reqs.iter().filter_map(|q| q.form_get("refresh_token")).collect();
    assert_eq!(rts[0], rts[1], "the retry presents the same refresh token");
    assert_eq!(e.mock.reuse_detected(), 1);
    let r2 = e.home.run(&["token", P]);
    assert_fail(&r2, 3, &e.canary);
    assert_eq!(e.mock.count_grant("refresh_token"), 2, "needs-login: no more requests");
    assert!(
        r.stderr.contains("interrupted"),
        "CR-03/RF-05: the message must say the refresh was interrupted:\n{}",
        r.stderr
    );
}

/// FI-15 / RF-05: with a reuse grace window the retry gets the same new pair: exit 0, and the
/// account keeps working.
#[test]
fn fi_15_drop_after_commit_with_grace() {
    let e = setup();
    e.mock.set_rotation(true, Some(Duration::from_secs(60)));
    e.home.expire(P);
    e.mock.script("/token", vec![Reply::DropAfterCommit]);
    let r = e.home.run(&["token", P]);
    assert_token(&r, &e.mock.last_access_token().unwrap(), &e.canary);
    assert_eq!(e.mock.count_grant("refresh_token"), 2);
    let r = e.home.run(&["token", P, "--force-refresh"]);
    assert_token(&r, &e.mock.last_access_token().unwrap(), &e.canary);
    assert_eq!(e.mock.count_grant("refresh_token"), 3);
    assert_eq!(e.mock.reuse_detected(), 0, "the family is intact");
}

// ---------------------------------------------------------------------------------------------
// FI-21..FI-23: the local disk

/// FI-21 / CR-02: disk full before the refresh: the pre-flight write fails, the provider is not
/// contacted, exit 5.
#[test]
fn fi_21_disk_full_before_refresh() {
    let t = TmpfsHome::new();
    let mock = MockAs::start();
    let c = canary();
    mock.set_canary(&c);
    mockas::login(&t.home, &mock, P);
    t.home.expire(P);
    let before = stored(&t.home, P);
    let filler = t.fill();
    let r = t.home.run(&["token", P]);
    assert_fail(&r, 5, &c);
    assert_eq!(mock.count_grant("refresh_token"), 0, "the refresh token must not be spent");
    std::fs::remove_file(filler).unwrap();
    assert_eq!(stored(&t.home, P), before);
    // With space again, the profile refreshes normally.
    assert_token(&t.home.run(&["token", P]), &mock.last_access_token().unwrap(), &c);
}

/// ST-05: on a full disk a fresh token is still readable.
#[test]
fn st_05_disk_full_fresh_token_still_readable() {
    let t = TmpfsHome::new();
    let mock = MockAs::start();
    mockas::login(&t.home, &mock, P);
    let _filler = t.fill();
    let r = t.home.run(&["token", P]);
    assert_token(&r, &mock.last_access_token().unwrap(), "\x00");
}

fn fi_22(strict: bool) {
    let t = TmpfsHome::new();
    let mock = MockAs::start();
    let c = canary();
    mock.set_canary(&c);
    mockas::login(&t.home, &mock, P);
    t.home.expire(P);
    mock.script("/token", vec![Reply::Delay(Duration::from_millis(1500), Box::new(Reply::Default))]);
    let p = spawn_token(&t.home, if strict { &["--strict"][..] } else { &[] });
    wait_until(Duration::from_secs(10), "the refresh request", || mock.count_grant("refresh_token") == 1);
    let filler = t.fill();
    let (r, _) = p.wait(Duration::from_secs(30));
    let new_at = mock.last_access_token().unwrap();
    if strict {
        assert_fail(&r, 5, &c);
    } else {
        assert_token(&r, &new_at, &c);
        assert!(r.stderr.contains("could not save rotated refresh token"), "{}", r.stderr);
    }
    assert_eq!(mock.count_grant("refresh_token"), 1);
    std::fs::remove_file(filler).unwrap();
}

/// FI-22 / CR-05: disk full after the provider rotated: degraded success, the new token printed
/// with a warning.
#[test]
fn fi_22_disk_full_after_rotation() {
    fi_22(false);
}

/// FI-22 / CR-05: `--strict` makes it exit 5 with empty stdout.
#[test]
fn fi_22_disk_full_after_rotation_strict() {
    fi_22(true);
}

/// FI-23 / ST-04, CR-02: a read-only home: a fresh token is readable; a refresh is refused with
/// exit 5 before any request.
#[test]
fn fi_23_read_only_home() {
    let mock = MockAs::start();
    let c = canary();
    mock.set_canary(&c);
    let home = Home::new();
    mockas::login(&home, &mock, P);
    mockas::login(&home, &mock, "stale");
    let at_work = {
        let r = home.run(&["token", P]);
        r.ok();
        r.line()
    };
    home.expire("stale");
    let sha = home.sha256_db();
    let requests = mock.count("/token");
    {
        let ro = ReadOnly::new(&home);
        let r = ro.run(&["token", "stale"]);
        assert_fail(&r, 5, &c);
        assert!(!r.stderr.contains("store unreadable"), "the store is readable, only not writable: {}", r.stderr);
        assert_eq!(mock.count("/token"), requests, "no request from a read-only home");
        let r = ro.run(&["token", P]);
        assert_token(&r, &at_work, &c);
    }
    assert_eq!(home.sha256_db(), sha);
}

// ---------------------------------------------------------------------------------------------
// FI-26, FI-27, FI-31

/// FI-26 / TE-01: a 307 to another port is not followed: the other listener receives nothing.
#[test]
fn fi_26_redirect_not_followed() {
    let e = setup();
    e.home.expire(P);
    let before = stored(&e.home, P);
    let thief = TcpListener::bind("127.0.0.1:0").unwrap();
    thief.set_nonblocking(true).unwrap();
    let steal = format!("http://{}/steal", thief.local_addr().unwrap());
    e.mock.set_default("/token", Reply::Redirect(307, steal.clone()));
    let r = e.home.run(&["token", P]);
    assert_ne!(r.code, 0);
    assert!(r.code == 4 || r.code == 2, "exit {}: {}", r.code, r.stderr);
    assert_fail(&r, r.code, &e.canary);
    assert!(r.stderr.contains("redirect"), "{}", r.stderr);
    assert!(
        matches!(thief.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the redirect was followed"
    );
    assert_eq!(e.mock.count_grant("refresh_token"), 1);
    assert_eq!(stored(&e.home, P), before);
    // The login exchange does not follow one either.
    let home = Home::new();
    e.mock.set_default("/token", Reply::Redirect(308, steal));
    let r = home.run_with(
        &["login", &e.mock.issuer(), "--client-id", CLIENT_ID, "--profile", P, "--timeout", "30s"],
        |c| {
            c.env("BROWSER", mockas::browser_script());
        },
    );
    assert!(r.code == 4 || r.code == 2, "exit {}: {}", r.code, r.stderr);
    assert!(
        matches!(thief.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the redirect was followed"
    );
    assert_eq!(profile_count(&home), 0);
}

/// FI-27 / TE-06: a token with CR/LF or a space is rejected: exit 2, stdout empty, nothing stored.
#[test]
fn fi_27_unsafe_token_characters() {
    let e = setup();
    e.home.expire(P);
    let before = stored(&e.home, P);
    let bodies = [
        json!({"access_token": "abc\r\nX-Evil: 1", "token_type": "Bearer", "expires_in": 3600}),
        json!({"access_token": "abc def", "token_type": "Bearer", "expires_in": 3600}),
        json!({"access_token": "abc\u{7f}", "token_type": "Bearer", "expires_in": 3600}),
        json!({"access_token": "ok", "token_type": "Bearer", "refresh_token": "r\r\nX-Evil: 1", "expires_in": 3600}),
    ];
    for (i, b) in bodies.iter().enumerate() {
        e.mock.script("/token", vec![Reply::Json(200, b.clone())]);
        let r = e.home.run(&["token", P]);
        assert!(r.code == 2 || r.code == 4, "body {i}: exit {}: {}", r.code, r.stderr);
        assert_fail(&r, r.code, &e.canary);
        assert!(!r.stderr.contains("X-Evil") && !r.stderr.contains("abc"), "token echoed: {}", r.stderr);
        assert_eq!(e.mock.count_grant("refresh_token"), i + 1);
        assert_eq!(stored(&e.home, P), before);
    }
    // At login: nothing is stored at all.
    let home = Home::new();
    e.mock.script("/token", vec![Reply::Json(200, bodies[0].clone())]);
    let r = home.run_with(
        &["login", &e.mock.issuer(), "--client-id", CLIENT_ID, "--profile", P, "--timeout", "30s"],
        |c| {
            c.env("BROWSER", mockas::browser_script());
        },
    );
    assert!(r.code == 2 || r.code == 4, "exit {}: {}", r.code, r.stderr);
    assert!(r.stdout.is_empty());
    assert_eq!(profile_count(&home), 0);
}

/// FI-31 / CC-01: the lock is held by another live process past the deadline: exit 5 "another
/// tokcli is refreshing NAME", no request.
#[test]
fn fi_31_lock_held_past_deadline() {
    let e = setup();
    e.home.expire(P);
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(e.home.path().join(format!("locks/{P}.lock")))
        .unwrap();
    lock.lock().unwrap();
    let t = Instant::now();
    let r = e.home.run(&["token", P, "--timeout", "2s"]);
    let took = t.elapsed();
    assert_fail(&r, 5, &e.canary);
    assert!(r.stderr.contains(&format!("another tokcli is refreshing {P}")), "{}", r.stderr);
    assert!(took >= Duration::from_millis(1900) && took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(e.mock.count_grant("refresh_token"), 0);
    drop(lock);
    assert_token(&e.home.run(&["token", P]), &e.mock.last_access_token().unwrap(), &e.canary);
}

// ---------------------------------------------------------------------------------------------
// TE-08, TE-09, TE-12

/// TE-12: `Retry-After` beyond the deadline: fail fast with exit 4 and say when to retry.
#[test]
fn te_12_retry_after_beyond_deadline() {
    let e = setup();
    e.home.expire(P);
    e.mock.set_default("/token", Reply::RetryAfter(503, "3600".into()));
    let t = Instant::now();
    let r = e.home.run(&["token", P]);
    let took = t.elapsed();
    assert_fail(&r, 4, &e.canary);
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(r.stderr.contains("retry after") && r.stderr.contains("GMT"), "no retry time: {}", r.stderr);
    assert_eq!(e.mock.count_grant("refresh_token"), 1);
}

/// TE-09 / FI-33: terminal escapes in `error_description` never reach stderr.
#[test]
fn te_09_escape_sequences_sanitized() {
    let e = setup();
    let evil = "bad\u{1b}]52;c;Q0FOQVJZ\u{7}\u{1b}[2J\u{9b}31m\r\nforged line";
    for (code, exit) in [("invalid_client", 2), ("invalid_grant", 3)] {
        e.home.expire(P);
        e.mock.script(
            "/token",
            vec![Reply::Json(400, json!({"error": code, "error_description": evil, "error_uri": evil}))],
        );
        let r = e.home.run(&["token", P]);
        assert_fail(&r, exit, &e.canary);
        assert!(r.stderr.contains(code));
        assert!(!r.stderr.contains('\u{9b}') && !r.stderr.contains('\r'), "{:?}", r.stderr);
        assert!(!r.stderr.lines().any(|l| l.starts_with("forged")), "{:?}", r.stderr);
    }
    // On the callback too.
    let mock = MockAs::start();
    let home = Home::new();
    let mut l = Login::start(&home, &mock, &[]);
    let desc: String = url::form_urlencoded::byte_serialize(evil.as_bytes()).collect();
    let _ = l.callback(&format!("error=access_denied&error_description={desc}&state={}&iss={}", l.state, l.iss()));
    let (run, _) = l.wait(Duration::from_secs(10));
    assert_fail(&run, 7, "\x00");
    assert!(!run.stderr.contains('\u{9b}'));
}

fn te_08(cases: &[(u16, &str, i32, usize)]) {
    let e = setup();
    for &(status, code, exit, requests) in cases {
        e.home.expire(P);
        let before = stored(&e.home, P);
        let n0 = e.mock.count_grant("refresh_token");
        e.mock.set_default(
            "/token",
            Reply::Raw {
                status,
                content_type: "application/json".into(),
                body: json!({"error": code, "error_description": "try later"}).to_string().into_bytes(),
                headers: vec![("Retry-After".into(), "0".into())],
            },
        );
        let r = e.home.run(&["token", P]);
        assert_fail(&r, exit, &e.canary);
        assert!(r.stderr.contains(code), "{code}: {}", r.stderr);
        assert_eq!(e.mock.count_grant("refresh_token") - n0, requests, "{status} {code}: requests");
        if exit != 3 {
            assert_eq!(stored(&e.home, P), before, "{code}");
        }
        e.mock.reset_path("/token");
    }
}

/// TE-08: configuration errors exit 2 without a retry; `invalid_grant` exits 3.
#[test]
fn te_08_error_codes_final() {
    te_08(&[
        (400, "invalid_client", 2, 1),
        (401, "invalid_client", 2, 1),
        (400, "unauthorized_client", 2, 1),
        (400, "unsupported_grant_type", 2, 1),
        (400, "invalid_scope", 2, 1),
        (400, "invalid_request", 2, 1),
        (400, "made_up_code", 2, 1),
        (400, "invalid_grant", 3, 1),
    ]);
}

/// TE-08, TE-12: transient codes are retried (3 attempts), then exit 4.
#[test]
fn te_08_error_codes_transient() {
    te_08(&[
        (400, "temporarily_unavailable", 4, 3),
        (503, "temporarily_unavailable", 4, 3),
        (500, "server_error", 4, 3),
        (502, "made_up_code", 4, 3),
        (429, "slow_down_please", 4, 3),
    ]);
}
