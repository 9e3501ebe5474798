//! Providers as data, discovery (RFC 8414 / OIDC Discovery), and the requests tokcli sends to
//! them: token, revocation and device authorization. Never touches the store.

pub mod http;
pub mod jwks;
pub mod presets;
pub mod token;

use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::error::{Error, sanitize_provider_text};
use http::{Http, SendError, check_url};
pub use token::{Client, ClientAuth, GrantRequest, Quirks, TokenError};

/// The login flow a provider uses when no flow flag is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Browser with a loopback redirect (RFC 8252).
    Browser,
    /// Print the URL, read the redirect (or an out-of-band code) from stdin.
    Manual,
    /// Device authorization grant (RFC 8628).
    Device,
    /// Client credentials (no user).
    ClientCredentials,
}

impl FlowKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::Manual => "manual",
            Self::Device => "device",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

/// Whether the client secret is needed (for the code exchange and client credentials; the
/// device flow never requires one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretNeed {
    /// Public clients work without one.
    #[default]
    Optional,
    /// Usually needed (Google Desktop clients); login warns when none is given.
    Recommended,
    /// Login refuses to start without one.
    Required,
}

/// Whether login sends PKCE (S256).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pkce {
    #[default]
    S256,
    Off,
}

/// A provider's endpoints and behaviour: from a preset, config.toml, or discovery.
#[derive(Debug, Clone, Default)]
pub struct ProviderSpec {
    /// The name shown in `list` (preset name, config name, or the issuer URL).
    pub name: String,
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub device_endpoint: Option<String>,
    pub default_scopes: Vec<String>,
    pub scopes_supported: Vec<String>,
    /// RFC 9207: the AS promises `iss` in every authorization response.
    pub iss_parameter_supported: bool,
    /// Where the issuer publishes its signing keys (from discovery): ID token signatures are
    /// checked against them (TE-10).
    pub jwks_uri: Option<String>,
    /// The preset this spec was built from, if any.
    pub preset: Option<String>,
    /// Client authentication when a secret is given (`None`: HTTP Basic). Without a secret the
    /// client is public (`client_id` in the body).
    pub client_auth: Option<ClientAuth>,
    pub secret: SecretNeed,
    pub pkce: Pkce,
    /// Extra authorization request parameters (Google's `access_type=offline`).
    pub auth_params: Vec<(String, String)>,
    /// The scope that yields a refresh token, added to every user login (`offline_access`).
    pub offline_scope: Option<String>,
    /// The authorization request's scope parameter (`scope`; Slack user tokens: `user_scope`).
    pub scope_param: Option<String>,
    /// What joins scopes in the authorization request (a space; Slack: a comma).
    pub scope_separator: Option<String>,
    /// Loopback redirect host (`127.0.0.1` or `localhost`) and path (`/callback`).
    pub redirect_host: Option<String>,
    pub redirect_path: Option<String>,
    /// A fixed redirect URI; a non-loopback one (`urn:ietf:wg:oauth:2.0:oob`) means `--manual`.
    pub redirect_uri: Option<String>,
    /// Fixed loopback ports, for providers that match the port exactly.
    pub ports: Vec<u16>,
    pub default_flow: Option<FlowKind>,
    /// Why there is no RFC 7009 endpoint and what to do instead.
    pub revocation_note: Option<String>,
    pub quirks: Quirks,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    #[serde(default)]
    scopes_supported: Vec<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    jwks_uri: Option<String>,
}

/// The RFC 8414 and OIDC well-known URLs for an issuer (MD-01).
///
/// # Errors
/// A usage error when the issuer is not an https URL (or http on loopback) without query or fragment.
pub fn well_known_urls(issuer: &str) -> Result<[Url; 2], Error> {
    let u = check_url("issuer", issuer)?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(Error::usage(format!("the issuer {issuer} must not have a query or fragment")));
    }
    let path = u.path().trim_end_matches('/');
    let mut rfc8414 = u.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    let mut oidc = u.clone();
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    Ok([rfc8414, oidc])
}

/// Discovers an issuer: RFC 8414 first, then OpenID Connect Discovery. The returned `issuer`
/// must equal the configured one exactly (MD-02); every endpoint must be https or loopback.
///
/// # Errors
/// Exit 4 when unreachable, exit 2 for mismatches and malformed documents.
pub fn discover(http: &Http, issuer: &str, deadline: Instant) -> Result<ProviderSpec, Error> {
    discover_document(http, issuer, deadline).map(|(spec, _)| spec)
}

