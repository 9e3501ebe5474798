//! Token-endpoint requests and response handling (TE-02..TE-10, TE-12, RF-05).
//!
//! One function sends a grant and turns whatever comes back into either a validated
//! [`TokenSet`] or a classified [`TokenError`]; the retry loop around it follows TE-12 (at most 3
//! attempts, exponential backoff with full jitter, `Retry-After`, the command deadline) and RF-05
//! (one retry with the same refresh token after an unknown outcome).

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::http::{Auth, Http, Response, SendError};
use crate::error::{Class, Error, sanitize_provider_text};
use crate::model::{TokenSet, is_safe_token, jwt_claims, now, secret};

/// Lifetime assumed when the provider gives none and the token is not a JWT (TE-04).
pub const ASSUME_LIFETIME: i64 = 300;
const MAX_LIFETIME: i64 = 365 * 86_400;
const MAX_ATTEMPTS: u32 = 3;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Public client: `client_id` in the body, no Authorization header.
    None,
    /// HTTP Basic with the form-encoded id and secret.
    Basic,
    /// `client_id` and `client_secret` in the body.
    Post,
}

impl ClientAuth {
    /// # Errors
    /// A usage error for unknown method names.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "none" => Ok(Self::None),
            "client_secret_basic" | "basic" => Ok(Self::Basic),
            "client_secret_post" | "post" => Ok(Self::Post),
            _ => Err(Error::usage(format!("unknown client authentication method {s:?}"))
                .hint("use none, client_secret_basic or client_secret_post")),
        }
    }
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Basic => "client_secret_basic",
            Self::Post => "client_secret_post",
        }
    }
}

/// The client as the token endpoint sees it.
#[derive(Debug)]
pub struct Client {
    pub client_id: String,
    pub secret: Option<SecretString>,
    pub auth: ClientAuth,
}

