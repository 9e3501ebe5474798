//! Built-in provider presets, and [`ProviderLayer`]: the one set of provider fields that presets,
//! discovery and `config.toml` all speak.
//!
//! A provider is built from layers, lowest first:
//!
//! 1. the **preset** (`preset = "github"` in config.toml, or implied when a `[providers.NAME]`
//!    entry has a preset's name);
//! 2. **discovery**, when the merged layers name an `issuer`;
//! 3. the **`[providers.NAME]` entry** of config.toml.
//!
//! The highest layer that sets a field wins; `params` merge key by key. An empty string unsets a
//! lower layer's value (`revocation_endpoint = ""`, `redirect_uri = ""`). So quirks come from the
//! preset while a config entry can point every endpoint somewhere else.
//!
//! **Parameterised presets.** URL fields may contain `{name}` placeholders: microsoft and azure
//! use `{tenant}`, github and gitlab `{base_url}`. `params` fill them: a key that names a
//! placeholder is a template value, every other key is an extra authorization parameter, the
//! same rule for `--param KEY=VALUE`, `[profiles.P] params` and `[providers.N] params`. A
//! placeholder without a value (azure's `{tenant}`) is an error naming the flag to pass. Template
//! values are checked: `{base_url}` (a placeholder that starts a URL) must be an https URL (http
//! on loopback only) without query or fragment; any other must be `[A-Za-z0-9._-]+`.
//!
//! Every fact here comes from PROVIDERS.md; values it marks unconfirmed are defaults that a
//! config.toml entry of the same name overrides. This module never touches the store.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::http::check_url;
use super::token::{ClientAuth, Quirks};
use super::{FlowKind, Pkce, ProviderSpec, SecretNeed};
use crate::error::Error;

/// The out-of-band redirect URI: the provider shows the code and the user pastes it.
pub const OOB_REDIRECT: &str = "urn:ietf:wg:oauth:2.0:oob";

/// Scopes as a list or a space-separated string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Scopes {
    List(Vec<String>),
    Text(String),
}

impl Scopes {
    #[must_use]
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Scopes::List(l) => l.iter().flat_map(|s| s.split_whitespace().map(str::to_owned)).collect(),
            Scopes::Text(t) => t.split_whitespace().map(str::to_owned).collect(),
        }
    }
}

/// The fields of a provider, every one optional: a preset, a discovery result or a
/// `[providers.NAME]` table of config.toml. Unknown keys are errors (with file and line).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderLayer {
    /// config.toml only: the preset this entry builds on.
    #[serde(default, deserialize_with = "de_preset")]
    pub preset: Option<String>,
    /// Discover the endpoints from this issuer (RFC 8414 / OIDC), cached for a day.
    #[serde(default, deserialize_with = "de_url")]
    pub issuer: Option<String>,
    /// config.toml only: the client id for every profile of this provider.
    pub client_id: Option<String>,
    #[serde(default, deserialize_with = "de_url")]
    pub authorization_endpoint: Option<String>,
    #[serde(default, deserialize_with = "de_url")]
    pub token_endpoint: Option<String>,
    /// The issuer's signing keys, for ID token signatures (TE-10); discovery fills it in.
    #[serde(default, deserialize_with = "de_url")]
    pub jwks_uri: Option<String>,
    #[serde(default, deserialize_with = "de_url")]
    pub revocation_endpoint: Option<String>,
    #[serde(default, deserialize_with = "de_url")]
    pub device_authorization_endpoint: Option<String>,
    /// Default scopes.
    pub scopes: Option<Scopes>,
    /// The scope that yields a refresh token, added to every user login.
    pub offline_scope: Option<String>,
    /// `none`, `client_secret_post`, `client_secret_basic` or `client_secret_basic_json`.
    #[serde(default, deserialize_with = "de_client_auth")]
    pub client_auth: Option<ClientAuth>,
    /// `optional`, `recommended` or `required`.
    pub secret: Option<SecretNeed>,
    pub pkce: Option<bool>,
    /// Template values and extra authorization parameters (see the module docs).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "de_word")]
    pub scope_param: Option<String>,
    pub scope_separator: Option<String>,
    #[serde(default, deserialize_with = "de_redirect_host")]
    pub redirect_host: Option<String>,
    #[serde(default, deserialize_with = "de_redirect_path")]
    pub redirect_path: Option<String>,
    #[serde(default, deserialize_with = "de_redirect_uri")]
    pub redirect_uri: Option<String>,
    pub ports: Option<Vec<u16>>,
    /// The default flow: `browser`, `manual`, `device` or `client_credentials`.
    pub flow: Option<FlowKind>,
    pub revocation_note: Option<String>,
    pub user_token_in_authed_user: Option<bool>,
    /// A duration (`"365d"`) or seconds.
    #[serde(default, deserialize_with = "super::token::de_lifetime")]
    pub lifetime_when_absent: Option<i64>,
    pub redirect_uri_on_refresh: Option<bool>,
    /// A line for `tokcli providers`.
    pub description: Option<String>,
    /// From discovery only.
    #[serde(skip)]
    pub scopes_supported: Vec<String>,
    #[serde(skip)]
    pub iss_parameter_supported: bool,
}

