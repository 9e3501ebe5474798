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
use zeroize::Zeroizing;

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
    /// HTTP Basic, and the grant sent as a JSON object instead of a form (Notion). The body
    /// encoding lives here, with the authentication method, because every path that rebuilds the
    /// client from a stored profile (refresh, revoke) must present it the same way.
    BasicJson,
}

impl ClientAuth {
    /// # Errors
    /// A usage error for unknown method names.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "none" => Ok(Self::None),
            "client_secret_basic" | "basic" => Ok(Self::Basic),
            "client_secret_post" | "post" => Ok(Self::Post),
            "client_secret_basic_json" | "basic_json" => Ok(Self::BasicJson),
            _ => Err(Error::usage(format!("unknown client authentication method {s:?}"))
                .hint("use none, client_secret_basic, client_secret_post or client_secret_basic_json")),
        }
    }
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Basic => "client_secret_basic",
            Self::Post => "client_secret_post",
            Self::BasicJson => "client_secret_basic_json",
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

impl Client {
    /// Adds this client's credentials to a token or revocation request (RFC 6749 §2.3): HTTP Basic
    /// for `client_secret_basic`, body fields for `client_secret_post`, and `client_id` alone in
    /// the body for public clients.
    pub fn authenticate<'a>(&'a self, form: &mut Vec<(&'a str, &'a str)>) -> Auth<'a> {
        match (self.auth, &self.secret) {
            (ClientAuth::Basic | ClientAuth::BasicJson, Some(s)) => {
                Auth::Basic { client_id: &self.client_id, secret: s }
            }
            (ClientAuth::Post, Some(s)) => {
                form.push(("client_id", &self.client_id));
                form.push(("client_secret", s.expose_secret()));
                Auth::None
            }
            _ => {
                form.push(("client_id", &self.client_id));
                Auth::None
            }
        }
    }
}

/// A grant to present at the token endpoint.
pub enum GrantRequest<'a> {
    /// `verifier`: the PKCE code verifier, `None` when the provider's preset turns PKCE off.
    AuthorizationCode {
        code: &'a SecretString,
        redirect_uri: &'a str,
        verifier: Option<&'a SecretString>,
    },
    Refresh {
        refresh_token: &'a SecretString,
        scope: Option<&'a str>,
    },
    ClientCredentials {
        scope: Option<&'a str>,
    },
    DeviceCode {
        device_code: &'a SecretString,
    },
}

/// Provider behaviour at the token endpoint that a response cannot reveal by itself. Presets and
/// `config.toml` set it; login stores it with the profile (`extra.quirks`).
///
/// What *can* be recognised safely is handled for every provider in
/// [`parse_token_response_with`]: form-encoded bodies (GitHub when `Accept` is ignored), errors
/// sent with HTTP 200 (GitHub's `error`, Slack's `"ok": false`), provider-specific error codes,
/// `expires_in` as a string (Microsoft v1, B2C), `scope` as an array, and Slack's `user`/`bot`
/// token types. The JSON request body (Notion) is [`ClientAuth::BasicJson`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quirks {
    /// Slack `oauth.v2.access`: the code exchange puts the bot token at the top level and the
    /// user token in `authed_user`; take the user token.
    pub user_token_in_authed_user: bool,
    /// Lifetime to assume when a success has no `expires_in` and the token is not a JWT: GitHub
    /// OAuth-app and Notion tokens do not expire. `None`: [`ASSUME_LIFETIME`]. In config.toml a
    /// duration (`"365d"`) or seconds.
    #[serde(deserialize_with = "de_lifetime", skip_serializing_if = "Option::is_none")]
    pub lifetime_when_absent: Option<i64>,
    /// Send the login's `redirect_uri` again with every refresh (AlarmBox's reported client).
    pub redirect_uri_on_refresh: bool,
}

impl Quirks {
    /// The quirks stored in a profile's `extra` JSON; none when absent or unreadable.
    #[must_use]
    pub fn from_extra(extra: &str) -> Self {
        serde_json::from_str::<serde_json::Value>(extra)
            .ok()
            .and_then(|v| v.get("quirks").cloned())
            .and_then(|q| serde_json::from_value(q).ok())
            .unwrap_or_default()
    }
}

/// `lifetime_when_absent`: a duration (`"365d"`) or positive seconds.
pub(crate) fn de_lifetime<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error as _;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(i64),
        Text(String),
    }
    let secs = match Option::<Raw>::deserialize(d)? {
        None => return Ok(None),
        Some(Raw::Secs(s)) => s,
        Some(Raw::Text(t)) => {
            let d = crate::model::parse_duration(&t).map_err(|e| D::Error::custom(e.message))?;
            i64::try_from(d.as_secs()).map_err(D::Error::custom)?
        }
    };
    if secs <= 0 {
        return Err(D::Error::custom("lifetime_when_absent must be positive"));
    }
    Ok(Some(secs.min(MAX_LIFETIME)))
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

