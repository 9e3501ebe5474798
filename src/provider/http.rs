//! The HTTP client for token, revocation, device and discovery endpoints (TE-01, TE-07, TE-11).
//!
//! Redirects are never followed, connect is bounded at 10 s and each request at 30 s (and by the
//! command's deadline), bodies are read into a zeroized buffer capped at 1 MiB, and plain http is
//! refused unless the host is loopback. Errors say whether the request may have reached the
//! server, which the refresh path needs for RF-05.

use std::time::{Duration, Instant, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use url::Url;
use zeroize::Zeroizing;

use crate::error::{Error, sanitize_provider_text};

pub const MAX_BODY: u64 = 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A response with its body already read (at most [`MAX_BODY`]).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: Zeroizing<Vec<u8>>,
    pub retry_after: Option<Duration>,
    pub location: Option<String>,
}

impl Response {
    #[must_use]
    pub fn is_json(&self) -> bool {
        let ct = self.content_type.to_ascii_lowercase();
        let mime = ct.split(';').next().unwrap_or("").trim();
        mime == "application/json" || mime.ends_with("+json")
    }
    #[must_use]
    pub fn is_html(&self) -> bool {
        self.content_type.to_ascii_lowercase().contains("html")
            || self.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
    }
}

/// Why a request produced no response.
#[derive(Debug)]
pub enum SendError {
    /// The request certainly did not reach the server (DNS, connect refused, TLS handshake).
    NotSent(String),
    /// The request may have been processed: the connection broke or timed out after sending.
    MaybeSent(String),
    /// The body exceeded [`MAX_BODY`].
    TooLarge,
}

impl SendError {
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            SendError::NotSent(m) | SendError::MaybeSent(m) => m.clone(),
            SendError::TooLarge => format!("the response was larger than {} KiB", MAX_BODY / 1024),
        }
    }
}

/// Client authentication at the token endpoint.
pub enum Auth<'a> {
    None,
    Basic { client_id: &'a str, secret: &'a SecretString },
}

/// Checks that a URL is https, or http on a loopback host (MD-01, TE-01).
///
/// # Errors
/// A usage error naming the URL's role.
pub fn check_url(what: &str, raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw)
        .map_err(|e| Error::usage(format!("the {what} {:?} is not a valid URL: {e}", sanitize_provider_text(raw))))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Error::usage(format!("refusing plain-http {what} {}", sanitize_provider_text(raw)))
            .hint("tokens must travel over https; plain http is allowed only for 127.0.0.1, [::1] and localhost")),
        s => Err(Error::usage(format!(
            "the {what} {} uses unsupported scheme {:?}",
            sanitize_provider_text(raw),
            sanitize_provider_text(s)
        ))),
    }
}

#[must_use]
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The HTTP client. Built lazily: the cached-token path never constructs one.
///
/// reqwest's async client runs on a current-thread Tokio runtime owned by the caller's thread, so
/// a request costs no thread hand-offs (reqwest's blocking client sends every request through a
/// runtime thread of its own, about 0.3 ms of a forced refresh). One `Http` serves one thread at
/// a time: `refresh --jobs N` gives each worker its own (see `Ctx::worker`).
pub struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Http")
    }
}