fn de_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error as _;
    let v = Option::<String>::deserialize(d)?;
    if let Some(u) = v.as_deref().filter(|u| !u.is_empty()) {
        // Placeholders are checked when they are filled; here the rest of the URL is.
        let probe = fill_placeholders_for_check(u);
        check_url("URL", &probe).map_err(|e| D::Error::custom(e.message))?;
    }
    Ok(v)
}

fn de_preset<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error as _;
    let v = Option::<String>::deserialize(d)?;
    match &v {
        Some(p) if !NAMES.contains(&p.as_str()) => {
            Err(D::Error::custom(format!("preset {p:?} is unknown; presets: {}", NAMES.join(", "))))
        }
        _ => Ok(v),
    }
}

fn de_client_auth<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ClientAuth>, D::Error> {
    use serde::de::Error as _;
    Option::<String>::deserialize(d)?
        .map(|s| ClientAuth::parse(&s).map_err(|e| D::Error::custom(e.message)))
        .transpose()
}

fn de_word<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error as _;
    let v = Option::<String>::deserialize(d)?;
    if let Some(w) = &v
        && (w.is_empty() || !w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(D::Error::custom(format!("{w:?} is not a parameter name")));
    }
    Ok(v)
}

fn de_redirect_host<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error as _;
    let v = Option::<String>::deserialize(d)?;
    match v.as_deref() {
        None | Some("127.0.0.1" | "localhost") => Ok(v),
        Some(h) => Err(D::Error::custom(format!("redirect_host must be \"127.0.0.1\" or \"localhost\", not {h:?}"))),
    }
}

fn de_redirect_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error as _;
    let v = Option::<String>::deserialize(d)?;
    if let Some(p) = &v
        && (!p.starts_with('/') || p.contains(['?', '#', ' ']))
    {
        return Err(D::Error::custom(format!("redirect_path must start with '/' and have no query: {p:?}")));
    }
    Ok(v)
}

fn de_redirect_uri<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error as _;
    let v = Option::<String>::deserialize(d)?;
    if let Some(u) = v.as_deref().filter(|u| !u.is_empty())
        && url::Url::parse(u).is_err()
    {
        return Err(D::Error::custom(format!("redirect_uri {u:?} is not an absolute URI")));
    }
    Ok(v)
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn scopes(s: &[&str]) -> Option<Scopes> {
    Some(Scopes::List(s.iter().map(|x| (*x).to_owned()).collect()))
}

/// The names of the built-in presets, in display order.
pub const NAMES: [&str; 9] = ["google", "github", "microsoft", "gitlab", "alarmbox", "x", "slack", "notion", "azure"];

const YEAR: i64 = 365 * 86_400;