/// The token fields taken out of a response; the secret ones are wiped on drop.
struct RawToken {
    access_token: Option<Zeroizing<String>>,
    token_type: Option<String>,
    refresh_token: Option<Zeroizing<String>>,
    id_token: Option<Zeroizing<String>>,
    expires_in: Option<serde_json::Value>,
    scope: Option<serde_json::Value>,
}

/// A parsed response document whose strings are zeroized on drop (PH-04).
struct WipedValue(serde_json::Value);

impl Drop for WipedValue {
    fn drop(&mut self) {
        wipe_value(&mut self.0);
    }
}

fn wipe_value(v: &mut serde_json::Value) {
    use zeroize::Zeroize as _;
    match v {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(a) => a.iter_mut().for_each(wipe_value),
        serde_json::Value::Object(m) => m.values_mut().for_each(wipe_value),
        _ => {}
    }
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
    quirks: &Quirks,
    deadline: Instant,
) -> Result<TokenSet, TokenError> {
    let mut form: Vec<(&str, &str)> = Vec::with_capacity(8);
    match grant {
        GrantRequest::AuthorizationCode { code, redirect_uri, verifier } => {
            form.extend([
                ("grant_type", "authorization_code"),
                ("code", code.expose_secret()),
                ("redirect_uri", redirect_uri),
            ]);
            if let Some(v) = verifier {
                form.push(("code_verifier", v.expose_secret()));
            }
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
    let auth = client.authenticate(&mut form);
    for (k, v) in extra {
        form.push((k, v));
    }
    let sent_at = now();
    let sent = if client.auth == ClientAuth::BasicJson {
        http.post_json(endpoint, &form, &auth, deadline)
    } else {
        http.post_form(endpoint, &form, &auth, deadline)
    };
    let resp = sent.map_err(|e| match e {
        SendError::NotSent(m) => TokenError::Transient { message: m, retry_after: None, maybe_sent: false },
        SendError::MaybeSent(m) => TokenError::Transient { message: m, retry_after: None, maybe_sent: true },
        SendError::TooLarge => {
            TokenError::Protocol { message: SendError::TooLarge.describe(), class: Class::Unavailable }
        }
    })?;
    parse_token_response_with(&resp, sent_at, quirks)
}

/// Turns a token-endpoint response into a [`TokenSet`] or a classified error (TE-03..TE-08),
/// with no provider quirks.
///
/// # Errors
/// A [`TokenError`] for every response that is not a valid success.
pub fn parse_token_response(resp: &Response, sent_at: i64) -> Result<TokenSet, TokenError> {
    parse_token_response_with(resp, sent_at, &Quirks::default())
}

/// Provider error codes that mean a standard one (PROVIDERS.md, "Error quirks"). Codes not listed
/// keep their RFC 6749 / RFC 8628 meaning, or are configuration errors.
fn standard_error_code(code: &str) -> &str {
    match code {
        // GitHub: a dead authorization code or refresh token; Slack: the same.
        "bad_verification_code" | "bad_refresh_token" | "invalid_code" | "invalid_refresh_token" => "invalid_grant",
        // Microsoft's device flow says `authorization_declined`; GitHub documents `token_expired`.
        "authorization_declined" => "access_denied",
        "token_expired" | "incorrect_device_code" => "expired_token",
        other => other,
    }
}

fn is_form(resp: &Response) -> bool {
    let ct = resp.content_type.to_ascii_lowercase();
    ct.split(';').next().unwrap_or("").trim() == "application/x-www-form-urlencoded"
}

/// [`parse_token_response`] with the provider's [`Quirks`]. Besides them, it accepts for every
/// provider what cannot be misread: a form-encoded body, an error sent with HTTP 200 (an `error`
/// member without `access_token`, or `"ok": false`), the error codes of [`standard_error_code`],
/// `token_type` `user`/`bot` (Slack's bearer tokens), and `expires_in` as a string.
///
/// # Errors
/// A [`TokenError`] for every response that is not a valid success.
pub fn parse_token_response_with(resp: &Response, sent_at: i64, quirks: &Quirks) -> Result<TokenSet, TokenError> {
    let status = resp.status;
    if (300..400).contains(&status) {
        return Err(TokenError::Protocol {
            message: format!("the token endpoint answered with a redirect (HTTP {status}), which tokcli never follows"),
            class: Class::Unavailable,
        });
    }
    let form = is_form(resp);
    if !(resp.is_json() || form) || resp.is_html() {
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
    let body: Result<serde_json::Value, String> = if form {
        let map: serde_json::Map<String, serde_json::Value> = url::form_urlencoded::parse(&resp.body)
            .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
            .collect();
        Ok(serde_json::Value::Object(map))
    } else {
        serde_json::from_slice(&resp.body)
            .map_err(|e| format!("malformed JSON in the token response (line {}, column {})", e.line(), e.column()))
    };
    let error_in_200 = status == 200
        && body.as_ref().is_ok_and(|v| {
            v.get("ok") == Some(&serde_json::Value::Bool(false))
                || (v.get("access_token").is_none() && v.get("error").is_some_and(serde_json::Value::is_string))
        });
    if status != 200 || error_in_200 {
        let err: Option<RawError> = body.as_ref().ok().and_then(|v| serde_json::from_value(v.clone()).ok());
        let code = err.as_ref().and_then(|e| e.error.clone()).unwrap_or_default();
        let code = sanitize_provider_text(&code);
        let desc = err
            .and_then(|e| e.error_description)
            .map(|d| format!(" ({})", sanitize_provider_text(&d)))
            .unwrap_or_default();
        return Err(match standard_error_code(&code) {
            "invalid_grant" if code == "invalid_grant" => TokenError::InvalidGrant(desc),
            "invalid_grant" => TokenError::InvalidGrant(format!(" ({code}){desc}")),
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
    let bad = |m: &str| TokenError::Protocol { message: m.to_owned(), class: Class::Usage };
    // PH-04: the parsed document holds the tokens; its strings are wiped when it is dropped, and
    // the tokens are moved (not copied) out of it.
    let mut body = WipedValue(body.map_err(|m| bad(&m))?);
    let user =
        quirks.user_token_in_authed_user && body.0.get("authed_user").is_some_and(|u| u.get("access_token").is_some());
    let token_obj = match body.0.get_mut("authed_user") {
        Some(u) if user => u,
        _ => &mut body.0,
    };
    if !token_obj.is_object() {
        return Err(bad("the token response is not a JSON object"));
    }
    let mut take = |k: &str| match token_obj.get_mut(k).map(serde_json::Value::take) {
        Some(serde_json::Value::String(s)) => Some(Zeroizing::new(s)),
        Some(mut other) => {
            wipe_value(&mut other);
            None
        }
        None => None,
    };
    let raw = RawToken {
        access_token: take("access_token"),
        token_type: take("token_type").map(|t| t.to_string()),
        refresh_token: take("refresh_token"),
        id_token: take("id_token"),
        expires_in: token_obj.get("expires_in").cloned(),
        scope: token_obj.get("scope").cloned(),
    };
    let access =
        raw.access_token.filter(|s| !s.is_empty()).ok_or_else(|| bad("the token response has no access_token"))?;
    if !is_safe_token(&access) {
        return Err(bad("the access token contains characters that are unsafe in an HTTP header (TE-06)"));
    }
    let token_type = raw.token_type.ok_or_else(|| bad("the token response has no token_type"))?;
    if !["bearer", "user", "bot"].iter().any(|t| token_type.eq_ignore_ascii_case(t)) {
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
        .unwrap_or(quirks.lifetime_when_absent.unwrap_or(ASSUME_LIFETIME))
        .min(MAX_LIFETIME);
    let scope = match raw.scope {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Array(a)) => Some(a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(" ")),
        _ => None,
    };
    let into_secret = |mut z: Zeroizing<String>| secret(std::mem::take(&mut *z));
    Ok(TokenSet {
        access_token: into_secret(access),
        token_type: "Bearer".into(),
        refresh_token: raw.refresh_token.filter(|s| !s.is_empty()).map(into_secret),
        id_token: raw.id_token.filter(|s| !s.is_empty()).map(into_secret),
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
    request_with(http, endpoint, client, grant, extra, &Quirks::default(), deadline, on_retry)
}

/// [`request`] with the provider's [`Quirks`].
///
/// # Errors
/// The last [`TokenError`].
#[allow(clippy::too_many_arguments)]
pub fn request_with(
    http: &Http,
    endpoint: &Url,
    client: &Client,
    grant: &GrantRequest<'_>,
    extra: &[(String, String)],
    quirks: &Quirks,
    deadline: Instant,
    on_retry: &mut dyn FnMut(&str, Duration),
) -> Result<TokenSet, TokenError> {
    let mut attempt = 0;
    let mut unknown_retried = false;
    loop {
        attempt += 1;
        let err = match send_once(http, endpoint, client, grant, extra, quirks, deadline) {
            Ok(t) => return Ok(t),
            // RF-05/CR-03: the retry after an unknown outcome met a dead token, so the first
            // attempt most likely rotated it at the provider.
            Err(TokenError::InvalidGrant(d)) if unknown_retried => {
                return Err(TokenError::InvalidGrant(format!(
                    "{d}; the previous attempt was interrupted after it was sent, \
so the provider probably rotated the refresh token then"
                )));
            }
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
    fn provider_quirks() {
        const F: &str = "application/x-www-form-urlencoded; charset=utf-8";
        // GitHub without Accept: form-encoded success and error.
        let t =
            parse_token_response(&resp(200, F, "access_token=gho_x&scope=repo%2Cgist&token_type=bearer"), 0).unwrap();
        assert_eq!(t.scope.as_deref(), Some("repo,gist"));
        assert_eq!(t.expires_at, ASSUME_LIFETIME);
        assert!(matches!(
            parse_token_response(&resp(200, F, "error=bad_verification_code&error_description=expired"), 0),
            Err(TokenError::InvalidGrant(_))
        ));
        // GitHub device polling: errors with HTTP 200.
        for (code, want) in [("authorization_pending", "pending"), ("slow_down", "slow"), ("token_expired", "denied")] {
            let r = parse_token_response(&resp(200, J, &format!(r#"{{"error":"{code}"}}"#)), 0);
            let got = match r {
                Err(TokenError::Pending) => "pending",
                Err(TokenError::SlowDown) => "slow",
                Err(TokenError::Denied(_)) => "denied",
                other => panic!("{code}: {other:?}"),
            };
            assert_eq!(got, want, "{code}");
        }
        // Slack: ok:false with HTTP 200, nested user token, user/bot token types.
        assert!(matches!(
            parse_token_response(&resp(200, J, r#"{"ok":false,"error":"invalid_refresh_token"}"#), 0),
            Err(TokenError::InvalidGrant(_))
        ));
        assert!(matches!(
            parse_token_response(&resp(200, J, r#"{"ok":false,"error":"bad_client_secret"}"#), 0),
            Err(TokenError::Config(_))
        ));
        let slack = r#"{"ok":true,"access_token":"xoxb-bot","token_type":"bot","scope":"chat:write",
            "authed_user":{"id":"U1","access_token":"xoxp-user","token_type":"user","scope":"search:read",
            "refresh_token":"xoxe-1-r","expires_in":43200}}"#;
        let q = Quirks { user_token_in_authed_user: true, ..Quirks::default() };
        let t = parse_token_response_with(&resp(200, J, slack), 0, &q).unwrap();
        assert_eq!(t.access_token.expose_secret(), "xoxp-user");
        assert_eq!(t.refresh_token.unwrap().expose_secret(), "xoxe-1-r");
        assert_eq!((t.expires_at, t.scope.as_deref()), (43200, Some("search:read")));
        let t = parse_token_response(&resp(200, J, slack), 0).unwrap();
        assert_eq!(t.access_token.expose_secret(), "xoxb-bot", "without the quirk: the top-level token");
        // Notion/GitHub OAuth apps: no expires_in, a configured lifetime.
        let q = Quirks { lifetime_when_absent: Some(86_400), ..Quirks::default() };
        let t =
            parse_token_response_with(&resp(200, J, r#"{"access_token":"n","token_type":"bearer"}"#), 5, &q).unwrap();
        assert_eq!(t.expires_at, 86_405);
        assert!(matches!(
            parse_token_response(&resp(400, J, r#"{"error":"authorization_declined"}"#), 0),
            Err(TokenError::Denied(_))
        ));
    }

    #[test]
    fn quirks_round_trip_through_extra() {
        let q =
            Quirks { user_token_in_authed_user: true, lifetime_when_absent: Some(60), redirect_uri_on_refresh: true };
        let extra = serde_json::json!({ "quirks": q }).to_string();
        assert_eq!(Quirks::from_extra(&extra), q);
        assert_eq!(Quirks::from_extra("{}"), Quirks::default());
        let q: Quirks = serde_json::from_str(r#"{"lifetime_when_absent":"2h"}"#).unwrap();
        assert_eq!(q.lifetime_when_absent, Some(7200));
        assert!(serde_json::from_str::<Quirks>(r#"{"lifetime_when_absent":"soon"}"#).is_err());
        assert_eq!(ClientAuth::parse("client_secret_basic_json").unwrap(), ClientAuth::BasicJson);
        assert_eq!(ClientAuth::BasicJson.as_str(), "client_secret_basic_json");
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
