//! mockas: an in-process fake authorization server for fault injection (SECURITY-RELIABILITY §0.3.1).
//!
//! Plain http on 127.0.0.1 (tokcli accepts plain http for loopback issuers), one instance per
//! test, served from background threads over a raw `TcpListener` so that hangs, 1-byte/s drips,
//! dropped connections and huge bodies can be produced exactly. Every response carries
//! `Connection: close`, so each request is one connection and faults never leak into a pooled
//! connection. Dropping the `MockAs` stops the server and closes every hung connection.
//!
//! Behaviour per path: the next scripted [`Reply`] (see [`MockAs::script`]) if any, else the
//! replacement default ([`MockAs::set_default`]) if any, else the built-in authorization server:
//! discovery, auto-approving `/authorize` (PKCE S256), `/token` with refresh-token rotation and
//! reuse detection (RFC 9700 §4.14.2) and an optional grace window, client credentials, the
//! device grant, and `/revoke`.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::support::{Home, Run};

/// The client id every helper logs in with.
pub const CLIENT_ID: &str = "test-client";
/// The `sub` of every ID token (overridable with [`MockAs::set_id_claims`]).
pub const SUBJECT: &str = "mock-user-1";

/// How ID tokens are signed (TE-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// No `jwks_uri` in the metadata, and ID tokens whose third part is `sig<canary>` (so the
    /// canary sweep sees them): tokcli can only rely on TLS, as OIDC Core allows.
    Unsigned,
    /// ES256 with the key published at `/jwks`.
    Published,
    /// ES256 with a key that `/jwks` does not publish, under the published key's `kid`.
    Unpublished,
    /// `alg: none`, no signature.
    AlgNone,
    /// HS256 keyed with the published key's `x` coordinate (the public-key-as-secret trick).
    Hs256,
}

/// The mock issuer's signing key, and one it never publishes (both P-256, made once per run).
fn keys() -> &'static (ring::signature::EcdsaKeyPair, ring::signature::EcdsaKeyPair) {
    static KEYS: OnceLock<(ring::signature::EcdsaKeyPair, ring::signature::EcdsaKeyPair)> = OnceLock::new();
    KEYS.get_or_init(|| {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING as ALG, EcdsaKeyPair};
        let rng = ring::rand::SystemRandom::new();
        let make = || {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ALG, &rng).expect("P-256 key");
            EcdsaKeyPair::from_pkcs8(&ALG, pkcs8.as_ref(), &rng).expect("P-256 key")
        };
        (make(), make())
    })
}

const KID: &str = "mock-1";

/// The public JWK of the published key.
fn published_jwk() -> Value {
    use ring::signature::KeyPair as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let public = keys().0.public_key().as_ref();
    json!({ "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": KID,
        "x": b64.encode(&public[1..33]), "y": b64.encode(&public[33..65]) })
}

/// What to answer one request with.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `status` with an `application/json` body.
    Json(u16, Value),
    /// Anything: status, content type, body and extra headers.
    Raw { status: u16, content_type: String, body: Vec<u8>, headers: Vec<(String, String)> },
    /// Sleep (the AS is slow), then answer with the inner reply. Grants are processed after the
    /// sleep, as a slow server would.
    Delay(Duration, Box<Reply>),
    /// Accept, read the request, never answer (until the `MockAs` is dropped).
    Hang,
    /// `200` with JSON headers, then the body at 1 byte/s.
    Drip,
    /// `200 application/json` streaming N bytes of `{"access_token":"aaaa…`.
    Huge(usize),
    /// Perform the built-in behaviour (for `/token`: the grant, rotating the refresh token), then
    /// close the socket without responding.
    DropAfterCommit,
    /// A 3xx with `Location`.
    Redirect(u16, String),
    /// `status` with a `Retry-After` header and a JSON error body (`temporarily_unavailable`).
    RetryAfter(u16, String),
    /// The built-in behaviour (useful inside `Delay`).
    Default,
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    pub raw_query: String,
    /// Decoded `application/x-www-form-urlencoded` body pairs (empty for other bodies).
    pub form: Vec<(String, String)>,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received_at: Instant,
}