/// [`discover`], also returning the metadata document as received, for the discovery cache.
///
/// # Errors
/// As [`discover`].
pub fn discover_document(http: &Http, issuer: &str, deadline: Instant) -> Result<(ProviderSpec, String), Error> {
    let mut last = None;
    for url in well_known_urls(issuer)? {
        let resp = match http.get(&url, deadline) {
            Ok(r) => r,
            Err(SendError::TooLarge) => {
                return Err(Error::usage(format!("the discovery document at {url} is larger than 1 MiB")));
            }
            Err(SendError::NotSent(m) | SendError::MaybeSent(m)) => {
                return Err(Error::unavailable(format!("cannot reach {url}: {m}"))
                    .hint("check the issuer URL and your network, then retry"));
            }
        };
        if resp.status == 404 || resp.status == 405 || resp.status == 400 {
            last = Some(format!("{url} answered HTTP {}", resp.status));
            continue;
        }
        if resp.status >= 500 || resp.status == 429 {
            return Err(Error::unavailable(format!("{url} answered HTTP {}", resp.status)).hint("try again later"));
        }
        if resp.status != 200 || !resp.is_json() {
            return Err(Error::usage(format!(
                "{url} did not return a JSON metadata document (HTTP {}, {})",
                resp.status,
                sanitize_provider_text(&resp.content_type)
            ))
            .hint("check the issuer URL"));
        }
        let doc = String::from_utf8(resp.body.to_vec())
            .map_err(|_| Error::usage(format!("the metadata at {url} is not UTF-8")))?;
        let spec = spec_from_document(issuer, url.as_str(), &doc)?;
        return Ok((spec, doc));
    }
    Err(Error::usage(format!("no OAuth metadata found for {issuer}: {}", last.unwrap_or_default()))
        .hint("check the issuer URL; it must serve /.well-known/oauth-authorization-server or /.well-known/openid-configuration"))
}

/// Builds a spec from a metadata document (fetched from `source`, or read from the cache),
/// with the checks of [`discover`].
///
/// # Errors
/// Exit 2 for mismatches and malformed documents.
pub fn spec_from_document(issuer: &str, source: &str, doc: &str) -> Result<ProviderSpec, Error> {
    let url = source;
    let md: Metadata =
        serde_json::from_str(doc).map_err(|e| Error::usage(format!("the metadata at {url} is malformed: {e}")))?;
    if md.issuer != issuer {
        return Err(Error::usage(format!(
            "the metadata at {url} names issuer {:?}, not {issuer:?}",
            sanitize_provider_text(&md.issuer)
        ))
        .hint("use exactly the issuer URL the provider publishes (a trailing slash matters)"));
    }
    let check = |what: &str, v: Option<String>| -> Result<Option<String>, Error> {
        v.map(|v| check_url(what, &v).map(|_| v)).transpose()
    };
    let token_endpoint = check("token_endpoint", md.token_endpoint)?
        .ok_or_else(|| Error::usage(format!("the metadata of {issuer} has no token_endpoint")))?;
    Ok(ProviderSpec {
        name: issuer.to_owned(),
        issuer: Some(md.issuer),
        authorization_endpoint: check("authorization_endpoint", md.authorization_endpoint)?,
        token_endpoint,
        revocation_endpoint: check("revocation_endpoint", md.revocation_endpoint)?,
        device_endpoint: check("device_authorization_endpoint", md.device_authorization_endpoint)?,
        default_scopes: Vec::new(),
        scopes_supported: md.scopes_supported,
        iss_parameter_supported: md.authorization_response_iss_parameter_supported,
        jwks_uri: check("jwks_uri", md.jwks_uri)?,
        ..ProviderSpec::default()
    })
}

/// RFC 7009 revocation. 200 means done whatever the body (RV-02); transient failures are
/// retried (RV-03).
///
/// # Errors
/// Exit 4 when the revocation was not confirmed, exit 2 when the provider refused the request.
pub fn revoke(
    http: &Http,
    endpoint: &str,
    client: &Client,
    token: &SecretString,
    hint: &str,
    deadline: Instant,
) -> Result<(), Error> {
    let url = check_url("revocation_endpoint", endpoint)?;
    let mut form = vec![("token", token.expose_secret()), ("token_type_hint", hint)];
    let auth = client.authenticate(&mut form);
    let not_confirmed = |m: String| {
        Error::unavailable(format!("revocation not confirmed: {m}"))
            .hint("nothing was deleted; rerun later, or use `--local-only` to delete without server revocation")
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (msg, wait) = match http.post_form(&url, &form, &auth, deadline) {
            Ok(r) if r.status == 200 => return Ok(()),
            Ok(r) if r.status == 503 || r.status == 429 || r.status >= 500 => {
                (format!("HTTP {}", r.status), r.retry_after)
            }
            Ok(r) => {
                let detail = serde_json::from_slice::<serde_json::Value>(&r.body)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(sanitize_provider_text))
                    .unwrap_or_default();
                return Err(Error::usage(format!("the provider refused the revocation (HTTP {}) {detail}", r.status))
                    .hint("nothing was deleted; check the client configuration, or use `--local-only`"));
            }
            Err(e) => (e.describe(), None),
        };
        let wait = wait.unwrap_or_else(|| std::time::Duration::from_millis(rand::random::<u64>() % (1000 << attempt)));
        if attempt >= 3 || Instant::now() + wait >= deadline {
            return Err(not_confirmed(msg));
        }
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_insertion_rule() {
        let [a, b] = well_known_urls("https://as.example/tenant1").unwrap();
        assert_eq!(a.as_str(), "https://as.example/.well-known/oauth-authorization-server/tenant1");
        assert_eq!(b.as_str(), "https://as.example/tenant1/.well-known/openid-configuration");
        let [a, b] = well_known_urls("https://as.example").unwrap();
        assert_eq!(a.as_str(), "https://as.example/.well-known/oauth-authorization-server");
        assert_eq!(b.as_str(), "https://as.example/.well-known/openid-configuration");
        assert!(well_known_urls("http://as.example").is_err());
        assert!(well_known_urls("https://as.example/?q=1").is_err());
    }
}
