//! The RFC 8252 loopback redirect: a tiny_http listener on 127.0.0.1 (and [::1] for `localhost`
//! redirects), the browser launcher, and callback validation (LB-02, LB-05..LB-12, CB-01..CB-07).
//!
//! The listener is opened just before the browser starts and closed (dropped) before the code is
//! exchanged. Stray or hostile requests get a 4xx and the listener keeps waiting; only a request
//! with the right method, path, Host and `state` can end the wait. Never touches the store.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tiny_http::{Header, Response, Server};

use crate::error::{Error, sanitize_provider_text};
use crate::model::secret;

pub const CALLBACK_PATH: &str = "/callback";
const DONE_GRACE: Duration = Duration::from_secs(2);

/// A bound loopback listener.
pub struct Listener {
    incoming: Incoming,
    /// The Host header the browser must send: `127.0.0.1:PORT` (or `localhost:PORT`).
    host: String,
    /// The callback path registered with the provider.
    path: String,
    pub redirect_uri: String,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").field("redirect_uri", &self.redirect_uri).finish_non_exhaustive()
    }
}

/// Where the callback can arrive: one socket, or for a `localhost` redirect a socket on 127.0.0.1
/// and one on [::1] with the same port, since a browser may resolve `localhost` to either (LB-06).
enum Incoming {
    One(Server),
    /// A thread per socket hands its requests to `rx`; dropping this stops and joins them, so
    /// both ports are closed when the listener is gone (LB-08).
    Both {
        servers: [Arc<Server>; 2],
        rx: Receiver<std::io::Result<tiny_http::Request>>,
        relays: Vec<JoinHandle<()>>,
    },
}

impl Incoming {
    fn both(v4: Server, v6: Server) -> Self {
        let (tx, rx) = channel();
        let servers = [Arc::new(v4), Arc::new(v6)];
        let relays = servers
            .iter()
            .map(|server| {
                let (server, tx) = (Arc::clone(server), tx.clone());
                std::thread::spawn(move || {
                    loop {
                        // An error (or `unblock` at drop) ends the relay.
                        let next = server.recv();
                        let stop = next.is_err();
                        if tx.send(next).is_err() || stop {
                            return;
                        }
                    }
                })
            })
            .collect();
        Self::Both { servers, rx, relays }
    }

    fn recv_timeout(&self, timeout: Duration) -> std::io::Result<Option<tiny_http::Request>> {
        match self {
            Self::One(server) => server.recv_timeout(timeout),
            Self::Both { rx, .. } => match rx.recv_timeout(timeout) {
                Ok(next) => next.map(Some),
                Err(RecvTimeoutError::Timeout) => Ok(None),
                Err(RecvTimeoutError::Disconnected) => Err(std::io::Error::other("the listeners stopped")),
            },
        }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Self::Both { servers, relays, .. } = self {
            for server in servers.iter() {
                server.unblock();
            }
            for relay in relays.drain(..) {
                let _ = relay.join();
            }
        }
    }
}

/// What the callback must carry.
pub struct Expect<'a> {
    pub state: &'a SecretString,
    /// The issuer the request was sent to (CB-03, CB-04).
    pub issuer: Option<&'a str>,
    /// The AS advertises `authorization_response_iss_parameter_supported`.
    pub iss_required: bool,
}

/// Binds 127.0.0.1 on an ephemeral port, or on the first free port of `ports` (LB-05, LB-07),
/// for the redirect `http://127.0.0.1:PORT/callback`; where the host has no IPv4 loopback
/// address, `[::1]` and `http://[::1]:PORT/callback` instead (LB-06).
///
/// # Errors
/// Exit 7 naming the ports when none can be bound.
pub fn bind(ports: &[u16]) -> Result<Listener, Error> {
    bind_at(ports, "127.0.0.1", CALLBACK_PATH)
}