impl Recorded {
    #[must_use]
    pub fn form_get(&self, k: &str) -> Option<&str> {
        self.form.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    #[must_use]
    pub fn query_get(&self, k: &str) -> Option<&str> {
        self.query.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    #[must_use]
    pub fn header(&self, k: &str) -> Option<&str> {
        let k = k.to_ascii_lowercase();
        self.headers.iter().find(|(a, _)| *a == k).map(|(_, v)| v.as_str())
    }
    /// The grant type of a `/token` request, shortened for the device grant (`device_code`).
    #[must_use]
    pub fn grant_type(&self) -> Option<&str> {
        self.form_get("grant_type").map(|g| g.rsplit(':').next().unwrap_or(g))
    }
}

#[derive(Debug, Clone)]
struct CodeGrant {
    challenge: String,
    redirect_uri: String,
    client_id: String,
    scope: String,
    nonce: Option<String>,
    used: bool,
}

#[derive(Debug, Clone)]
struct Family {
    client_id: String,
    scope: String,
    current_rt: Option<String>,
    /// The previous refresh token, when it was rotated, and the response that rotated it.
    previous: Option<(String, Instant, Value)>,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct DeviceGrant {
    client_id: String,
    scope: String,
    expires: Instant,
    approved: bool,
    denied: bool,
    used: bool,
}

#[derive(Debug)]
struct State {
    requests: Vec<Recorded>,
    scripts: HashMap<String, VecDeque<Reply>>,
    defaults: HashMap<String, Reply>,
    rotate: bool,
    grace: Option<Duration>,
    token_delay: Duration,
    expires_in: Option<Value>,
    issue_refresh_token: bool,
    issue_id_token: bool,
    signing: Signing,
    send_iss: bool,
    id_claims: Value,
    device_interval: Option<u64>,
    canary: String,
    counter: u64,
    codes: HashMap<String, CodeGrant>,
    families: Vec<Family>,
    /// Every refresh token ever issued → family index.
    rt_family: HashMap<String, usize>,
    at_family: HashMap<String, usize>,
    devices: HashMap<String, DeviceGrant>,
    last_rt: Option<String>,
    last_at: Option<String>,
    reuse_detected: usize,
}

struct Inner {
    addr: SocketAddr,
    stop: AtomicBool,
    state: Mutex<State>,
}

impl Inner {
    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
    /// Sleeps `d`, waking early when the server stops. Returns false when stopped.
    fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if self.stopped() {
                return false;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
        }
        !self.stopped()
    }
}

/// The fake authorization server. Stopped on drop.
pub struct MockAs {
    inner: Arc<Inner>,
    accept: Option<JoinHandle<()>>,
}

impl MockAs {
    /// Starts a server on 127.0.0.1 with an ephemeral port and the default behaviour.
    pub fn start() -> MockAs {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind mockas");
        let addr = listener.local_addr().expect("mockas addr");
        let inner = Arc::new(Inner {
            addr,
            stop: AtomicBool::new(false),
            state: Mutex::new(State {
                requests: Vec::new(),
                scripts: HashMap::new(),
                defaults: HashMap::new(),
                rotate: true,
                grace: None,
                token_delay: Duration::ZERO,
                expires_in: Some(json!(3600)),
                issue_refresh_token: true,
                issue_id_token: true,
                signing: Signing::Unsigned,
                send_iss: true,
                id_claims: json!({}),
                device_interval: None,
                canary: String::new(),
                counter: 0,
                codes: HashMap::new(),
                families: Vec::new(),
                rt_family: HashMap::new(),
                at_family: HashMap::new(),
                devices: HashMap::new(),
                last_rt: None,
                last_at: None,
                reuse_detected: 0,
            }),
        });
        let i2 = Arc::clone(&inner);
        let accept = std::thread::Builder::new()
            .name("mockas-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if i2.stopped() {
                        break;
                    }
                    let Ok(stream) = conn else { continue };
                    let i3 = Arc::clone(&i2);
                    let _ = std::thread::Builder::new().name("mockas-conn".into()).spawn(move || serve(&i3, stream));
                }
            })
            .expect("spawn mockas");
        MockAs { inner, accept: Some(accept) }
    }

    /// `http://127.0.0.1:PORT`
    #[must_use]
    pub fn issuer(&self) -> String {
        self.inner.issuer()
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer())
    }

    /// Queues replies for the next requests to `path`; when the queue is empty the default applies.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.inner.st().scripts.entry(path.to_owned()).or_default().extend(replies);
    }

    /// Replaces the default reply for `path` for good.
    pub fn set_default(&self, path: &str, reply: Reply) {
        self.inner.st().defaults.insert(path.to_owned(), reply);
    }

    /// Back to the built-in behaviour for `path` (drops scripts and the replacement default).
    pub fn reset_path(&self, path: &str) {
        let mut st = self.inner.st();
        st.defaults.remove(path);
        st.scripts.remove(path);
    }

    /// Requests received on `path` so far (scripted, faulted and hung ones included).
    #[must_use]
    pub fn count(&self, path: &str) -> usize {
        self.inner.st().requests.iter().filter(|r| r.path == path).count()
    }

    /// `/token` requests with this grant type (`refresh_token`, `authorization_code`,
    /// `client_credentials`, `device_code` or the full device URN).
    #[must_use]
    pub fn count_grant(&self, grant_type: &str) -> usize {
        self.inner
            .st()
            .requests
            .iter()
            .filter(|r| r.path == "/token")
            .filter(|r| r.form_get("grant_type") == Some(grant_type) || r.grant_type() == Some(grant_type))
            .count()
    }

    #[must_use]
    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        self.inner.st().requests.iter().filter(|r| r.path == path).cloned().collect()
    }

    #[must_use]
    pub fn all_requests(&self) -> Vec<Recorded> {
        self.inner.st().requests.clone()
    }

    /// Refresh-token rotation (default on) and the reuse grace window (default none): within the
    /// window the previous refresh token returns the same new pair (RFC 9700 §4.14.2, FAPI retry).
    pub fn set_rotation(&self, rotate: bool, grace: Option<Duration>) {
        let mut st = self.inner.st();
        st.rotate = rotate;
        st.grace = grace;
    }

    /// Extra latency before every `/token` reply.
    pub fn set_token_delay(&self, d: Duration) {
        self.inner.st().token_delay = d;
    }

    /// `expires_in` of issued tokens; `None` omits the member. Default `Some(3600)`.
    pub fn set_expires_in(&self, v: Option<Value>) {
        self.inner.st().expires_in = v;
    }

    /// Whether grants return a refresh token (default true; client credentials never do).
    pub fn set_issue_refresh_token(&self, v: bool) {
        self.inner.st().issue_refresh_token = v;
    }

    /// Whether `openid` grants return an ID token (default true).
    pub fn set_issue_id_token(&self, v: bool) {
        self.inner.st().issue_id_token = v;
    }

    /// How ID tokens are signed; anything but `Unsigned` also publishes `jwks_uri`.
    pub fn set_signing(&self, v: Signing) {
        self.inner.st().signing = v;
    }

    /// Whether `/authorize` adds `iss` to the redirect (default true).
    pub fn set_send_iss(&self, v: bool) {
        self.inner.st().send_iss = v;
    }

    /// Claims merged over the built-in ID-token claims (e.g. `{"aud":"other"}`, `{"sub":"x"}`).
    pub fn set_id_claims(&self, v: Value) {
        self.inner.st().id_claims = v;
    }

    /// `interval` of the device authorization response (default: omitted).
    pub fn set_device_interval(&self, v: Option<u64>) {
        self.inner.st().device_interval = v;
    }

    /// Issued tokens and codes contain this string (use `[A-Za-z0-9_-]` only).
    pub fn set_canary(&self, prefix: &str) {
        self.inner.st().canary = prefix.to_owned();
    }

    /// The refresh token issued last (by any grant).
    #[must_use]
    pub fn last_refresh_token(&self) -> Option<String> {
        self.inner.st().last_rt.clone()
    }

    /// The access token issued last (by any grant).
    #[must_use]
    pub fn last_access_token(&self) -> Option<String> {
        self.inner.st().last_at.clone()
    }

    /// How many times a spent refresh token was presented (each revoked its family).
    #[must_use]
    pub fn reuse_detected(&self) -> usize {
        self.inner.st().reuse_detected
    }

    /// Whether the family of this (access or refresh) token was revoked.
    #[must_use]
    pub fn is_revoked(&self, token: &str) -> bool {
        let st = self.inner.st();
        let fam = st.rt_family.get(token).or_else(|| st.at_family.get(token)).copied();
        fam.is_some_and(|f| st.families[f].revoked)
    }

    /// Revokes every family (the user logged out everywhere).
    pub fn revoke_all(&self) {
        for f in &mut self.inner.st().families {
            f.revoked = true;
        }
    }

    /// A refresh token of a new family (scope `openid offline_access api`, client [`CLIENT_ID`]),
    /// for `login --refresh-token-stdin` imports.
    #[must_use]
    pub fn mint_refresh_token(&self) -> String {
        let mut st = self.inner.st();
        let rt = st.mint("rt");
        let fam = st.families.len();
        st.families.push(Family {
            client_id: CLIENT_ID.into(),
            scope: "openid offline_access api".into(),
            current_rt: Some(rt.clone()),
            previous: None,
            revoked: false,
        });
        st.rt_family.insert(rt.clone(), fam);
        rt
    }

    /// Approves every pending device code.
    pub fn approve_device(&self) {
        for d in self.inner.st().devices.values_mut() {
            d.approved = true;
        }
    }

    /// Denies every pending device code (`access_denied`).
    pub fn deny_device(&self) {
        for d in self.inner.st().devices.values_mut() {
            d.denied = true;
        }
    }
}