/// A built-in preset's layer (PROVIDERS.md has the sources of every value).
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn preset(name: &str) -> Option<ProviderLayer> {
    let d = ProviderLayer::default;
    let layer = match name {
        "google" => ProviderLayer {
            description: some("Google (Desktop app client; --device needs a \"TVs and Limited Input\" client)"),
            authorization_endpoint: some("https://accounts.google.com/o/oauth2/v2/auth"),
            token_endpoint: some("https://oauth2.googleapis.com/token"),
            device_authorization_endpoint: some("https://oauth2.googleapis.com/device/code"),
            revocation_endpoint: some("https://oauth2.googleapis.com/revoke"),
            scopes: scopes(&["openid", "email"]),
            // Desktop clients get a secret that Google says is not confidential; send it.
            client_auth: Some(ClientAuth::Post),
            secret: Some(SecretNeed::Recommended),
            // A refresh token every time, not only on the first consent.
            params: params(&[("access_type", "offline"), ("prompt", "consent")]),
            redirect_host: some("127.0.0.1"),
            flow: Some(FlowKind::Browser),
            ..d()
        },
        "github" => ProviderLayer {
            description: some("GitHub OAuth apps and GitHub Apps (base_url for GitHub Enterprise Server)"),
            params: params(&[("base_url", "https://github.com")]),
            authorization_endpoint: some("{base_url}/login/oauth/authorize"),
            token_endpoint: some("{base_url}/login/oauth/access_token"),
            device_authorization_endpoint: some("{base_url}/login/device/code"),
            revocation_note: some(
                "GitHub has no RFC 7009 endpoint: revoke at https://github.com/settings/connections/applications/CLIENT_ID \
(or DELETE /applications/CLIENT_ID/token with the client secret), then `tokcli revoke --local-only`",
            ),
            client_auth: Some(ClientAuth::Post),
            // The web flow needs the secret even with PKCE; the device flow needs none.
            secret: Some(SecretNeed::Required),
            redirect_host: some("127.0.0.1"),
            flow: Some(FlowKind::Device),
            // OAuth-app tokens carry no expires_in and do not expire; GitHub Apps send expires_in.
            lifetime_when_absent: Some(YEAR),
            ..d()
        },
        "microsoft" => ProviderLayer {
            description: some("Microsoft identity platform v2.0 (tenant: common, organizations, consumers or an id)"),
            params: params(&[("tenant", "common")]),
            authorization_endpoint: some("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"),
            token_endpoint: some("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
            device_authorization_endpoint: some("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode"),
            revocation_note: some(
                "Microsoft has no revocation endpoint; Graph `POST /me/revokeSignInSessions` revokes all of the user's \
refresh tokens",
            ),
            scopes: scopes(&["openid", "profile"]),
            offline_scope: some("offline_access"),
            // Public clients send no secret (AADSTS700025); confidential ones post it.
            client_auth: Some(ClientAuth::Post),
            redirect_host: some("localhost"),
            flow: Some(FlowKind::Browser),
            ..d()
        },
        "gitlab" => ProviderLayer {
            description: some("GitLab.com or self-managed (base_url); register the app as not confidential"),
            params: params(&[("base_url", "https://gitlab.com")]),
            authorization_endpoint: some("{base_url}/oauth/authorize"),
            token_endpoint: some("{base_url}/oauth/token"),
            device_authorization_endpoint: some("{base_url}/oauth/authorize_device"),
            revocation_endpoint: some("{base_url}/oauth/revoke"),
            scopes: scopes(&["read_user"]),
            client_auth: Some(ClientAuth::Post),
            // Doorkeeper ignores the port only for IP-literal loopback redirects.
            redirect_host: some("127.0.0.1"),
            flow: Some(FlowKind::Browser),
            ..d()
        },
        "alarmbox" => ProviderLayer {
            description: some("AlarmBox API (out-of-band code; values reported, unconfirmed: override in config.toml)"),
            authorization_endpoint: some("https://api.alarmbox.jp/oauth/authorize"),
            token_endpoint: some("https://api.alarmbox.jp/oauth/token"),
            revocation_note: some(
                "AlarmBox documents no revocation endpoint (unconfirmed); set revocation_endpoint in config.toml if \
yours has one",
            ),
            scopes: scopes(&["read", "customer:delete", "customer:create", "credit_check:create"]),
            client_auth: Some(ClientAuth::Post),
            secret: Some(SecretNeed::Required),
            redirect_uri: some(OOB_REDIRECT),
            flow: Some(FlowKind::Manual),
            redirect_uri_on_refresh: Some(true),
            ..d()
        },
        "x" => ProviderLayer {
            description: some("X (Twitter) API v2; register http://127.0.0.1:8080/callback exactly"),
            authorization_endpoint: some("https://x.com/i/oauth2/authorize"),
            token_endpoint: some("https://api.x.com/2/oauth2/token"),
            revocation_endpoint: some("https://api.x.com/2/oauth2/revoke"),
            scopes: scopes(&["tweet.read", "users.read"]),
            offline_scope: some("offline.access"),
            // Confidential clients must use Basic; public clients send no secret.
            client_auth: Some(ClientAuth::Basic),
            redirect_host: some("127.0.0.1"),
            ports: Some(vec![8080]),
            flow: Some(FlowKind::Browser),
            ..d()
        },
        "slack" => ProviderLayer {
            description: some(
                "Slack user tokens (oauth.v2.access; PKCE desktop redirect http://localhost:8080/callback)",
            ),
            authorization_endpoint: some("https://slack.com/oauth/v2/authorize"),
            token_endpoint: some("https://slack.com/api/oauth.v2.access"),
            revocation_note: some(
                "Slack's auth.revoke is called with the token itself: curl -H \"Authorization: Bearer $(tokcli token \
PROFILE)\" https://slack.com/api/auth.revoke, then `tokcli revoke PROFILE --local-only`",
            ),
            scope_param: some("user_scope"),
            scope_separator: some(","),
            client_auth: Some(ClientAuth::Basic),
            redirect_host: some("localhost"),
            ports: Some(vec![8080]),
            flow: Some(FlowKind::Browser),
            user_token_in_authed_user: Some(true),
            ..d()
        },
        "notion" => ProviderLayer {
            description: some("Notion public integrations (no scopes: pages are picked during consent)"),
            authorization_endpoint: some("https://api.notion.com/v1/oauth/authorize"),
            token_endpoint: some("https://api.notion.com/v1/oauth/token"),
            revocation_note: some(
                "Notion's /v1/oauth/revoke takes a JSON body, not RFC 7009; use `tokcli revoke PROFILE --local-only`",
            ),
            params: params(&[("owner", "user")]),
            client_auth: Some(ClientAuth::BasicJson),
            secret: Some(SecretNeed::Required),
            // Notion does not document PKCE; tokcli sends S256 anyway (LB-04: every authorization
            // request carries PKCE; unknown parameters are ignored by OAuth servers).
            redirect_host: some("127.0.0.1"),
            flow: Some(FlowKind::Browser),
            // The token response has no expires_in (lifetime unconfirmed).
            lifetime_when_absent: Some(YEAR),
            ..d()
        },
        "azure" => ProviderLayer {
            description: some("Microsoft Entra client credentials (service principals; --param tenant=ID)"),
            token_endpoint: some("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
            revocation_note: some("client-credential tokens cannot be revoked; they expire within about 90 minutes"),
            scopes: scopes(&["https://management.azure.com/.default"]),
            client_auth: Some(ClientAuth::Post),
            secret: Some(SecretNeed::Required),
            flow: Some(FlowKind::ClientCredentials),
            ..d()
        },
        _ => return None,
    };
    Some(layer)
}

/// Replaces `{name}` placeholders with a harmless value so the rest of a URL can be checked.
fn fill_placeholders_for_check(u: &str) -> String {
    let mut out = String::new();
    let mut rest = u;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else { break };
        let leading = out.is_empty() && start == 0;
        out.push_str(&rest[..start]);
        out.push_str(if leading { "https://placeholder.invalid" } else { "x" });
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// The `{name}` placeholders of a template.
fn placeholders_of(t: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = t;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else { break };
        names.push(rest[start + 1..start + len].to_owned());
        rest = &rest[start + len + 1..];
    }
    names
}

/// Checks a template value: a leading placeholder takes a base URL, any other a plain segment.
fn check_value(name: &str, value: &str, leading: bool) -> Result<String, Error> {
    let bad = |why: &str| {
        Error::usage(format!("invalid value {value:?} for {{{name}}}: {why}"))
            .hint(format!("pass --param {name}=VALUE, or fix params.{name} in config.toml"))
    };
    if leading {
        let v = value.trim_end_matches('/');
        let u = check_url(name, v).map_err(|e| bad(&e.message))?;
        if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
            return Err(bad("a base URL has no query, fragment or credentials"));
        }
        Ok(v.to_owned())
    } else if !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        Ok(value.to_owned())
    } else {
        Err(bad("use letters, digits, '.', '_' and '-' only"))
    }
}