/// Like [`bind`], for a provider that requires another redirect host or path. `host` may be
/// `127.0.0.1`, `[::1]` or `localhost` (Microsoft's and Slack's documented host); the socket
/// always binds the loopback interface only, never a wildcard address (LB-05, LB-06). For
/// `localhost` both 127.0.0.1 and [::1] are bound on the same port, because the browser may
/// resolve the name to either; a host that lacks one of them gets the other alone.
///
/// # Errors
/// Exit 2 for a non-loopback host, exit 7 naming the ports when none can be bound.
pub fn bind_at(ports: &[u16], host: &str, path: &str) -> Result<Listener, Error> {
    let ip = match host {
        "127.0.0.1" | "localhost" => "127.0.0.1",
        "[::1]" | "::1" => "::1",
        other => {
            return Err(Error::usage(format!("the redirect host {other:?} is not a loopback address"))
                .hint("use 127.0.0.1, [::1] or localhost"));
        }
    };
    if !path.starts_with('/') {
        return Err(Error::usage(format!("the redirect path {path:?} must start with '/'")));
    }
    let candidates: Vec<u16> = if ports.is_empty() { vec![0] } else { ports.to_vec() };
    let mut failures = Vec::new();
    let mut no_such_address = true;
    for port in &candidates {
        let bound = if host == "localhost" { bind_both(*port) } else { bind_one(ip, *port) };
        match bound {
            Ok((incoming, actual)) => {
                let host = format!("{}:{actual}", if host == "::1" { "[::1]" } else { host });
                let redirect_uri = format!("http://{host}{path}");
                return Ok(Listener { incoming, host, path: path.to_owned(), redirect_uri });
            }
            Err(e) => {
                no_such_address &= e.kind() == std::io::ErrorKind::AddrNotAvailable;
                failures.push(format!("{port} ({e})"));
            }
        }
    }
    // LB-06: a host without IPv4 loopback (an IPv6-only container) gets the IPv6 literal.
    if host == "127.0.0.1" && no_such_address {
        return bind_at(ports, "[::1]", path);
    }
    let on = if host == "localhost" { "127.0.0.1 and ::1" } else { ip };
    Err(Error::login(format!("cannot listen on {on} port {}", failures.join(", ")))
        .hint("free one of those ports, or pass other ones with --port"))
}

fn listen(ip: &str, port: u16) -> std::io::Result<Server> {
    Server::http((ip, port)).map_err(|e| match e.downcast::<std::io::Error>() {
        Ok(io) => *io,
        Err(other) => std::io::Error::other(other.to_string()),
    })
}

fn port_of(server: &Server, asked: u16) -> u16 {
    server.server_addr().to_ip().map_or(asked, |a| a.port())
}

fn bind_one(ip: &str, port: u16) -> std::io::Result<(Incoming, u16)> {
    let server = listen(ip, port)?;
    let actual = port_of(&server, port);
    Ok((Incoming::One(server), actual))
}

/// 127.0.0.1 and [::1] on one port (LB-06). An ephemeral port free on 127.0.0.1 can be taken on
/// [::1], so that case tries a few ports. A missing address family is skipped.
fn bind_both(port: u16) -> std::io::Result<(Incoming, u16)> {
    use std::io::ErrorKind::{AddrInUse, AddrNotAvailable};
    let mut last = None;
    for _ in 0..if port == 0 { 8 } else { 1 } {
        let v4 = match listen("127.0.0.1", port) {
            Ok(s) => s,
            Err(e) if e.kind() == AddrNotAvailable => return bind_one("::1", port),
            Err(e) => return Err(e),
        };
        let actual = port_of(&v4, port);
        match listen("::1", actual) {
            Ok(v6) => return Ok((Incoming::both(v4, v6), actual)),
            Err(e) if e.kind() == AddrNotAvailable => return Ok((Incoming::One(v4), actual)),
            Err(e) if e.kind() == AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(AddrInUse)))
}

/// Parses a query string; `None` when a parameter repeats (CB-07, RFC 6749 §3.1).
#[must_use]
pub fn parse_query(q: &str) -> Option<HashMap<String, String>> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        if map.insert(k.into_owned(), v.into_owned()).is_some() {
            return None;
        }
    }
    Some(map)
}