impl Drop for MockAs {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.inner.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl State {
    fn mint(&mut self, kind: &str) -> String {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        self.counter += 1;
        let tail: String = (0..20).map(|_| ALNUM[rand::random::<usize>() % ALNUM.len()] as char).collect();
        format!("{}{kind}{}-{tail}", self.canary, self.counter)
    }

    fn id_token(&self, issuer: &str, client_id: &str, nonce: Option<&str>) -> String {
        let now = unix_now();
        let mut claims = json!({
            "iss": issuer,
            "aud": client_id,
            "sub": SUBJECT,
            "preferred_username": "mock-user",
            "exp": now + 3600,
            "iat": now,
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let (Some(c), Some(over)) = (claims.as_object_mut(), self.id_claims.as_object()) {
            for (k, v) in over {
                c.insert(k.clone(), v.clone());
            }
        }
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = b64.encode(claims.to_string());
        let signed = |alg: &str| format!("{}.{payload}", b64.encode(json!({ "alg": alg, "kid": KID }).to_string()));
        let rng = ring::rand::SystemRandom::new();
        match self.signing {
            Signing::Unsigned => format!("e30.{payload}.sig{}", self.canary),
            Signing::Published | Signing::Unpublished => {
                let input = signed("ES256");
                let key = if self.signing == Signing::Published { &keys().0 } else { &keys().1 };
                let sig = key.sign(&rng, input.as_bytes()).expect("ES256 signature");
                format!("{input}.{}", b64.encode(sig.as_ref()))
            }
            Signing::AlgNone => format!("{}.", signed("none")),
            Signing::Hs256 => {
                let input = signed("HS256");
                let secret = published_jwk()["x"].as_str().unwrap_or_default().to_owned();
                let tag = ring::hmac::sign(
                    &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()),
                    input.as_bytes(),
                );
                format!("{input}.{}", b64.encode(tag.as_ref()))
            }
        }
    }

    /// Issues an access token (and maybe a refresh and ID token) on family `fam`.
    fn issue(&mut self, issuer: &str, fam: usize, with_rt: bool, nonce: Option<&str>) -> Value {
        let at = self.mint("at");
        self.at_family.insert(at.clone(), fam);
        self.last_at = Some(at.clone());
        let (scope, client_id) = (self.families[fam].scope.clone(), self.families[fam].client_id.clone());
        let mut v = json!({ "access_token": at, "token_type": "Bearer", "scope": scope });
        if let Some(e) = &self.expires_in {
            v["expires_in"] = e.clone();
        }
        if with_rt && self.issue_refresh_token {
            let rt = self.mint("rt");
            self.rt_family.insert(rt.clone(), fam);
            self.last_rt = Some(rt.clone());
            self.families[fam].current_rt = Some(rt.clone());
            v["refresh_token"] = json!(rt);
        }
        if self.issue_id_token && scope.split(' ').any(|s| s == "openid") {
            v["id_token"] = json!(self.id_token(issuer, &client_id, nonce));
        }
        v
    }

    fn new_family(&mut self, client_id: &str, scope: &str) -> usize {
        self.families.push(Family {
            client_id: client_id.into(),
            scope: scope.into(),
            current_rt: None,
            previous: None,
            revoked: false,
        });
        self.families.len() - 1
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn oauth_error(code: &str, desc: &str) -> Reply {
    Reply::Json(400, json!({ "error": code, "error_description": desc }))
}

fn pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes()).into_owned().collect()
}

fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

/// Reads one HTTP/1.1 request (headers capped at 64 KiB, bodies at 1 MiB).
fn read_request(stream: &TcpStream) -> Option<Recorded> {
    let mut r = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    let mut total = line.len();
    loop {
        let mut h = String::new();
        let n = r.read_line(&mut h).ok()?;
        total += n;
        if n == 0 || total > 65_536 {
            return None;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let len: usize = get(&headers, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0).min(1 << 20);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let (path, raw_query) = target.split_once('?').unwrap_or((&target, ""));
    let is_form = get(&headers, "content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    Some(Recorded {
        method,
        path: path.to_owned(),
        query: pairs(raw_query),
        raw_query: raw_query.to_owned(),
        form: if is_form { pairs(&String::from_utf8_lossy(&body)) } else { Vec::new() },
        headers,
        body,
        received_at: Instant::now(),
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn head(status: u16, content_type: &str, len: Option<usize>, headers: &[(String, String)]) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {status} {}\r\nConnection: close\r\nCache-Control: no-store\r\n", reason(status));
    if !content_type.is_empty() {
        h.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    if let Some(n) = len {
        h.push_str(&format!("Content-Length: {n}\r\n"));
    }
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn write_full(mut s: &TcpStream, status: u16, ct: &str, body: &[u8], headers: &[(String, String)]) {
    let mut out = head(status, ct, Some(body.len()), headers);
    out.extend_from_slice(body);
    let _ = s.write_all(&out);
    let _ = s.flush();
    let _ = s.shutdown(Shutdown::Write);
}

fn serve(inner: &Inner, stream: TcpStream) {
    if inner.stopped() {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    let Some(req) = read_request(&stream) else { return };
    let reply = {
        let mut st = inner.st();
        st.requests.push(req.clone());
        let scripted = st.scripts.get_mut(&req.path).and_then(VecDeque::pop_front);
        scripted.or_else(|| st.defaults.get(&req.path).cloned()).unwrap_or(Reply::Default)
    };
    if req.path == "/token" {
        let d = inner.st().token_delay;
        if !d.is_zero() && !inner.sleep(d) {
            return;
        }
    }
    answer(inner, &stream, &req, reply);
    // Let the peer read everything before the socket closes.
    let mut sink = [0u8; 256];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = (&stream).read(&mut sink);
}

fn answer(inner: &Inner, stream: &TcpStream, req: &Recorded, reply: Reply) {
    match reply {
        Reply::Default => {
            let r = builtin(inner, req);
            answer(inner, stream, req, r);
        }
        Reply::Json(status, v) => write_full(stream, status, "application/json", v.to_string().as_bytes(), &[]),
        Reply::Raw { status, content_type, body, headers } => {
            write_full(stream, status, &content_type, &body, &headers);
        }
        Reply::Delay(d, inner_reply) => {
            if inner.sleep(d) {
                answer(inner, stream, req, *inner_reply);
            }
        }
        Reply::Hang => {
            while inner.sleep(Duration::from_millis(50)) {}
            let _ = stream.shutdown(Shutdown::Both);
        }
        Reply::Drip => {
            let mut s = stream;
            if s.write_all(&head(200, "application/json", Some(1 << 20), &[])).is_err() {
                return;
            }
            let body = br#"{"access_token":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"#;
            for b in body.iter().cycle() {
                if s.write_all(&[*b]).and_then(|()| s.flush()).is_err() || !inner.sleep(Duration::from_secs(1)) {
                    break;
                }
            }
            let _ = stream.shutdown(Shutdown::Both);
        }
        Reply::Huge(n) => {
            let mut s = stream;
            if s.write_all(&head(200, "application/json", Some(n), &[])).is_err() {
                return;
            }
            let prefix = br#"{"access_token":""#;
            let _ = s.write_all(&prefix[..prefix.len().min(n)]);
            let chunk = vec![b'a'; 64 * 1024];
            let mut left = n.saturating_sub(prefix.len());
            while left > 0 && !inner.stopped() {
                let k = left.min(chunk.len());
                if s.write_all(&chunk[..k]).is_err() {
                    break;
                }
                left -= k;
            }
            let _ = stream.shutdown(Shutdown::Both);
        }
        Reply::DropAfterCommit => {
            let _ = builtin(inner, req);
            let _ = stream.shutdown(Shutdown::Both);
        }
        Reply::Redirect(status, location) => {
            write_full(stream, status, "", b"", &[("Location".into(), location)]);
        }
        Reply::RetryAfter(status, value) => {
            let body = json!({ "error": "temporarily_unavailable", "error_description": "try again later" });
            write_full(
                stream,
                status,
                "application/json",
                body.to_string().as_bytes(),
                &[("Retry-After".into(), value)],
            );
        }
    }
}

/// The built-in authorization server.
fn builtin(inner: &Inner, req: &Recorded) -> Reply {
    let issuer = inner.issuer();
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration") => Reply::Json(
            200,
            json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "revocation_endpoint": format!("{issuer}/revoke"),
                "device_authorization_endpoint": format!("{issuer}/device_authorization"),
                "scopes_supported": ["openid", "offline_access", "api"],
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials",
                    "urn:ietf:params:oauth:grant-type:device_code"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
                "authorization_response_iss_parameter_supported": true,
            })
            .as_object()
            .cloned()
            .map(|mut m| {
                if inner.st().signing != Signing::Unsigned {
                    m.insert("jwks_uri".into(), json!(format!("{issuer}/jwks")));
                }
                Value::Object(m)
            })
            .unwrap_or_default(),
        ),
        ("GET", "/jwks") => Reply::Json(200, json!({ "keys": [published_jwk()] })),
        ("GET", "/authorize") => authorize(inner, req),
        ("POST", "/token") => token(inner, req),
        ("POST", "/revoke") => {
            let mut st = inner.st();
            if let Some(t) = req.form_get("token") {
                let fam = st.rt_family.get(t).or_else(|| st.at_family.get(t)).copied();
                if let Some(f) = fam {
                    st.families[f].revoked = true;
                }
            }
            Reply::Raw { status: 200, content_type: String::new(), body: Vec::new(), headers: Vec::new() }
        }
        ("POST", "/device_authorization") => {
            let mut st = inner.st();
            let device_code = st.mint("dc");
            let user_code = format!("{:04}-{:04}", rand::random::<u16>() % 10_000, rand::random::<u16>() % 10_000);
            st.devices.insert(
                device_code.clone(),
                DeviceGrant {
                    client_id: req.form_get("client_id").unwrap_or_default().to_owned(),
                    scope: req.form_get("scope").unwrap_or("openid offline_access").to_owned(),
                    expires: Instant::now() + Duration::from_secs(600),
                    approved: false,
                    denied: false,
                    used: false,
                },
            );
            let mut v = json!({
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": format!("{issuer}/device"),
                "verification_uri_complete": format!("{issuer}/device?user_code={user_code}"),
                "expires_in": 600,
            });
            if let Some(i) = st.device_interval {
                v["interval"] = json!(i);
            }
            Reply::Json(200, v)
        }
        _ => Reply::Json(404, json!({ "error": "not_found" })),
    }
}

fn authorize(inner: &Inner, req: &Recorded) -> Reply {
    let bad = |m: &str| Reply::Raw {
        status: 400,
        content_type: "text/plain".into(),
        body: m.as_bytes().to_vec(),
        headers: Vec::new(),
    };
    let q = &req.query;
    if get(q, "response_type") != Some("code") {
        return bad("response_type must be code");
    }
    if get(q, "code_challenge_method") != Some("S256") {
        return bad("code_challenge_method must be S256");
    }
    let Some(challenge) = get(q, "code_challenge").filter(|c| c.len() >= 43) else {
        return bad("code_challenge missing");
    };
    let Some(redirect_uri) = get(q, "redirect_uri") else { return bad("redirect_uri missing") };
    let Ok(mut location) = url::Url::parse(redirect_uri) else { return bad("redirect_uri invalid") };
    let Some(client_id) = get(q, "client_id") else { return bad("client_id missing") };
    let mut st = inner.st();
    let code = st.mint("code");
    st.codes.insert(
        code.clone(),
        CodeGrant {
            challenge: challenge.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            client_id: client_id.to_owned(),
            scope: get(q, "scope").unwrap_or_default().to_owned(),
            nonce: get(q, "nonce").map(str::to_owned),
            used: false,
        },
    );
    {
        let mut qp = location.query_pairs_mut();
        qp.append_pair("code", &code);
        if let Some(s) = get(q, "state") {
            qp.append_pair("state", s);
        }
        if st.send_iss {
            qp.append_pair("iss", &inner.issuer());
        }
    }
    Reply::Raw {
        status: 302,
        content_type: String::new(),
        body: Vec::new(),
        headers: vec![("Location".into(), location.to_string())],
    }
}

fn token(inner: &Inner, req: &Recorded) -> Reply {
    let issuer = inner.issuer();
    let mut st = inner.st();
    match req.grant_type() {
        Some("authorization_code") => {
            let Some(code) = req.form_get("code") else { return oauth_error("invalid_request", "code missing") };
            let Some(g) = st.codes.get_mut(code) else { return oauth_error("invalid_grant", "unknown code") };
            if g.used {
                return oauth_error("invalid_grant", "code already used");
            }
            g.used = true;
            let g = g.clone();
            if req.form_get("redirect_uri") != Some(g.redirect_uri.as_str()) {
                return oauth_error("invalid_grant", "redirect_uri mismatch");
            }
            let verifier = req.form_get("code_verifier").unwrap_or_default();
            let s256 =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
            if s256 != g.challenge {
                return oauth_error("invalid_grant", "PKCE verification failed");
            }
            let client = req.form_get("client_id").map(str::to_owned).or_else(|| basic_client_id(req));
            if client.as_deref() != Some(g.client_id.as_str()) {
                return oauth_error("invalid_grant", "client mismatch");
            }
            let fam = st.new_family(&g.client_id, &g.scope);
            Reply::Json(200, st.issue(&issuer, fam, true, g.nonce.as_deref()))
        }
        Some("refresh_token") => {
            let Some(rt) = req.form_get("refresh_token") else {
                return oauth_error("invalid_request", "refresh_token missing");
            };
            let Some(&fam) = st.rt_family.get(rt) else { return oauth_error("invalid_grant", "unknown refresh token") };
            if st.families[fam].revoked {
                return oauth_error("invalid_grant", "the grant was revoked");
            }
            if st.families[fam].current_rt.as_deref() == Some(rt) {
                if st.rotate {
                    let resp = st.issue(&issuer, fam, true, None);
                    st.families[fam].previous = Some((rt.to_owned(), Instant::now(), resp.clone()));
                    return Reply::Json(200, resp);
                }
                let resp = st.issue(&issuer, fam, false, None);
                return Reply::Json(200, resp);
            }
            // A spent refresh token: the grace retry, or reuse (revoke the whole family).
            let grace = st.grace;
            if let (Some(g), Some((prev, at, resp))) = (grace, &st.families[fam].previous)
                && prev == rt
                && at.elapsed() <= g
            {
                return Reply::Json(200, resp.clone());
            }
            st.families[fam].revoked = true;
            st.reuse_detected += 1;
            oauth_error("invalid_grant", "refresh token reuse detected; the grant was revoked")
        }
        Some("client_credentials") => {
            let client = basic_client_id(req).or_else(|| req.form_get("client_id").map(str::to_owned));
            let Some(client) = client else { return oauth_error("invalid_client", "no client authentication") };
            let scope = req.form_get("scope").unwrap_or("api").to_owned();
            let fam = st.new_family(&client, &scope);
            Reply::Json(200, st.issue(&issuer, fam, false, None))
        }
        Some("device_code") => {
            let Some(dc) = req.form_get("device_code") else {
                return oauth_error("invalid_request", "device_code missing");
            };
            let Some(d) = st.devices.get_mut(dc) else { return oauth_error("invalid_grant", "unknown device code") };
            if d.used {
                return oauth_error("invalid_grant", "device code already used");
            }
            if d.expires < Instant::now() {
                return oauth_error("expired_token", "the device code expired");
            }
            if d.denied {
                return oauth_error("access_denied", "the user denied the request");
            }
            if !d.approved {
                return oauth_error("authorization_pending", "waiting for the user");
            }
            d.used = true;
            let (client, scope) = (d.client_id.clone(), d.scope.clone());
            let fam = st.new_family(&client, &scope);
            Reply::Json(200, st.issue(&issuer, fam, true, None))
        }
        _ => oauth_error("unsupported_grant_type", "unsupported grant type"),
    }
}

fn basic_client_id(req: &Recorded) -> Option<String> {
    let v = req.header("authorization")?.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(v.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let id = s.split_once(':').map_or(s.as_str(), |(a, _)| a);
    Some(url::form_urlencoded::parse(format!("x={id}").as_bytes()).next()?.1.into_owned())
}

// ---------------------------------------------------------------------------------------------
// Client-side helpers shared by the tests.

/// A raw HTTP response read by [`http`].
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    #[must_use]
    pub fn header(&self, k: &str) -> Option<&str> {
        let k = k.to_ascii_lowercase();
        self.headers.iter().find(|(a, _)| *a == k).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a fresh connection, with full control over the Host header.
/// No proxy, no redirects. Errors (refused, reset) are returned, not panicked on.
pub fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<RawResponse> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no complete response head"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(RawResponse { status, headers, body: raw[split + 4..].to_vec() })
}

/// GET an absolute `http://127.0.0.1:PORT/...` URL with its own Host header.
pub fn http_get(url: &str) -> std::io::Result<RawResponse> {
    let u = url::Url::parse(url).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let host = u.host_str().unwrap_or("127.0.0.1");
    let port = u.port_or_known_default().unwrap_or(80);
    let addr: SocketAddr =
        format!("{host}:{port}").parse().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    };
    http(addr, "GET", &target, &format!("{host}:{port}"), &[], b"")
}

/// A "browser" for `BROWSER=`: follows every redirect with curl and discards the pages.
pub fn browser_script() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = tempfile::Builder::new().prefix("tokcli-it-browser").tempdir().expect("browser tempdir");
        let p = d.path().join("browser");
        std::fs::write(&p, "#!/bin/sh\nexec curl -s -L --max-time 30 -o /dev/null \"$1\"\n").expect("write browser");
        set_mode(&p, 0o755);
        d
    });
    dir.path().join("browser")
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// `tokcli login <issuer> --client-id test-client --profile NAME` through the curl "browser";
/// asserts exit 0.
#[track_caller]
pub fn login(home: &Home, mock: &MockAs, profile: &str) -> Run {
    let r = home.run_with(
        &["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", profile, "--timeout", "30s"],
        |c| {
            c.env("BROWSER", browser_script());
        },
    );
    r.ok();
    r
}

/// Creates `n` logged-in profiles `p0000`… quickly: refresh tokens minted by the mock, imported
/// with `login --refresh-token-stdin` from 8 parallel threads. Returns the names.
#[track_caller]
pub fn login_many(home: &Home, mock: &MockAs, n: usize) -> Vec<String> {
    let names: Vec<String> = (0..n).map(|i| format!("p{i:04}")).collect();
    let jobs: Vec<(String, String)> = names.iter().map(|name| (name.clone(), mock.mint_refresh_token())).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let issuer = mock.issuer();
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..8.min(n.max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((name, rt)) = jobs.get(i) else { break };
                    let r = home.run_stdin(
                        &["login", &issuer, "--client-id", CLIENT_ID, "--profile", name, "--refresh-token-stdin"],
                        &format!("{rt}\n"),
                        |_| {},
                    );
                    if r.code != 0 {
                        failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((name.clone(), r));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(failures.is_empty(), "login_many: {} imports failed, first: {:?}", failures.len(), failures.first());
    names
}

// ---------------------------------------------------------------------------------------------
// Tests of the mock itself.

#[cfg(test)]
mod tests {
    use super::*;

    fn post_form(m: &MockAs, path: &str, form: &[(&str, &str)]) -> RawResponse {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter().copied()).finish();
        http(
            m.addr(),
            "POST",
            path,
            &m.addr().to_string(),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
        .expect("post")
    }
    fn json_of(r: &RawResponse) -> Value {
        serde_json::from_slice(&r.body).expect("json body")
    }

    /// Runs /authorize + /token like a client would; returns the token response.
    fn code_flow(m: &MockAs, scope: &str) -> Value {
        let verifier = "v".repeat(50);
        let challenge =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        let redirect = "http://127.0.0.1:9/callback";
        let mut u = url::Url::parse(&m.url("/authorize")).unwrap();
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", redirect)
            .append_pair("state", "st")
            .append_pair("nonce", "nn")
            .append_pair("scope", scope)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let r = http_get(u.as_str()).unwrap();
        assert_eq!(r.status, 302);
        let loc = url::Url::parse(r.header("location").unwrap()).unwrap();
        let q: HashMap<_, _> = loc.query_pairs().into_owned().collect();
        assert_eq!(q["state"], "st");
        assert_eq!(q["iss"], m.issuer());
        let bad = post_form(
            m,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("redirect_uri", redirect),
                ("client_id", CLIENT_ID),
                ("code_verifier", &verifier),
            ],
        );
        assert_eq!(json_of(&bad)["error"], "invalid_grant");
        let form = [
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", redirect),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier.as_str()),
        ];
        let ok = post_form(m, "/token", &form);
        assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
        let again = post_form(m, "/token", &form);
        assert_eq!(json_of(&again)["error"], "invalid_grant", "codes are single-use");
        json_of(&ok)
    }

    #[test]
    fn discovery_and_code_flow_with_pkce() {
        let m = MockAs::start();
        m.set_canary("CNRY");
        let md = json_of(&http_get(&m.url("/.well-known/oauth-authorization-server")).unwrap());
        assert_eq!(md["issuer"], m.issuer());
        assert_eq!(md["token_endpoint"], m.url("/token"));
        let t = code_flow(&m, "openid offline_access");
        assert!(t["access_token"].as_str().unwrap().contains("CNRY"));
        assert_eq!(t["expires_in"], 3600);
        assert_eq!(t["token_type"], "Bearer");
        let claims = t["id_token"].as_str().unwrap().split('.').nth(1).unwrap().to_owned();
        let claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["nonce"], "nn");
        assert_eq!(claims["aud"], CLIENT_ID);
        assert_eq!(m.count_grant("authorization_code"), 3);
        assert_eq!(m.count("/authorize"), 1);
    }

    #[test]
    fn rotation_reuse_detection_and_grace() {
        let m = MockAs::start();
        let t = code_flow(&m, "offline_access");
        let rt0 = t["refresh_token"].as_str().unwrap().to_owned();
        let r1 = json_of(&post_form(&m, "/token", &[("grant_type", "refresh_token"), ("refresh_token", &rt0)]));
        let rt1 = r1["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(rt0, rt1);
        assert_eq!(m.last_refresh_token().as_deref(), Some(rt1.as_str()));
        // Reuse of rt0 revokes the family: rt1 dies too.
        let reuse = post_form(&m, "/token", &[("grant_type", "refresh_token"), ("refresh_token", &rt0)]);
        assert_eq!(json_of(&reuse)["error"], "invalid_grant");
        let dead = post_form(&m, "/token", &[("grant_type", "refresh_token"), ("refresh_token", &rt1)]);
        assert_eq!(json_of(&dead)["error"], "invalid_grant");
        assert!(m.is_revoked(&rt1));
        assert_eq!(m.reuse_detected(), 1);

        // With grace, the previous token returns the same pair.
        m.set_rotation(true, Some(Duration::from_secs(30)));
        let a = m.mint_refresh_token();
        let r1 = json_of(&post_form(&m, "/token", &[("grant_type", "refresh_token"), ("refresh_token", &a)]));
        let r2 = json_of(&post_form(&m, "/token", &[("grant_type", "refresh_token"), ("refresh_token", &a)]));
        assert_eq!(r1, r2);
        let b = r1["refresh_token"].as_str().unwrap();
        assert_eq!(post_form(&m, "/token", &[("grant_type", "refresh_token"), ("refresh_token", b)]).status, 200);
        assert_eq!(m.count_grant("refresh_token"), 6);

        // Without rotation no refresh token is returned and the old one keeps working.
        m.set_rotation(false, None);
        let c = m.mint_refresh_token();
        for _ in 0..2 {
            let r = json_of(&post_form(&m, "/token", &[("grant_type", "refresh_token"), ("refresh_token", &c)]));
            assert!(r.get("refresh_token").is_none() && r["access_token"].is_string());
        }
    }

    #[test]
    fn scripts_defaults_and_faults() {
        let m = MockAs::start();
        m.script("/token", vec![Reply::RetryAfter(503, "2".into()), Reply::Json(418, json!({"x": 1}))]);
        let cc = [("grant_type", "client_credentials"), ("client_id", "svc")];
        let r = post_form(&m, "/token", &cc);
        assert_eq!((r.status, r.header("retry-after")), (503, Some("2")));
        assert_eq!(post_form(&m, "/token", &cc).status, 418);
        assert_eq!(post_form(&m, "/token", &cc).status, 200, "queue empty: built-in");
        m.set_default("/token", Reply::Redirect(307, "http://127.0.0.1:9/steal".into()));
        let r = post_form(&m, "/token", &cc);
        assert_eq!((r.status, r.header("location")), (307, Some("http://127.0.0.1:9/steal")));
        m.set_default("/token", Reply::DropAfterCommit);
        let rt = m.mint_refresh_token();
        assert!(
            http(
                m.addr(),
                "POST",
                "/token",
                "x",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                format!("grant_type=refresh_token&refresh_token={rt}").as_bytes()
            )
            .is_err(),
            "no response"
        );
        assert_ne!(m.last_refresh_token().as_deref(), Some(rt.as_str()), "but the rotation happened");
        m.set_default("/token", Reply::Huge(3 << 20));
        let r = post_form(&m, "/token", &cc);
        assert_eq!(r.body.len(), 3 << 20);
        assert!(r.body.starts_with(br#"{"access_token":"aaa"#));
        m.set_default("/token", Reply::Hang);
        let t = Instant::now();
        let h = {
            let addr = m.addr();
            std::thread::spawn(move || {
                http(
                    addr,
                    "POST",
                    "/token",
                    "x",
                    &[("Content-Type", "application/x-www-form-urlencoded")],
                    b"grant_type=x",
                )
            })
        };
        while m.count("/token") < 7 {
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(m);
        assert!(h.join().unwrap().is_err(), "a hung request ends without a response when the mock stops");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn login_helpers() {
        let m = MockAs::start();
        let home = Home::new();
        login(&home, &m, "one");
        assert_eq!(m.count_grant("authorization_code"), 1);
        let auth = &m.requests("/authorize")[0];
        assert_eq!(auth.query_get("code_challenge_method"), Some("S256"));
        let t = Instant::now();
        let names = login_many(&home, &m, 24);
        eprintln!("login_many(24): {:?}", t.elapsed());
        assert_eq!(names.len(), 24);
        assert_eq!(m.count_grant("refresh_token"), 24);
        let r = home.run(&["list", "--json"]);
        r.ok();
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 25);
    }

    #[test]
    fn device_flow() {
        let m = MockAs::start();
        let d = json_of(&post_form(&m, "/device_authorization", &[("client_id", CLIENT_ID), ("scope", "openid")]));
        assert!(d.get("interval").is_none());
        let dc = d["device_code"].as_str().unwrap();
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", dc),
            ("client_id", CLIENT_ID),
        ];
        assert_eq!(json_of(&post_form(&m, "/token", &form))["error"], "authorization_pending");
        m.approve_device();
        assert_eq!(post_form(&m, "/token", &form).status, 200);
        assert_eq!(m.count_grant("device_code"), 2);
        let rev = post_form(&m, "/revoke", &[("token", &m.last_refresh_token().unwrap())]);
        assert_eq!(rev.status, 200);
        assert!(m.is_revoked(&m.last_access_token().unwrap()));
    }
}