/// A grant to present at the token endpoint.
pub enum GrantRequest<'a> {
    AuthorizationCode { code: &'a SecretString, redirect_uri: &'a str, verifier: &'a SecretString },
    Refresh { refresh_token: &'a SecretString, scope: Option<&'a str> },
    ClientCredentials { scope: Option<&'a str> },
    DeviceCode { device_code: &'a SecretString },
}

/// A classified failure at the token endpoint.
#[derive(Debug)]
pub enum TokenError {
    /// `invalid_grant`: the code or refresh token is dead (RF-04).
    InvalidGrant(String),
    /// A configuration problem (invalid_client, invalid_scope, …): exit 2, no retry.
    Config(String),
    /// Device flow: keep polling.
    Pending,
    /// Device flow: poll more slowly.
    SlowDown,
    /// A terminal error code in the device flow or a denied grant (`access_denied`, `expired_token`).
    Denied(String),
    /// Network failure, timeout, 5xx, 429: worth retrying. `maybe_sent`: the provider may have
    /// processed the request (RF-05).
    Transient { message: String, retry_after: Option<Duration>, maybe_sent: bool },
    /// A malformed or unacceptable response; `class` is 4 (5xx/HTML) or 2.
    Protocol { message: String, class: Class },
}

impl TokenError {
    /// Converts to a user-facing error with an exit code and a hint.
    #[must_use]
    pub fn into_error(self, what: &str, profile: &str) -> Error {
        match self {
            TokenError::InvalidGrant(d) => Error::relogin(format!("{what} was rejected: invalid_grant{d}"))
                .hint(format!("the grant is no longer valid; run `tokcli login … --profile {profile}`")),
            TokenError::Config(d) => Error::usage(format!("{what} was rejected: {d}"))
                .hint("check the client id, secret, scopes and endpoints of this profile"),
            TokenError::Pending | TokenError::SlowDown => Error::login(format!("{what} is still pending")),
            TokenError::Denied(d) => Error::login(format!("{what} failed: {d}")).hint("start the login again"),
            TokenError::Transient { message, .. } => Error::unavailable(format!("{what} failed: {message}"))
                .hint("the provider is unreachable or failing; try again later (nothing stored was changed)"),
            TokenError::Protocol { message, class } => Error::new(class, format!("{what} failed: {message}"))
                .hint("the provider answered with something that is not a valid OAuth token response"),
        }
    }
}

#[derive(Deserialize)]
struct RawToken {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    scope: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawError {
    error: Option<String>,
    error_description: Option<String>,
}

/// Sends one grant request, no retries.
fn send_once(
    http: &Http,
    endpoint: &Url,
    client: &Client,
    grant: &GrantRequest<'_>,
    extra: &[(String, String)],
    deadline: Instant,
) -> Result<TokenSet, TokenError> {
    let mut form: Vec<(&str, &str)> = Vec::with_capacity(8);
    match grant {
        GrantRequest::AuthorizationCode { code, redirect_uri, verifier } => {
            form.extend([
                ("grant_type", "authorization_code"),
                ("code", code.expose_secret()),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier.expose_secret()),
            ]);
        }
        GrantRequest::Refresh { refresh_token, scope } => {
            form.extend([("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose_secret())]);
            if let Some(s) = scope {
                form.push(("scope", s));
            }
        }
        GrantRequest::ClientCredentials { scope } => {
            form.push(("grant_type", "client_credentials"));
            if let Some(s) = scope.filter(|s| !s.is_empty()) {
                form.push(("scope", s));
            }
        }
        GrantRequest::DeviceCode { device_code } => {
            form.extend([
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code.expose_secret()),
            ]);
        }
    }
    let auth = match (client.auth, &client.secret) {
        (ClientAuth::Basic, Some(s)) => Auth::Basic { client_id: &client.client_id, secret: s },
        (ClientAuth::Post, Some(s)) => {
            form.push(("client_id", &client.client_id));
            form.push(("client_secret", s.expose_secret()));
            Auth::None
        }
        _ => {
            form.push(("client_id", &client.client_id));
            Auth::None
        }
    };
    for (k, v) in extra {
        form.push((k, v));
    }
    let sent_at = now();
    let resp = http.post_form(endpoint, &form, &auth, deadline).map_err(|e| match e {
        SendError::NotSent(m) => TokenError::Transient { message: m, retry_after: None, maybe_sent: false },
        SendError::MaybeSent(m) => TokenError::Transient { message: m, retry_after: None, maybe_sent: true },
        SendError::TooLarge => {
            TokenError::Protocol { message: SendError::TooLarge.describe(), class: Class::Unavailable }
        }
    })?;
    parse_token_response(&resp, sent_at)
}

/// Turns a token-endpoint response into a [`TokenSet`] or a classified error (TE-03..TE-08).
///
/// # Errors
/// A [`TokenError`] for every response that is not a valid success.
pub fn parse_token_response(resp: &Response, sent_at: i64) -> Result<TokenSet, TokenError> {
    let status = resp.status;
    if (300..400).contains(&status) {
        return Err(TokenError::Protocol {
            message: format!("the token endpoint answered with a redirect (HTTP {status}), which tokcli never follows"),
            class: Class::Unavailable,
        });
    }
    if !resp.is_json() || resp.is_html() {
        let class = if status >= 500 || resp.is_html() { Class::Unavailable } else { Class::Usage };
        let message = format!(
            "non-JSON response (status {status}, content-type {})",
            if resp.content_type.is_empty() { "none".into() } else { sanitize_provider_text(&resp.content_type) }
        );
        if status == 429 || status >= 500 {
            return Err(TokenError::Transient { message, retry_after: resp.retry_after, maybe_sent: false });
        }
        return Err(TokenError::Protocol { message, class });
    }
    if status != 200 {
        let err: Option<RawError> = serde_json::from_slice(&resp.body).ok();
        let code = err.as_ref().and_then(|e| e.error.clone()).unwrap_or_default();
        let code = sanitize_provider_text(&code);
        let desc = err
            .and_then(|e| e.error_description)
            .map(|d| format!(" ({})", sanitize_provider_text(&d)))
            .unwrap_or_default();
        return Err(match code.as_str() {
            "invalid_grant" => TokenError::InvalidGrant(desc),
            "authorization_pending" => TokenError::Pending,
            "slow_down" => TokenError::SlowDown,
            "access_denied" | "expired_token" => TokenError::Denied(format!("{code}{desc}")),
            "invalid_client"
            | "unauthorized_client"
            | "unsupported_grant_type"
            | "invalid_scope"
            | "invalid_request" => TokenError::Config(format!("{code}{desc}")),
            "temporarily_unavailable" | "server_error" => TokenError::Transient {
                message: format!("{code}{desc} (HTTP {status})"),
                retry_after: resp.retry_after,
                maybe_sent: false,
            },
            _ if status == 429 || status >= 500 => TokenError::Transient {
                message: format!(
                    "HTTP {status}{}",
                    if code.is_empty() { String::new() } else { format!(" {code}{desc}") }
                ),
                retry_after: resp.retry_after,
                maybe_sent: false,
            },
            "" => TokenError::Protocol {
                message: format!("HTTP {status} without an OAuth error code"),
                class: Class::Usage,
            },
            _ => TokenError::Config(format!("{code}{desc} (HTTP {status})")),
        });
    }
    let raw: RawToken = serde_json::from_slice(&resp.body).map_err(|e| TokenError::Protocol {
        message: format!("malformed JSON in the token response (line {}, column {})", e.line(), e.column()),
        class: Class::Usage,
    })?;
    let bad = |m: &str| TokenError::Protocol { message: m.to_owned(), class: Class::Usage };
    let access =
        raw.access_token.filter(|s| !s.is_empty()).ok_or_else(|| bad("the token response has no access_token"))?;
    if !is_safe_token(&access) {
        return Err(bad("the access token contains characters that are unsafe in an HTTP header (TE-06)"));
    }
    let token_type = raw.token_type.ok_or_else(|| bad("the token response has no token_type"))?;
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(bad(&format!(
            "unsupported token_type {:?}; tokcli handles Bearer tokens only",
            sanitize_provider_text(&token_type)
        )));
    }
    if let Some(rt) = &raw.refresh_token
        && !is_safe_token(rt)
    {
        return Err(bad("the refresh token contains characters that are unsafe to store (TE-06)"));
    }
    let lifetime = expires_in(raw.expires_in.as_ref())
        .or_else(|| jwt_claims(&access).and_then(|c| c["exp"].as_i64()).map(|exp| exp - sent_at).filter(|l| *l > 0))
        .unwrap_or(ASSUME_LIFETIME)
        .min(MAX_LIFETIME);
    let scope = match raw.scope {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Array(a)) => Some(a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(" ")),
        _ => None,
    };
    Ok(TokenSet {
        access_token: secret(access),
        token_type: "Bearer".into(),
        refresh_token: raw.refresh_token.filter(|s| !s.is_empty()).map(secret),
        id_token: raw.id_token.filter(|s| !s.is_empty()).map(secret),
        scope,
        expires_at: sent_at + lifetime,
        obtained_at: sent_at,
    })
}

/// `expires_in` as a positive integer, also as a decimal string (TE-04).
fn expires_in(v: Option<&serde_json::Value>) -> Option<i64> {
    let n = match v? {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }?;
    (n > 0).then_some(n)
}

/// Sends a grant with the TE-12 retry policy. `allow_unknown_retry` enables RF-05's single retry
/// after an unknown outcome (refresh); other grants are never replayed after they may have landed.
///
/// # Errors
/// The last [`TokenError`].
pub fn request(
    http: &Http,
    endpoint: &Url,
    client: &Client,
    grant: &GrantRequest<'_>,
    extra: &[(String, String)],
    deadline: Instant,
    on_retry: &mut dyn FnMut(&str, Duration),
) -> Result<TokenSet, TokenError> {
    let mut attempt = 0;
    let mut unknown_retried = false;
    loop {
        attempt += 1;
        let err = match send_once(http, endpoint, client, grant, extra, deadline) {
            Ok(t) => return Ok(t),
            Err(e) => e,
        };
        let TokenError::Transient { message, retry_after, maybe_sent } = &err else { return Err(err) };
        if *maybe_sent {
            let replayable = matches!(grant, GrantRequest::Refresh { .. });
            if !replayable || unknown_retried {
                return Err(err);
            }
            unknown_retried = true;
        }
        if attempt >= MAX_ATTEMPTS {
            return Err(err);
        }
        let backoff = Duration::from_millis(rand::random::<u64>() % (1000 * (1 << (attempt - 1))));
        let wait = retry_after.unwrap_or(backoff);
        let remaining = deadline.saturating_duration_since(Instant::now());
        if wait >= remaining {
            let when = retry_after.map(|d| {
                let at = std::time::SystemTime::now() + d;
                format!("; the provider asks to retry after {}", httpdate::fmt_http_date(at))
            });
            return Err(TokenError::Transient {
                message: format!("{message}{}", when.unwrap_or_default()),
                retry_after: *retry_after,
                maybe_sent: *maybe_sent,
            });
        }
        on_retry(message, wait);
        std::thread::sleep(wait);
    }
}

/// Checks the claims of an ID token (TE-10, without the signature; OIDC Core §3.1.3.7 allows TLS
/// to authenticate token-endpoint responses).
///
/// # Errors
/// A usage error naming the failed claim.
pub fn check_id_token(
    id_token: &SecretString,
    issuer: Option<&str>,
    client_id: &str,
    nonce: Option<&SecretString>,
) -> Result<serde_json::Value, Error> {
    let fail =
        |m: &str| Error::usage(format!("the ID token is not valid: {m}")).hint("check the issuer URL and client id");
    let c = jwt_claims(id_token.expose_secret()).ok_or_else(|| fail("it is not a JWT"))?;
    if let Some(iss) = issuer
        && c["iss"].as_str() != Some(iss)
    {
        return Err(fail("its iss does not match the issuer"));
    }
    let aud_ok = match &c["aud"] {
        serde_json::Value::String(a) => a == client_id,
        serde_json::Value::Array(a) => a.iter().any(|v| v.as_str() == Some(client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(fail("its aud does not contain the client id"));
    }
    if c["exp"].as_i64().is_none_or(|exp| exp + 120 < now()) {
        return Err(fail("it has expired"));
    }
    if let Some(n) = nonce
        && c["nonce"].as_str() != Some(n.expose_secret())
    {
        return Err(fail("its nonce does not match the one sent"));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn resp(status: u16, ct: &str, body: &str) -> Response {
        Response {
            status,
            content_type: ct.into(),
            body: Zeroizing::new(body.as_bytes().to_vec()),
            retry_after: None,
            location: None,
        }
    }
    const J: &str = "application/json; charset=utf-8";

    #[test]
    fn success_and_expiry_forms() {
        let t =
            parse_token_response(&resp(200, J, r#"{"access_token":"a","token_type":"bearer","expires_in":3600}"#), 100)
                .unwrap();
        assert_eq!(t.expires_at, 3700);
        let t =
            parse_token_response(&resp(200, J, r#"{"access_token":"a","token_type":"Bearer","expires_in":"3599"}"#), 0)
                .unwrap();
        assert_eq!(t.expires_at, 3599, "Microsoft sends expires_in as a string");
        let t = parse_token_response(&resp(200, J, r#"{"access_token":"a","token_type":"Bearer"}"#), 0).unwrap();
        assert_eq!(t.expires_at, ASSUME_LIFETIME);
        let t = parse_token_response(
            &resp(200, J, r#"{"access_token":"a","token_type":"Bearer","expires_in":999999999}"#),
            0,
        )
        .unwrap();
        assert_eq!(t.expires_at, MAX_LIFETIME);
        let t = parse_token_response(
            &resp(200, J, r#"{"access_token":"a","token_type":"Bearer","expires_in":-5,"unknown":1}"#),
            0,
        )
        .unwrap();
        assert_eq!(t.expires_at, ASSUME_LIFETIME);
    }

    #[test]
    fn rejects_bad_successes() {
        for body in [
            "{}",
            r#"{"access_token":"","token_type":"Bearer"}"#,
            r#"{"access_token":"a b","token_type":"Bearer"}"#,
            "{\"access_token\":\"abc\\r\\nX-Evil: 1\",\"token_type\":\"Bearer\"}",
            r#"{"access_token":"a","token_type":"N_A"}"#,
            r#"{"access_token":"a","token_type":"Bearer""#,
        ] {
            match parse_token_response(&resp(200, J, body), 0) {
                Err(TokenError::Protocol { class: Class::Usage, .. }) => {}
                other => panic!("{body}: {other:?}"),
            }
        }
        match parse_token_response(&resp(200, "text/html", "<html>login</html>"), 0) {
            Err(TokenError::Protocol { class: Class::Unavailable, message }) => assert!(!message.contains("login")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_classification() {
        let e = |status, body: &str| parse_token_response(&resp(status, J, body), 0).unwrap_err();
        assert!(matches!(e(400, r#"{"error":"invalid_grant"}"#), TokenError::InvalidGrant(_)));
        for code in
            ["invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "invalid_request"]
        {
            assert!(matches!(e(400, &format!(r#"{{"error":"{code}"}}"#)), TokenError::Config(_)), "{code}");
        }
        assert!(matches!(e(400, r#"{"error":"temporarily_unavailable"}"#), TokenError::Transient { .. }));
        assert!(matches!(e(503, r#"{"error":"whatever"}"#), TokenError::Transient { .. }));
        assert!(matches!(e(400, r#"{"error":"made_up"}"#), TokenError::Config(_)));
        assert!(matches!(e(400, r#"{"error":"slow_down"}"#), TokenError::SlowDown));
        assert!(matches!(e(307, "{}"), TokenError::Protocol { class: Class::Unavailable, .. }));
        match e(400, "{\"error\":\"invalid_grant\",\"error_description\":\"x\\u001b]52;c;AAAA\\u0007y\"}") {
            TokenError::InvalidGrant(d) => assert!(!d.contains('\x1b') && !d.contains('\x07')),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn id_token_claims() {
        use base64::Engine as _;
        let mk = |claims: &str| {
            let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
            secret(format!("e30.{p}.sig"))
        };
        let exp = now() + 600;
        let good = mk(&format!(r#"{{"iss":"https://i","aud":"c","exp":{exp},"nonce":"n","sub":"u"}}"#));
        assert!(check_id_token(&good, Some("https://i"), "c", Some(&secret("n"))).is_ok());
        assert!(check_id_token(&good, Some("https://j"), "c", None).is_err());
        assert!(check_id_token(&good, Some("https://i"), "d", None).is_err());
        assert!(check_id_token(&good, Some("https://i"), "c", Some(&secret("m"))).is_err());
        let old = mk(r#"{"iss":"https://i","aud":["c"],"exp":1}"#);
        assert!(check_id_token(&old, Some("https://i"), "c", None).is_err());
    }
}