fn page(status: u16, title: &str, body: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>tokcli: {title}</title></head>\
<body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{body}</p></body></html>"
    );
    let mut r = Response::from_data(html.into_bytes()).with_status_code(status);
    for (k, v) in [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ] {
        if let Ok(h) = Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            r.add_header(h);
        }
    }
    r
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '&' => "&amp;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Result of checking one callback's parameters against the pending attempt.
#[derive(Debug)]
pub enum Verdict {
    /// Not ours (no or wrong `state`): answer 400 and keep waiting (CB-01, CB-02).
    Ignore(&'static str),
    /// Ours, and fatal: the login ends with exit 7.
    Fail(Error),
    /// The authorization code.
    Code(SecretString),
}

/// Checks callback parameters (CB-01..CB-03). Used by the listener and by pasted redirect URLs.
#[must_use]
pub fn check_callback(params: &HashMap<String, String>, expect: &Expect<'_>) -> Verdict {
    let Some(state) = params.get("state") else { return Verdict::Ignore("missing state") };
    if !ct_eq(state, expect.state.expose_secret()) {
        return Verdict::Ignore("wrong state");
    }
    match (params.get("iss"), expect.issuer) {
        (Some(iss), Some(want)) if iss != want => {
            return Verdict::Fail(
                Error::login(format!(
                    "the authorization response came from issuer {:?}, not {want:?} (RFC 9207 mix-up defence)",
                    sanitize_provider_text(iss)
                ))
                .hint("nothing was exchanged or stored; start the login again"),
            );
        }
        (None, Some(want)) if expect.iss_required => {
            return Verdict::Fail(
                Error::login(format!("the authorization response lacks the iss parameter that {want} promises"))
                    .hint("nothing was exchanged or stored; start the login again"),
            );
        }
        _ => {}
    }
    if let Some(err) = params.get("error") {
        let desc =
            params.get("error_description").map(|d| format!(": {}", sanitize_provider_text(d))).unwrap_or_default();
        return Verdict::Fail(
            Error::login(format!("the provider refused the authorization: {}{desc}", sanitize_provider_text(err)))
                .hint("nothing was stored; start the login again and approve the request"),
        );
    }
    match params.get("code") {
        Some(c) if !c.is_empty() => Verdict::Code(secret(c.clone())),
        _ => Verdict::Ignore("missing code"),
    }
}

impl Listener {
    /// Waits for the one valid callback until `deadline` (LB-09). Consumes the listener, so the
    /// port is closed when this returns (LB-08).
    ///
    /// # Errors
    /// Exit 7 on timeout, provider errors, or an `iss` mismatch.
    pub fn wait(
        self,
        expect: &Expect<'_>,
        deadline: Instant,
        mut on_stray: impl FnMut(&str),
    ) -> Result<SecretString, Error> {
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let req = match self.incoming.recv_timeout(remaining) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    return Err(Error::login("timed out waiting for the browser to come back")
                        .hint("nothing was stored; run the login again (raise --timeout, or use --manual over SSH)"));
                }
                Err(e) => return Err(Error::login(format!("the loopback listener failed: {e}"))),
            };
            let host_ok =
                req.headers().iter().find(|h| h.field.equiv("Host")).is_some_and(|h| h.value.as_str() == self.host);
            let url = req.url().to_owned();
            let (path, query) = url.split_once('?').unwrap_or((&url, ""));
            if *req.method() != tiny_http::Method::Get {
                let _ = req.respond(page(405, "Method not allowed", "Only GET is accepted here."));
                on_stray("a non-GET request");
                continue;
            }
            if !host_ok {
                let _ = req.respond(page(400, "Bad request", "Unexpected Host header."));
                on_stray("a request with a foreign Host header");
                continue;
            }
            if path != self.path {
                let _ = req.respond(page(404, "Not found", "Nothing here."));
                continue;
            }
            let Some(params) = parse_query(query) else {
                let _ = req.respond(page(400, "Bad request", "Repeated parameters are not accepted."));
                on_stray("a callback with repeated parameters");
                continue;
            };
            match check_callback(&params, expect) {
                Verdict::Ignore(why) => {
                    let _ =
                        req.respond(page(400, "Bad request", "This response does not belong to the pending login."));
                    on_stray(why);
                }
                Verdict::Fail(e) => {
                    let msg = html_escape(&e.message);
                    let _ = req.respond(page(400, "Login failed", &format!("{msg}<br>Return to your terminal.")));
                    return Err(e);
                }
                Verdict::Code(code) => {
                    let mut r = Response::empty(303);
                    if let Ok(h) = Header::from_bytes(&b"Location"[..], &b"/done"[..]) {
                        r.add_header(h);
                    }
                    for (k, v) in [("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer")] {
                        if let Ok(h) = Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                            r.add_header(h);
                        }
                    }
                    let _ = req.respond(r);
                    self.serve_done();
                    return Ok(code);
                }
            }
        }
    }

    /// Serves the success page to the redirected browser, briefly, then returns (LB-11).
    fn serve_done(&self) {
        let until = Instant::now() + DONE_GRACE;
        while let Ok(Some(req)) = self.incoming.recv_timeout(until.saturating_duration_since(Instant::now())) {
            let is_done = req.url() == "/done" && *req.method() == tiny_http::Method::Get;
            if is_done {
                let _ = req.respond(page(
                    200,
                    "Signed in",
                    "tokcli received the authorization. You can close this window and return to your terminal.",
                ));
                return;
            }
            let _ = req.respond(page(404, "Not found", "Nothing here."));
        }
    }
}