/// Fills a template. `strict`: a placeholder without a value is an error, else it stays as is.
fn fill(template: &str, values: &BTreeMap<String, String>, provider: &str, strict: bool) -> Result<String, Error> {
    let mut out = String::new();
    let mut rest = template;
    let mut at_start = true;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else { break };
        let name = &rest[start + 1..start + len];
        out.push_str(&rest[..start]);
        let leading = at_start && start == 0;
        match values.get(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(&check_value(name, v, leading)?),
            None if strict => {
                return Err(Error::usage(format!("the {provider} provider needs a value for {{{name}}}")).hint(
                    format!(
                        "pass --param {name}=VALUE, or set `params = {{ {name} = \"…\" }}` under [providers.{provider}] \
or [profiles.PROFILE] in config.toml"
                    ),
                ));
            }
            None => out.push_str(&rest[start..=start + len]),
        }
        at_start = false;
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn nonempty(v: Option<&String>) -> Option<String> {
    v.filter(|s| !s.is_empty()).cloned()
}

impl ProviderLayer {
    /// This layer with `upper` on top: every field `upper` sets wins; `params` merge by key.
    #[must_use]
    pub fn merge(&self, upper: &ProviderLayer) -> ProviderLayer {
        let u = upper.clone();
        let mut params = self.params.clone();
        params.extend(u.params);
        ProviderLayer {
            preset: u.preset.or_else(|| self.preset.clone()),
            issuer: u.issuer.or_else(|| self.issuer.clone()),
            client_id: u.client_id.or_else(|| self.client_id.clone()),
            authorization_endpoint: u.authorization_endpoint.or_else(|| self.authorization_endpoint.clone()),
            token_endpoint: u.token_endpoint.or_else(|| self.token_endpoint.clone()),
            jwks_uri: u.jwks_uri.or_else(|| self.jwks_uri.clone()),
            revocation_endpoint: u.revocation_endpoint.or_else(|| self.revocation_endpoint.clone()),
            device_authorization_endpoint: u
                .device_authorization_endpoint
                .or_else(|| self.device_authorization_endpoint.clone()),
            scopes: u.scopes.or_else(|| self.scopes.clone()),
            offline_scope: u.offline_scope.or_else(|| self.offline_scope.clone()),
            client_auth: u.client_auth.or(self.client_auth),
            secret: u.secret.or(self.secret),
            pkce: u.pkce.or(self.pkce),
            params,
            scope_param: u.scope_param.or_else(|| self.scope_param.clone()),
            scope_separator: u.scope_separator.or_else(|| self.scope_separator.clone()),
            redirect_host: u.redirect_host.or_else(|| self.redirect_host.clone()),
            redirect_path: u.redirect_path.or_else(|| self.redirect_path.clone()),
            redirect_uri: u.redirect_uri.or_else(|| self.redirect_uri.clone()),
            ports: u.ports.or_else(|| self.ports.clone()),
            flow: u.flow.or(self.flow),
            revocation_note: u.revocation_note.or_else(|| self.revocation_note.clone()),
            user_token_in_authed_user: u.user_token_in_authed_user.or(self.user_token_in_authed_user),
            lifetime_when_absent: u.lifetime_when_absent.or(self.lifetime_when_absent),
            redirect_uri_on_refresh: u.redirect_uri_on_refresh.or(self.redirect_uri_on_refresh),
            description: u.description.or_else(|| self.description.clone()),
            scopes_supported: if u.scopes_supported.is_empty() {
                self.scopes_supported.clone()
            } else {
                u.scopes_supported
            },
            iss_parameter_supported: u.iss_parameter_supported || self.iss_parameter_supported,
        }
    }

    /// The layer a discovery result contributes (endpoints and what the metadata says).
    #[must_use]
    pub fn from_discovered(spec: &ProviderSpec) -> ProviderLayer {
        ProviderLayer {
            issuer: spec.issuer.clone(),
            authorization_endpoint: spec.authorization_endpoint.clone(),
            token_endpoint: Some(spec.token_endpoint.clone()),
            jwks_uri: spec.jwks_uri.clone(),
            revocation_endpoint: spec.revocation_endpoint.clone(),
            device_authorization_endpoint: spec.device_endpoint.clone(),
            scopes_supported: spec.scopes_supported.clone(),
            iss_parameter_supported: spec.iss_parameter_supported,
            ..ProviderLayer::default()
        }
    }

    fn url_fields(&self) -> [(&'static str, Option<&String>); 7] {
        [
            ("issuer", self.issuer.as_ref()),
            ("jwks_uri", self.jwks_uri.as_ref()),
            ("authorization_endpoint", self.authorization_endpoint.as_ref()),
            ("token_endpoint", self.token_endpoint.as_ref()),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
            ("device_authorization_endpoint", self.device_authorization_endpoint.as_ref()),
            ("redirect_uri", self.redirect_uri.as_ref()),
        ]
    }

    /// The placeholder names used by this layer's URLs: the keys of `params` that are template
    /// values rather than authorization parameters.
    #[must_use]
    pub fn placeholders(&self) -> BTreeSet<String> {
        self.url_fields().iter().filter_map(|(_, v)| *v).flat_map(|v| placeholders_of(v)).collect()
    }

    /// The issuer with its placeholders filled, when one is set.
    ///
    /// # Errors
    /// A usage error for a missing or invalid template value.
    pub fn issuer_url(&self, name: &str, params: &BTreeMap<String, String>) -> Result<Option<String>, Error> {
        nonempty(self.issuer.as_ref()).map(|i| fill(&i, params, name, true)).transpose()
    }

    /// Builds the provider `name` from these (merged) layers and the merged `params` (CLI and
    /// profile values included). `strict = false` leaves unfilled placeholders in place and skips
    /// the token-endpoint requirement, for display by `tokcli providers`.
    ///
    /// # Errors
    /// A usage error for a missing token endpoint or a missing or invalid template value.
    pub fn to_spec(&self, name: &str, params: &BTreeMap<String, String>, strict: bool) -> Result<ProviderSpec, Error> {
        let templated = self.placeholders();
        let url = |v: Option<&String>| -> Result<Option<String>, Error> {
            nonempty(v).map(|t| fill(&t, params, name, strict)).transpose()
        };
        let checked = |what: &str, v: Option<String>| -> Result<Option<String>, Error> {
            match v {
                Some(u) if strict => check_url(what, &u).map(|_| Some(u)),
                other => Ok(other),
            }
        };
        let token_endpoint = checked("token_endpoint", url(self.token_endpoint.as_ref())?)?;
        let token_endpoint = match token_endpoint {
            Some(t) => t,
            None if !strict => String::new(),
            None => {
                return Err(Error::usage(format!("the provider {name} has no token_endpoint")).hint(format!(
                    "set token_endpoint (or issuer, for discovery) under [providers.{name}] in config.toml"
                )));
            }
        };
        let auth_params = params
            .iter()
            .filter(|(k, v)| !templated.contains(*k) && !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(ProviderSpec {
            name: name.to_owned(),
            issuer: url(self.issuer.as_ref())?,
            authorization_endpoint: checked("authorization_endpoint", url(self.authorization_endpoint.as_ref())?)?,
            token_endpoint,
            revocation_endpoint: checked("revocation_endpoint", url(self.revocation_endpoint.as_ref())?)?,
            device_endpoint: checked(
                "device_authorization_endpoint",
                url(self.device_authorization_endpoint.as_ref())?,
            )?,
            default_scopes: self.scopes.as_ref().map(Scopes::to_vec).unwrap_or_default(),
            scopes_supported: self.scopes_supported.clone(),
            iss_parameter_supported: self.iss_parameter_supported,
            jwks_uri: checked("jwks_uri", url(self.jwks_uri.as_ref())?)?,
            preset: self.preset.clone(),
            client_auth: self.client_auth,
            secret: self.secret.unwrap_or_default(),
            pkce: if self.pkce == Some(false) { Pkce::Off } else { Pkce::S256 },
            auth_params,
            offline_scope: nonempty(self.offline_scope.as_ref()),
            scope_param: nonempty(self.scope_param.as_ref()),
            scope_separator: self.scope_separator.clone().filter(|s| !s.is_empty()),
            redirect_host: nonempty(self.redirect_host.as_ref()),
            redirect_path: nonempty(self.redirect_path.as_ref()),
            redirect_uri: url(self.redirect_uri.as_ref())?,
            ports: self.ports.clone().unwrap_or_default(),
            default_flow: self.flow,
            revocation_note: nonempty(self.revocation_note.as_ref()),
            quirks: Quirks {
                user_token_in_authed_user: self.user_token_in_authed_user.unwrap_or(false),
                lifetime_when_absent: self.lifetime_when_absent,
                redirect_uri_on_refresh: self.redirect_uri_on_refresh.unwrap_or(false),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, extra: &[(&str, &str)]) -> Result<ProviderSpec, Error> {
        let l = preset(name).unwrap();
        let mut p = l.params.clone();
        p.extend(params(extra));
        l.to_spec(name, &p, true)
    }

    #[test]
    fn every_preset_builds_or_names_its_missing_parameter() {
        for n in NAMES {
            let l = preset(n).unwrap();
            assert!(l.description.is_some(), "{n}");
            assert!(l.flow.is_some(), "{n}");
            assert!(l.revocation_endpoint.is_some() || l.revocation_note.is_some(), "{n}: revocation or a note");
            match l.to_spec(n, &l.params, true) {
                Ok(s) => assert!(s.token_endpoint.starts_with("https://"), "{n}"),
                Err(e) => {
                    assert_eq!(n, "azure");
                    assert!(e.message.contains("{tenant}"), "{}", e.message);
                    assert!(e.hint.unwrap().contains("--param tenant="));
                }
            }
        }
        assert!(preset("nope").is_none());
    }

    #[test]
    fn template_parameters_and_authorization_parameters() {
        let s = spec("microsoft", &[("tenant", "contoso.onmicrosoft.com"), ("login_hint", "a@b.c")]).unwrap();
        assert_eq!(s.token_endpoint, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
        assert_eq!(s.auth_params, vec![("login_hint".to_owned(), "a@b.c".to_owned())], "tenant is not sent");
        let s = spec("gitlab", &[("base_url", "https://gitlab.example.com/")]).unwrap();
        assert_eq!(s.authorization_endpoint.as_deref(), Some("https://gitlab.example.com/oauth/authorize"));
        assert_eq!(s.revocation_endpoint.as_deref(), Some("https://gitlab.example.com/oauth/revoke"));
        let s = spec("google", &[("prompt", "")]).unwrap();
        assert_eq!(s.auth_params, vec![("access_type".to_owned(), "offline".to_owned())], "empty value removes");
        for (n, k, v) in [
            ("microsoft", "tenant", "a/b"),
            ("microsoft", "tenant", "x?y"),
            ("gitlab", "base_url", "http://gitlab.example.com"),
            ("gitlab", "base_url", "https://h/?q=1"),
            ("gitlab", "base_url", "https://user:pw@h"),
        ] {
            let e = spec(n, &[(k, v)]).unwrap_err();
            assert!(e.message.contains(k), "{n} {v}: {}", e.message);
        }
        let s = spec("azure", &[("tenant", "0000-1111")]).unwrap();
        assert_eq!(s.default_flow, Some(FlowKind::ClientCredentials));
        assert!(s.authorization_endpoint.is_none());
    }

    #[test]
    fn config_layer_inherits_quirks_and_overrides_endpoints() {
        let cfg = ProviderLayer {
            token_endpoint: some("http://127.0.0.1:9/token"),
            revocation_endpoint: some(""),
            ..ProviderLayer::default()
        };
        let merged = preset("notion").unwrap().merge(&cfg);
        let s = merged.to_spec("n-test", &merged.params, true).unwrap();
        assert_eq!(s.token_endpoint, "http://127.0.0.1:9/token");
        assert_eq!(s.client_auth, Some(ClientAuth::BasicJson));
        assert_eq!(s.quirks.lifetime_when_absent, Some(YEAR));
        assert!(s.revocation_endpoint.is_none());
        assert_eq!(s.pkce, Pkce::S256, "PKCE on every authorization request (LB-04)");
    }

    #[test]
    fn display_keeps_unfilled_placeholders() {
        let l = preset("azure").unwrap();
        let s = l.to_spec("azure", &l.params, false).unwrap();
        assert_eq!(s.token_endpoint, "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token");
    }
}