impl Http {
    /// # Errors
    /// A usage error when `TOKCLI_CA_FILE` cannot be read or parsed.
    pub fn new() -> Result<Self, Error> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("tokcli/", env!("CARGO_PKG_VERSION")))
            .https_only(false);
        if let Some(path) = std::env::var_os("TOKCLI_CA_FILE") {
            let pem = std::fs::read(&path).map_err(|e| {
                Error::usage(format!("cannot read TOKCLI_CA_FILE {}: {e}", std::path::Path::new(&path).display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::usage(format!("TOKCLI_CA_FILE is not a PEM bundle: {e}")))?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let client = b.build().map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::internal(format!("cannot start the HTTP runtime: {e}")))?;
        Ok(Self { rt, client })
    }

    /// POSTs a form (TE-01, TE-02): credentials only in the body or a Basic header, never the URL.
    ///
    /// # Errors
    /// [`SendError`] when no response could be read.
    pub fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        auth: &Auth<'_>,
        deadline: Instant,
    ) -> Result<Response, SendError> {
        let body = Zeroizing::new(
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter().copied()).finish(),
        );
        let req = self
            .client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(reqwest::header::ACCEPT, "application/json");
        self.send(with_auth(req, auth).body(body.to_string()), deadline)
    }

    /// POSTs the same fields as a flat JSON object of strings, for token endpoints that want JSON
    /// (Notion); otherwise exactly like [`Http::post_form`].
    ///
    /// # Errors
    /// [`SendError`] when no response could be read.
    pub fn post_json(
        &self,
        url: &Url,
        fields: &[(&str, &str)],
        auth: &Auth<'_>,
        deadline: Instant,
    ) -> Result<Response, SendError> {
        let map: serde_json::Map<String, serde_json::Value> =
            fields.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned()))).collect();
        let body = Zeroizing::new(serde_json::Value::Object(map).to_string());
        let req = self
            .client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json");
        self.send(with_auth(req, auth).body(body.to_string()), deadline)
    }

    /// GETs a JSON document (discovery).
    ///
    /// # Errors
    /// [`SendError`] when no response could be read.
    pub fn get(&self, url: &Url, deadline: Instant) -> Result<Response, SendError> {
        self.send(self.client.get(url.clone()).header(reqwest::header::ACCEPT, "application/json"), deadline)
    }

    fn send(&self, req: reqwest::RequestBuilder, deadline: Instant) -> Result<Response, SendError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(SendError::NotSent("the command's deadline passed before the request".into()));
        }
        self.rt.block_on(async {
            let mut resp = req.timeout(remaining.min(REQUEST_TIMEOUT)).send().await.map_err(|e| classify_send(&e))?;
            let status = resp.status().as_u16();
            let header = |name: reqwest::header::HeaderName| {
                resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
            };
            let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
            let retry_after =
                header(reqwest::header::RETRY_AFTER).and_then(|v| parse_retry_after(&v, SystemTime::now()));
            let location = header(reqwest::header::LOCATION);
            let expected = resp.content_length().unwrap_or(0).min(MAX_BODY);
            let mut body = Zeroizing::new(Vec::with_capacity(usize::try_from(expected).unwrap_or(0).max(4096)));
            loop {
                match resp.chunk().await {
                    Ok(Some(c)) => {
                        if (body.len() + c.len()) as u64 > MAX_BODY {
                            return Err(SendError::TooLarge);
                        }
                        append(&mut body, &c);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let why = if e.is_timeout() { "timed out".to_owned() } else { classify_send(&e).describe() };
                        return Err(SendError::MaybeSent(format!("reading the response failed: {why}")));
                    }
                }
            }
            Ok(Response { status, content_type, body, retry_after, location })
        })
    }
}

/// Appends to a body that may hold tokens. A growing `Vec` would free its old buffer with the
/// bytes still in it, so a full one moves into a larger `Zeroizing` buffer and the old one is
/// wiped when dropped (PH-04).
fn append(body: &mut Zeroizing<Vec<u8>>, chunk: &[u8]) {
    if body.capacity() - body.len() < chunk.len() {
        let mut bigger = Zeroizing::new(Vec::with_capacity((body.len() + chunk.len()).max(body.capacity() * 2)));
        bigger.extend_from_slice(body);
        *body = bigger;
    }
    body.extend_from_slice(chunk);
}

fn with_auth(req: reqwest::RequestBuilder, auth: &Auth<'_>) -> reqwest::RequestBuilder {
    match auth {
        Auth::None => req,
        Auth::Basic { client_id, secret } => {
            // RFC 6749 §2.3.1: form-encode id and secret before Basic encoding.
            let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let secret_enc = Zeroizing::new(enc(secret.expose_secret()));
            req.basic_auth(enc(client_id), Some(&*secret_enc))
        }
    }
}

fn classify_send(e: &reqwest::Error) -> SendError {
    use std::error::Error as _;
    let mut detail = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        detail = format!("{detail}: {s}");
        src = s.source();
    }
    // Never echo a URL with a query string (none of ours carries secrets, but be strict).
    let detail = crate::error::sanitize_provider_text(&detail);
    if e.is_connect() || e.is_builder() {
        SendError::NotSent(detail)
    } else if e.is_timeout() {
        SendError::MaybeSent(format!("timed out: {detail}"))
    } else {
        SendError::MaybeSent(detail)
    }
}

/// Parses `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
#[must_use]
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(check_url("issuer", "https://example.com").is_ok());
        assert!(check_url("issuer", "http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("issuer", "http://[::1]:8080").is_ok());
        assert!(check_url("issuer", "http://localhost:1").is_ok());
        assert!(check_url("issuer", "http://example.com").is_err());
        assert!(check_url("issuer", "http://127.0.0.1.evil.com").is_err());
        assert!(check_url("issuer", "ftp://x").is_err());
    }

    #[test]
    fn append_grows_into_a_new_buffer() {
        let mut body = Zeroizing::new(Vec::with_capacity(4));
        append(&mut body, b"abc");
        let first = body.as_ptr();
        append(&mut body, b"defgh");
        assert_eq!(&body[..], b"abcdefgh");
        assert!(body.capacity() >= 8);
        assert_ne!(body.as_ptr(), first, "moved to a larger buffer");
        append(&mut body, b"");
        assert_eq!(body.len(), 8);
    }

    #[test]
    fn retry_after() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(3600));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(3600)));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