/// Environment variables never passed to a child process (PH-03).
#[must_use]
pub fn is_secret_env(name: &str) -> bool {
    name.starts_with("TOKCLI_")
}

/// Removes tokcli's own variables (store key, client secret, …) from a child's environment.
pub fn scrub_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(is_secret_env) {
            cmd.env_remove(k);
        }
    }
}

/// Opens `url` in the user's browser: `TOKCLI_BROWSER`, then `BROWSER`, then the platform opener
/// (LB-02). The URL is one argv element, never passed through a shell; the child's stdout goes
/// to our stderr so nothing reaches tokcli's stdout, and its environment is scrubbed.
///
/// # Errors
/// A description of why no browser could be started (the caller still printed the URL).
pub fn open_browser(url: &str) -> Result<(), String> {
    let configured = std::env::var("TOKCLI_BROWSER")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("BROWSER").ok().filter(|s| !s.is_empty()));
    let commands: Vec<Command> = match configured {
        Some(list) => list
            .split(':')
            .filter(|s| !s.is_empty())
            .map(|entry| {
                if entry.contains("%s") {
                    let mut parts = entry.split_whitespace();
                    let mut c = Command::new(parts.next().unwrap_or(entry));
                    c.args(parts.map(|p| p.replace("%s", url)));
                    c
                } else {
                    let mut c = Command::new(entry);
                    c.arg(url);
                    c
                }
            })
            .collect(),
        None => open::commands(url),
    };
    let mut last = String::from("no browser command is available");
    for mut cmd in commands {
        scrub_env(&mut cmd);
        let stdout = std::io::stderr().as_fd_clone().map_or_else(|_| Stdio::null(), Stdio::from);
        cmd.stdin(Stdio::null()).stdout(stdout);
        if !std::io::stderr().is_terminal() {
            cmd.stderr(Stdio::inherit());
        }
        match cmd.spawn() {
            Ok(mut child) => {
                // Reap it in the background; tokcli never waits for the browser.
                std::thread::spawn(move || child.wait());
                return Ok(());
            }
            Err(e) => last = format!("{:?}: {e}", cmd.get_program()),
        }
    }
    Err(last)
}

trait FdClone {
    fn as_fd_clone(&self) -> std::io::Result<std::os::fd::OwnedFd>;
}

impl FdClone for std::io::Stderr {
    fn as_fd_clone(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.as_fd().try_clone_to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(state: &SecretString) -> Expect<'_> {
        Expect { state, issuer: Some("https://as"), iss_required: false }
    }
    fn q(s: &str) -> HashMap<String, String> {
        parse_query(s).unwrap()
    }

    #[test]
    fn duplicates_are_rejected() {
        assert!(parse_query("code=a&code=b&state=s").is_none());
        assert!(parse_query("code=a&state=s").is_some());
    }

    #[test]
    fn callback_rules() {
        let st = secret("S");
        assert!(matches!(check_callback(&q("code=c"), &expect(&st)), Verdict::Ignore(_)));
        assert!(matches!(check_callback(&q("code=c&state=X"), &expect(&st)), Verdict::Ignore(_)));
        assert!(matches!(check_callback(&q("error=access_denied&state=X"), &expect(&st)), Verdict::Ignore(_)));
        assert!(matches!(check_callback(&q("code=c&state=S"), &expect(&st)), Verdict::Code(_)));
        assert!(matches!(check_callback(&q("code=c&state=S&iss=https%3A%2F%2Fas"), &expect(&st)), Verdict::Code(_)));
        assert!(matches!(check_callback(&q("code=c&state=S&iss=https%3A%2F%2Fevil"), &expect(&st)), Verdict::Fail(_)));
        let strict = Expect { iss_required: true, ..expect(&st) };
        assert!(matches!(check_callback(&q("code=c&state=S"), &strict), Verdict::Fail(_)));
        match check_callback(&q("error=access_denied&error_description=%1b%5b31mno&state=S"), &expect(&st)) {
            Verdict::Fail(e) => {
                assert!(e.message.contains("access_denied"));
                assert!(!e.message.contains('\x1b'));
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(html_escape("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
    }

    fn raw_get(port: u16, host: &str, target: &str) -> String {
        raw_get_at("127.0.0.1", port, host, target)
    }

    fn raw_get_at(ip: &str, port: u16, host: &str, target: &str) -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect((ip, port)).unwrap();
        write!(s, "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    /// Binds a `localhost` listener on `path` and waits on another thread for the callback with
    /// state `S`: the redirect URI, the port, and the code it will return.
    fn wait_on_localhost(path: &str) -> (String, u16, std::thread::JoinHandle<Result<String, Error>>) {
        let l = bind_at(&[], "localhost", path).unwrap();
        let (redirect, port) = (l.redirect_uri.clone(), l.host.rsplit(':').next().unwrap().parse().unwrap());
        let h = std::thread::spawn(move || {
            let st = secret("S");
            let e = Expect { state: &st, issuer: None, iss_required: false };
            l.wait(&e, Instant::now() + Duration::from_secs(10), |_| {}).map(|c| c.expose_secret().to_owned())
        });
        (redirect, port, h)
    }

    #[test]
    fn localhost_redirect_with_custom_path() {
        let (redirect, port, h) = wait_on_localhost("/auth/cb");
        assert!(redirect.starts_with("http://localhost:") && redirect.ends_with("/auth/cb"));
        let host = format!("localhost:{port}");
        assert!(raw_get(port, &host, "/callback?code=c&state=S").starts_with("HTTP/1.1 404"));
        assert!(raw_get(port, &format!("127.0.0.1:{port}"), "/auth/cb?code=c&state=S").starts_with("HTTP/1.1 400"));
        assert!(raw_get(port, &host, "/auth/cb?code=good&state=S").starts_with("HTTP/1.1 303"));
        assert_eq!(h.join().unwrap().unwrap(), "good");
        assert!(bind_at(&[], "0.0.0.0", "/cb").is_err(), "never a wildcard address");
    }

    /// LB-06: a `localhost` redirect is served on 127.0.0.1 and on [::1], on the same port, and
    /// both are closed once the callback came (LB-08).
    #[test]
    fn lb_06_localhost_is_served_on_both_loopback_addresses() {
        let (_, port, h) = wait_on_localhost("/callback");
        let host = format!("localhost:{port}");
        for ip in ["127.0.0.1", "::1"] {
            assert!(raw_get_at(ip, port, &host, "/callback?code=c&state=wrong").starts_with("HTTP/1.1 400"), "{ip}");
        }
        assert!(raw_get_at("::1", port, &host, "/callback?code=v6&state=S").starts_with("HTTP/1.1 303"));
        assert_eq!(h.join().unwrap().unwrap(), "v6");
        // tiny_http's accept thread lets go of a dropped socket within moments.
        let closes = |ip: &str, port: u16| {
            let until = Instant::now() + Duration::from_secs(3);
            while std::net::TcpStream::connect((ip, port)).is_ok() {
                if Instant::now() > until {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            true
        };
        for ip in ["127.0.0.1", "::1"] {
            assert!(closes(ip, port), "{ip} port {port} still open");
        }
        // A fixed port is bound on both addresses, or not at all.
        let taken = std::net::TcpListener::bind(("::1", 0)).unwrap();
        let busy = taken.local_addr().unwrap().port();
        let e = bind_at(&[busy], "localhost", "/callback").unwrap_err();
        assert!(e.message.contains("127.0.0.1 and ::1") && e.message.contains(&busy.to_string()), "{}", e.message);
        assert!(closes("127.0.0.1", busy), "127.0.0.1 left bound");
    }

    #[test]
    fn binds_loopback_only() {
        let l = bind(&[]).unwrap();
        assert!(l.redirect_uri.starts_with("http://127.0.0.1:"));
        assert!(l.redirect_uri.ends_with("/callback"));
        let port: u16 = l.host.rsplit(':').next().unwrap().parse().unwrap();
        let e = bind(&[port]).unwrap_err();
        assert_eq!(e.class, crate::error::Class::LoginIncomplete);
        assert!(e.message.contains(&port.to_string()));
    }
}
