//! `tokcli login`: run one of the login flows and store the grant.
//!
//! The browser flow follows RFC 8252: PKCE S256, a 32-byte `state` (and `nonce` with `openid`),
//! a loopback listener opened just before the browser and closed before the code exchange, and
//! the RFC 9207 `iss` check. The profile lock is taken only to write the new grant (CC-08).

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use url::Url;
use zeroize::Zeroizing;

use super::Ctx;
use crate::cli::LoginArgs;
use crate::config::{self, Config, Layer, Source};
use crate::error::{Class, Error};
use crate::loopback::{self, Expect, Verdict};
use crate::model::{ProfileName, Secrets, TokenSet, human_secs, is_safe_token, now, secret};
use crate::provider::http::{check_url, is_loopback};
use crate::provider::presets::{OOB_REDIRECT, ProviderLayer};
use crate::provider::token::{self, Client, ClientAuth, GrantRequest, Quirks, TokenError};
use crate::provider::{self, FlowKind, Pkce, ProviderSpec, SecretNeed};
use crate::store::{Grant, ProfileConfig, SqliteStore, TokenStore};

/// A cached discovery document older than this is fetched again.
const DISCOVERY_TTL: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Browser,
    Manual,
    Device,
    ClientCredentials,
    RefreshToken,
}

impl Flow {
    fn from_kind(k: FlowKind) -> Self {
        match k {
            FlowKind::Browser => Flow::Browser,
            FlowKind::Manual => Flow::Manual,
            FlowKind::Device => Flow::Device,
            FlowKind::ClientCredentials => Flow::ClientCredentials,
        }
    }
    fn stored_name(self) -> &'static str {
        match self {
            Flow::Browser | Flow::Manual => "authorization_code",
            Flow::Device => "device_code",
            Flow::ClientCredentials => "client_credentials",
            Flow::RefreshToken => "refresh_token",
        }
    }
}

/// Lines read from stdin once: the client secret (first, with `--client-secret-stdin`), then
/// the refresh token or pasted redirect.
struct Stdin {
    lines: std::io::Lines<std::io::StdinLock<'static>>,
}

impl Stdin {
    fn new() -> Self {
        Self { lines: std::io::stdin().lock().lines() }
    }
    fn read(&mut self, what: &str) -> Result<Zeroizing<String>, Error> {
        match self.lines.next() {
            Some(Ok(l)) => {
                let l = Zeroizing::new(l);
                let t = l.trim();
                if t.is_empty() {
                    Err(Error::usage(format!("empty {what} on stdin")))
                } else {
                    Ok(Zeroizing::new(t.to_owned()))
                }
            }
            Some(Err(e)) => Err(Error::usage(format!("cannot read the {what} from stdin: {e}"))),
            None => Err(Error::usage(format!("expected the {what} on stdin, got end of input"))
                .hint(format!("pipe it in, e.g. `printf %s \"$VALUE\" | tokcli login …` ({what})"))),
        }
    }
}

/// The profile name used when `--profile` is absent: the provider name, or an issuer's host.
fn default_profile_name(provider: &str) -> Result<ProfileName, Error> {
    let base =
        Url::parse(provider).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| provider.to_owned());
    ProfileName::parse(base.trim_start_matches(['.', '-']))
        .map_err(|_| Error::usage(format!("cannot derive a profile name from {provider}")).hint("pass --profile NAME"))
}

/// A provider resolved for one login.
struct Target {
    spec: ProviderSpec,
    /// The issuer whose metadata came from the discovery cache, if any.
    cached_issuer: Option<String>,
    /// A freshly fetched metadata document, written to the cache when the login succeeds.
    fetched: Option<(String, String)>,
}

/// The preset and `[providers.NAME]` layers of `arg`; both empty for an issuer URL.
fn provider_layers(cfg: &Config, arg: &str) -> Result<(ProviderLayer, ProviderLayer), Error> {
    if arg.contains("://") {
        return Ok((ProviderLayer::default(), ProviderLayer::default()));
    }
    let (preset, entry) = cfg.provider_layers(arg).ok_or_else(|| {
        let mut known: Vec<&str> = provider::presets::NAMES.to_vec();
        known.extend(cfg.providers.keys().map(String::as_str).filter(|k| !provider::presets::NAMES.contains(k)));
        Error::usage(format!("unknown provider {arg:?}")).hint(format!(
            "use one of {}, a [providers.NAME] entry of {}, or an issuer URL such as https://accounts.example.com",
            known.join(", "),
            cfg.path.display()
        ))
    })?;
    Ok((preset.unwrap_or_default(), entry.cloned().unwrap_or_default()))
}

/// Metadata for `issuer` from the discovery cache when younger than a day (and `!force`), else
/// fetched; when the fetch fails for network reasons an older cached copy is used with a warning.
fn discover_cached(
    ctx: &Ctx,
    store: Option<&SqliteStore>,
    issuer: &str,
    force: bool,
    deadline: Instant,
) -> Result<(ProviderSpec, Option<String>), Error> {
    let cached = store.and_then(|s| match s.cached_discovery(issuer) {
        Ok(c) => c,
        Err(e) => {
            ctx.printer.debug(1, &format!("the discovery cache is unreadable: {}", e.message));
            None
        }
    });
    let from_cache = |doc: &str| provider::spec_from_document(issuer, "the discovery cache", doc).ok();
    if let Some((doc, at)) = &cached
        && !force
        && (0..DISCOVERY_TTL).contains(&(now() - at))
        && let Some(spec) = from_cache(doc)
    {
        ctx.printer.debug(1, &format!("using the metadata of {issuer} cached {} ago", human_secs(now() - at)));
        return Ok((spec, None));
    }
    match provider::discover_document(ctx.http()?, issuer, deadline) {
        Ok((spec, doc)) => Ok((spec, Some(doc))),
        Err(e) if e.class == Class::Unavailable => {
            if let Some((doc, at)) = &cached
                && let Some(spec) = from_cache(doc)
            {
                ctx.printer.warn(&format!(
                    "{}; using the metadata cached {} ago",
                    e.message,
                    human_secs((now() - at).max(1))
                ));
                return Ok((spec, None));
            }
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Builds the provider for `arg` from its layers: preset < discovery (when an issuer is set) <
/// `[providers.NAME]`, with the resolved `params` (see `crate::config` for the precedence).
fn resolve_provider(
    ctx: &Ctx,
    arg: &str,
    layers: &(ProviderLayer, ProviderLayer),
    params: &BTreeMap<String, String>,
    force_fetch: bool,
    deadline: Instant,
) -> Result<Target, Error> {
    let (preset, entry) = layers;
    let base = preset.merge(entry);
    let issuer = if arg.contains("://") { Some(arg.to_owned()) } else { base.issuer_url(arg, params)? };
    let Some(issuer) = issuer else {
        return Ok(Target { spec: base.to_spec(arg, params, true)?, cached_issuer: None, fetched: None });
    };
    let store = match ctx.store() {
        Ok(s) => s,
        Err(e) => {
            ctx.printer.debug(1, &format!("not using the discovery cache: {}", e.message));
            None
        }
    };
    let (discovered, fetched) = discover_cached(ctx, store.as_ref(), &issuer, force_fetch, deadline)?;
    let merged = preset.merge(&ProviderLayer::from_discovered(&discovered)).merge(entry);
    let name = if arg.contains("://") { issuer.as_str() } else { arg };
    let spec = merged.to_spec(name, params, true)?;
    let cached_issuer = fetched.is_none().then(|| issuer.clone());
    Ok(Target { spec, cached_issuer, fetched: fetched.map(|d| (issuer, d)) })
}

/// The scopes to request: the resolved ones (CLI > profile > provider > preset), else what
/// discovery offers of `openid offline_access`; plus the provider's refresh-token scope for user
/// logins.
fn scopes_for(requested: Option<&Vec<String>>, spec: &ProviderSpec, flow: Flow) -> String {
    let mut scopes: Vec<String> = requested.cloned().unwrap_or_default();
    if scopes.is_empty() && flow != Flow::ClientCredentials {
        for s in ["openid", "offline_access"] {
            if spec.scopes_supported.iter().any(|x| x == s) {
                scopes.push(s.to_owned());
            }
        }
    }
    if let Some(o) = &spec.offline_scope
        && flow != Flow::ClientCredentials
        && !scopes.contains(o)
    {
        scopes.push(o.clone());
    }
    let mut seen = std::collections::HashSet::new();
    scopes.retain(|s| seen.insert(s.clone()));
    scopes.join(" ")
}

/// The login settings the command line gives (clap has already folded in `TOKCLI_CLIENT_ID`).
fn cli_layer(a: &LoginArgs) -> Result<(Layer, Option<Flow>), Error> {
    let mut params = BTreeMap::new();
    for p in &a.params {
        let (k, v) = p.split_once('=').ok_or_else(|| Error::usage(format!("--param {p:?} is not KEY=VALUE")))?;
        if k.is_empty() {
            return Err(Error::usage(format!("--param {p:?} has an empty key")));
        }
        params.insert(k.to_owned(), v.to_owned());
    }
    let flag = match (a.device, a.manual, a.client_credentials, a.refresh_token_stdin) {
        (true, ..) => Some(Flow::Device),
        (_, true, ..) => Some(Flow::Manual),
        (_, _, true, _) => Some(Flow::ClientCredentials),
        (.., true) => Some(Flow::RefreshToken),
        _ => None,
    };
    let flow = match flag {
        Some(Flow::Device) => Some(FlowKind::Device),
        Some(Flow::Manual) => Some(FlowKind::Manual),
        Some(Flow::ClientCredentials) => Some(FlowKind::ClientCredentials),
        _ => None,
    };
    let scopes: Vec<String> = a.scopes.iter().flat_map(|s| s.split_whitespace().map(str::to_owned)).collect();
    let layer = Layer {
        client_id: a.client_id.clone(),
        scopes: (!scopes.is_empty()).then_some(scopes),
        flow,
        ports: (!a.port.is_empty()).then(|| a.port.clone()),
        min_valid: None,
        params,
    };
    Ok((layer, flag))
}

/// Whether `uri` is an out-of-band redirect: the provider shows the code instead of redirecting.
fn is_oob(uri: &str) -> bool {
    uri == OOB_REDIRECT || uri.starts_with("urn:ietf:wg:oauth:2.0:oob:")
}

/// A fixed redirect URI that no loopback listener can receive (out-of-band, https, custom scheme).
fn fixed_remote_redirect(spec: &ProviderSpec) -> Option<&str> {
    spec.redirect_uri.as_deref().filter(|u| Url::parse(u).map_or(true, |u| u.scheme() != "http" || !is_loopback(&u)))
}

#[allow(clippy::too_many_lines)]
pub fn run(ctx: &Ctx, a: &LoginArgs) -> anyhow::Result<()> {
    let deadline = super::deadline(&a.timeout)?;
    let cfg = Config::load(&ctx.settings.config_file)?;
    let (cli, flag) = cli_layer(a)?;
    let named_defaults = a.profile.as_deref().and_then(|p| cfg.profiles.get(p));
    let arg = a
        .provider
        .clone()
        .or_else(|| named_defaults.and_then(|d| d.provider.as_ref().map(|p| p.get_ref().clone())))
        .ok_or_else(|| {
            Error::usage("which provider? name one, or set `provider` under [profiles.NAME] in config.toml")
                .hint("e.g. `tokcli login github`, or `tokcli providers` to list them")
        })?;
    let name = match &a.profile {
        Some(p) => ProfileName::parse(p)?,
        None => default_profile_name(&arg)?,
    };
    let profile_layer = cfg.profiles.get(name.as_str()).map(Layer::from_profile).unwrap_or_default();
    let layers = provider_layers(&cfg, &arg)?;
    let settings = config::resolve(&[
        (Source::Cli, &cli),
        (Source::Env, &Layer::default()),
        (Source::ProfileFile, &profile_layer),
        (Source::ProviderFile, &Layer::from_provider(&layers.1)),
        (Source::Preset, &Layer::from_provider(&layers.0)),
    ]);
    let client_id = settings.values.client_id.clone().ok_or_else(|| {
        Error::usage("a client id is required").hint(format!(
            "pass --client-id ID, set TOKCLI_CLIENT_ID, or set client_id under [profiles.{name}] in {} \
(register an app with the provider to get one)",
            cfg.path.display()
        ))
    })?;
    let mut target = resolve_provider(ctx, &arg, &layers, &settings.values.params, false, deadline)?;
    let mut unique = check_issuer_unique(ctx, &name, &target.spec);
    if unique.is_err() && target.cached_issuer.is_some() {
        // The clash may come from a stale cached metadata document: fetch it again first.
        target = resolve_provider(ctx, &arg, &layers, &settings.values.params, true, deadline)?;
        unique = check_issuer_unique(ctx, &name, &target.spec);
    }
    unique?;
    let mut flow = match flag {
        Some(Flow::RefreshToken) => Flow::RefreshToken,
        _ => settings.values.flow.map_or(Flow::Browser, Flow::from_kind),
    };
    if flow == Flow::Browser
        && let Some(uri) = fixed_remote_redirect(&target.spec)
    {
        ctx.printer.info(&format!(
            "{} redirects to {uri}, which tokcli cannot receive: switching to --manual",
            target.spec.name
        ));
        flow = Flow::Manual;
    }
    let mut stdin = Stdin::new();
    let client_secret: Option<SecretString> = if a.client_secret_stdin {
        Some(secret(stdin.read("client secret")?.to_string()))
    } else {
        std::env::var("TOKCLI_CLIENT_SECRET").ok().filter(|s| !s.is_empty()).map(secret)
    };
    let secret_hint = "pipe it with --client-secret-stdin or set TOKCLI_CLIENT_SECRET; never pass it as a flag";
    if flow == Flow::ClientCredentials && client_secret.is_none() {
        return Err(Error::usage("the client credentials flow needs a client secret").hint(secret_hint).into());
    }
    match target.spec.secret {
        SecretNeed::Required if client_secret.is_none() && flow != Flow::Device => {
            return Err(Error::usage(format!("{} needs a client secret for this flow", target.spec.name))
                .hint(secret_hint)
                .into());
        }
        SecretNeed::Recommended if client_secret.is_none() => ctx.printer.warn(&format!(
            "{} usually needs the client secret of your app (it is not confidential for desktop clients); {secret_hint}",
            target.spec.name
        )),
        _ => {}
    }
    let auth = match (&client_secret, target.spec.client_auth) {
        (None, _) => ClientAuth::None,
        (Some(_), Some(m)) => m,
        (Some(_), None) => ClientAuth::Basic,
    };
    let client = Client { client_id: client_id.clone(), auth, secret: client_secret };
    // CR-02 for logins: find out now, before a code or an imported refresh token is spent, that
    // the grant can be stored (an unreadable store, a read-only home).
    match ctx.store()? {
        Some(store) => store.check_writable()?,
        None => crate::store::check_dir_writable(&ctx.settings.paths)?,
    }
    let scopes = scopes_for(settings.values.scopes.as_ref(), &target.spec, flow);
    let mut nonce = None;
    let mut used_redirect = None;
    let mut attempt = 0;
    let ts: TokenSet = loop {
        attempt += 1;
        let spec = &target.spec;
        let quirks = spec.quirks;
        let token_url = check_url("token_endpoint", &spec.token_endpoint)?;
        let http = ctx.http()?;
        let refresh_extra: Vec<(String, String)> = match (&spec.redirect_uri, quirks.redirect_uri_on_refresh) {
            (Some(r), true) => vec![("redirect_uri".to_owned(), r.clone())],
            _ => Vec::new(),
        };
        let result = match flow {
            Flow::Browser | Flow::Manual => authorization_code(
                ctx, a, &settings, spec, &client, &scopes, flow, &mut stdin, deadline,
            )
            .map(|(ts, n, r)| {
                nonce = n;
                used_redirect = Some(r);
                ts
            }),
            Flow::ClientCredentials => token::request_with(
                http,
                &token_url,
                &client,
                &GrantRequest::ClientCredentials { scope: Some(&scopes) },
                &[],
                &quirks,
                deadline,
                &mut |_, _| {},
            )
            .map_err(|e| e.into_error("the client credentials request", name.as_str())),
            Flow::RefreshToken => {
                let rt = secret(stdin.read("refresh token")?.to_string());
                token::request_with(
                    http,
                    &token_url,
                    &client,
                    &GrantRequest::Refresh { refresh_token: &rt, scope: None },
                    &refresh_extra,
                    &quirks,
                    deadline,
                    &mut |_, _| {},
                )
                .map_err(|e| e.into_error("validating the imported refresh token", name.as_str()))
                .map(|mut ts| {
                    if ts.refresh_token.is_none() {
                        ts.refresh_token = Some(rt);
                    }
                    ts
                })
            }
            Flow::Device => device(ctx, spec, &client, &scopes, deadline, &name),
        };
        match result {
            Ok(ts) => break ts,
            // The cached metadata may be stale: fetch it again; retry when nothing was consumed.
            Err(e) if e.class == Class::Unavailable && attempt == 1 && target.cached_issuer.is_some() => {
                let stale = target.cached_issuer.clone().unwrap_or_default();
                if let Ok(Some(s)) = ctx.store() {
                    let _ = s.forget_discovery(&stale);
                }
                let fresh = resolve_provider(ctx, &arg, &layers, &settings.values.params, true, deadline)?;
                let moved = fresh.spec.token_endpoint != target.spec.token_endpoint
                    || fresh.spec.device_endpoint != target.spec.device_endpoint
                    || fresh.spec.authorization_endpoint != target.spec.authorization_endpoint;
                target = fresh;
                if !moved {
                    return Err(e.into());
                }
                if flow != Flow::ClientCredentials {
                    return Err(e
                        .hint("the provider's endpoints changed since they were cached; run the login again")
                        .into());
                }
                ctx.printer.info("the provider's endpoints changed since they were cached; retrying");
            }
            Err(e) => return Err(e.into()),
        }
    };
    let spec = &target.spec;
    if let Some(id) = &ts.id_token {
        token::check_id_token(id, spec.issuer.as_deref(), &client_id, nonce.as_ref())?;
        // TE-10: the signature too, when the issuer publishes its keys. Without a jwks_uri (a
        // provider configured by endpoints, not discovery) TLS alone authenticates the token
        // endpoint's response, which OIDC Core §3.1.3.7 allows.
        match &spec.jwks_uri {
            Some(uri) => {
                crate::provider::jwks::check_signature(ctx.http()?, uri, id.expose_secret(), deadline)?;
                ctx.printer.debug(1, &format!("the ID token's signature verifies against {uri}"));
            }
            None => {
                ctx.printer.debug(1, "the provider publishes no jwks_uri; the ID token's signature was not checked")
            }
        }
    }
    if flow != Flow::ClientCredentials && ts.refresh_token.is_none() {
        ctx.printer.warn(&format!(
            "the provider issued no refresh token; `tokcli token {name}` will need a new login when this token expires"
        ));
    }
    let account = ts
        .id_token
        .as_ref()
        .and_then(|t| crate::model::jwt_claims(t.expose_secret()))
        .and_then(|c| ["email", "preferred_username", "sub"].iter().find_map(|k| c[*k].as_str().map(str::to_owned)))
        .or_else(|| (flow == Flow::ClientCredentials).then(|| client_id.clone()));
    let config = ProfileConfig {
        provider: spec.name.clone(),
        issuer: spec.issuer.clone(),
        authorization_endpoint: spec.authorization_endpoint.clone(),
        token_endpoint: spec.token_endpoint.clone(),
        revocation_endpoint: spec.revocation_endpoint.clone(),
        device_endpoint: spec.device_endpoint.clone(),
        client_id,
        client_auth: client.auth.as_str().to_owned(),
        scopes,
        flow: flow.stored_name().to_owned(),
        extra: profile_extra(spec, settings.values.min_valid, used_redirect.as_deref()),
    };
    let grant = Grant {
        secrets: Secrets {
            access_token: Some(ts.access_token),
            refresh_token: ts.refresh_token,
            id_token: ts.id_token,
            client_secret: client.secret.clone(),
        },
        account: account.clone(),
        token_type: ts.token_type,
        granted_scope: ts.scope,
        expires_at: ts.expires_at,
        obtained_at: ts.obtained_at,
    };
    let store = ctx.store_or_create()?;
    let _lock = store.lock(
        &name,
        Instant::now() + Duration::from_secs(30).max(deadline.saturating_duration_since(Instant::now())),
    )?;
    crate::hooks::point("login:before_store");
    store.save_login(&name, &config, &grant)?;
    if let Some((issuer, doc)) = &target.fetched
        && let Err(e) = store.put_discovery(issuer, doc, now())
    {
        ctx.printer.debug(1, &format!("could not cache the metadata of {issuer}: {}", e.message));
    }
    ctx.printer.info(&format!(
        "Logged in to {name} as {}, token valid for {}",
        account.as_deref().unwrap_or("an unnamed account"),
        human_secs(grant.expires_at - now())
    ));
    if a.json {
        let stored = store.get(&name)?.ok_or_else(|| Error::internal("the profile just stored cannot be read back"))?;
        ctx.printer
            .data(&serde_json::to_string_pretty(&super::list::profile_json(&stored, store.key_is_insecure()))?)?;
    }
    Ok(())
}

/// MD-05 (RFC 9207 §4): two authorization servers must not share an issuer identifier, or the
/// `iss` of an authorization response could not tell them apart (mix-up). A login is refused
/// before anything is sent when another profile holds the same issuer with another token
/// endpoint. Logging the same profile in again is how its endpoints are updated.
fn check_issuer_unique(ctx: &Ctx, name: &ProfileName, spec: &ProviderSpec) -> Result<(), Error> {
    let Some(issuer) = &spec.issuer else { return Ok(()) };
    let Some(store) = ctx.store()? else { return Ok(()) };
    let clash = store.list()?.into_iter().find(|p| {
        p.name != name.as_str()
            && p.config.issuer.as_ref() == Some(issuer)
            && p.config.token_endpoint != spec.token_endpoint
    });
    match clash {
        None => Ok(()),
        Some(p) => Err(Error::usage(format!(
            "the issuer {issuer} is already used by profile {} with the token endpoint {}, not {}",
            p.name, p.config.token_endpoint, spec.token_endpoint
        ))
        .hint(format!(
            "two providers cannot share an issuer identifier (RFC 9207): fix the issuer or token_endpoint in config.toml, \
or, if the provider moved its endpoints, log {} in again first",
            p.name
        ))),
    }
}

/// The profile's `extra` JSON: the provider's quirks, the preset, the `[profiles.P] min_valid`,
/// the revocation note, and token parameters every refresh must repeat.
fn profile_extra(spec: &ProviderSpec, min_valid: Option<i64>, redirect: Option<&str>) -> String {
    let mut extra = serde_json::Map::new();
    if spec.quirks != Quirks::default() {
        extra.insert("quirks".into(), serde_json::json!(spec.quirks));
    }
    if let Some(p) = &spec.preset {
        extra.insert("preset".into(), p.clone().into());
    }
    if let Some(m) = min_valid {
        extra.insert("min_valid".into(), m.into());
    }
    if let Some(n) = &spec.revocation_note {
        extra.insert("revocation_note".into(), n.clone().into());
    }
    if let Some(j) = &spec.jwks_uri {
        extra.insert("jwks_uri".into(), j.clone().into());
    }
    if spec.quirks.redirect_uri_on_refresh
        && let Some(r) = redirect
    {
        extra.insert("token_params".into(), serde_json::json!({ "redirect_uri": r }));
    }
    serde_json::Value::Object(extra).to_string()
}

/// Where the browser is sent back to.
enum Redirect {
    /// The loopback listener: `http://{host}:{port}{path}`.
    Loopback { host: String, path: String, ports: Vec<u16> },
    /// A fixed URI the user copies from (`urn:ietf:wg:oauth:2.0:oob`, an https page, a scheme).
    Fixed(String),
}

impl Redirect {
    fn of(spec: &ProviderSpec, ports: &[u16]) -> Self {
        if let Some(uri) = fixed_remote_redirect(spec) {
            return Redirect::Fixed(uri.to_owned());
        }
        // A fixed loopback redirect_uri gives host, port and path.
        if let Some(u) = spec.redirect_uri.as_deref().and_then(|u| Url::parse(u).ok()) {
            return Redirect::Loopback {
                host: u.host_str().unwrap_or("127.0.0.1").to_owned(),
                path: u.path().to_owned(),
                ports: if ports.is_empty() { u.port().into_iter().collect() } else { ports.to_vec() },
            };
        }
        Redirect::Loopback {
            host: spec.redirect_host.clone().unwrap_or_else(|| "127.0.0.1".to_owned()),
            path: spec.redirect_path.clone().unwrap_or_else(|| loopback::CALLBACK_PATH.to_owned()),
            ports: ports.to_vec(),
        }
    }
}

/// The browser and manual flows. Returns the tokens, the nonce sent, and the redirect URI used.
#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
fn authorization_code(
    ctx: &Ctx,
    a: &LoginArgs,
    settings: &config::Resolved,
    spec: &ProviderSpec,
    client: &Client,
    scopes: &str,
    flow: Flow,
    stdin: &mut Stdin,
    deadline: Instant,
) -> Result<(TokenSet, Option<SecretString>, String), Error> {
    let auth_endpoint = spec.authorization_endpoint.as_deref().ok_or_else(|| {
        Error::usage(format!("{} has no authorization endpoint", spec.name))
            .hint("use --device or --client-credentials")
    })?;
    let mut auth_url = check_url("authorization_endpoint", auth_endpoint)?;
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let verifier = (spec.pkce == Pkce::S256).then(|| secret(verifier.secret().clone()));
    let state = secret(oauth2::CsrfToken::new_random_len(32).secret().clone());
    let nonce = scopes
        .split(' ')
        .any(|s| s == "openid")
        .then(|| secret(oauth2::CsrfToken::new_random_len(32).secret().clone()));
    let ports = settings.values.ports.clone().unwrap_or_else(|| spec.ports.clone());
    let plan = Redirect::of(spec, &ports);
    let listener = match (&plan, flow) {
        (Redirect::Loopback { host, path, ports }, Flow::Browser) => Some(loopback::bind_at(ports, host, path)?),
        _ => None,
    };
    let redirect_uri = match (&listener, &plan) {
        (Some(l), _) => l.redirect_uri.clone(),
        (None, Redirect::Fixed(uri)) => uri.clone(),
        (None, Redirect::Loopback { host, path, ports }) => match ports.first() {
            Some(p) => format!("http://{host}:{p}{path}"),
            None => format!("http://{host}{path}"),
        },
    };
    let oob = is_oob(&redirect_uri);
    {
        let mut q = auth_url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("state", state.expose_secret());
        if verifier.is_some() {
            q.append_pair("code_challenge", challenge.as_str()).append_pair("code_challenge_method", "S256");
        }
        if !scopes.is_empty() {
            let joined = match &spec.scope_separator {
                Some(sep) => scopes.split(' ').collect::<Vec<_>>().join(sep),
                None => scopes.to_owned(),
            };
            q.append_pair(spec.scope_param.as_deref().unwrap_or("scope"), &joined);
        }
        if let Some(n) = &nonce {
            q.append_pair("nonce", n.expose_secret());
        }
        for (k, v) in &spec.auth_params {
            q.append_pair(k, v);
        }
    }
    let expect = Expect { state: &state, issuer: spec.issuer.as_deref(), iss_required: spec.iss_parameter_supported };
    let code = match listener {
        Some(listener) => {
            ctx.printer.info(&format!("Open this URL in your browser to log in:\n\n  {auth_url}\n"));
            if !a.no_browser
                && let Err(e) = loopback::open_browser(auth_url.as_str())
            {
                ctx.printer.warn(&format!("could not start a browser ({e}); open the URL above yourself"));
            }
            let spinner = ctx.printer.spinner("Waiting for the browser…");
            let r = listener.wait(&expect, deadline, |why| {
                ctx.printer.debug(1, &format!("ignored {why} on the loopback listener"))
            });
            if let Some(s) = spinner {
                s.finish_and_clear();
            }
            r?
        }
        None if oob => {
            ctx.printer.info(&format!(
                "Open this URL in a browser and approve; {} then shows a code. Paste the code here and press \
Enter:\n\n  {auth_url}\n",
                spec.name
            ));
            if std::io::stdin().is_terminal() {
                ctx.printer.info("Code: ");
            }
            let line = stdin.read("authorization code")?;
            pasted_code(ctx, &line, &expect, &redirect_uri, true)?
        }
        None => {
            ctx.printer.info(&format!(
                "Open this URL in a browser, approve, then paste the full address you are redirected to \
(it starts with {redirect_uri}) here and press Enter:\n\n  {auth_url}\n"
            ));
            if std::io::stdin().is_terminal() {
                ctx.printer.info("Redirect URL: ");
            }
            let line = stdin.read("redirect URL")?;
            pasted_code(ctx, &line, &expect, &redirect_uri, false)?
        }
    };
    drop(state);
    let token_url = check_url("token_endpoint", &spec.token_endpoint)?;
    let ts = token::request_with(
        ctx.http()?,
        &token_url,
        client,
        &GrantRequest::AuthorizationCode { code: &code, redirect_uri: &redirect_uri, verifier: verifier.as_ref() },
        &[],
        &spec.quirks,
        deadline,
        &mut |_, _| {},
    )
    .map_err(|e| {
        let err = e.into_error("exchanging the authorization code", "…");
        if err.class == Class::Relogin { Error::login(err.message).hint("start the login again") } else { err }
    })?;
    Ok((ts, nonce, redirect_uri))
}

/// The authorization code in a pasted line: a redirect URL (its `state` is checked), or, for an
/// out-of-band redirect, the bare code the provider showed (there is no `state` to check).
fn pasted_code(
    ctx: &Ctx,
    line: &str,
    expect: &Expect<'_>,
    redirect_uri: &str,
    oob: bool,
) -> Result<SecretString, Error> {
    let unchecked = |code: &str| -> Result<SecretString, Error> {
        if !is_safe_token(code) {
            return Err(Error::login("the pasted code contains spaces or control characters")
                .hint("paste only the code the provider shows"));
        }
        ctx.printer.warn(
            "note: a pasted code carries no state, so tokcli cannot check that it comes from this login; paste \
only the code shown after approving the URL above",
        );
        Ok(secret(code.to_owned()))
    };
    let looks_like_url = line.starts_with("http://") || line.starts_with("https://");
    if oob && !looks_like_url {
        return unchecked(line);
    }
    let url = Url::parse(line).map_err(|_| {
        Error::login("the pasted text is not the redirect URL")
            .hint(format!("paste the whole address starting with {redirect_uri}"))
    })?;
    let parsed = loopback::parse_query(url.query().unwrap_or(""))
        .ok_or_else(|| Error::login("the pasted URL repeats a parameter"))?;
    if oob
        && !parsed.contains_key("state")
        && let Some(code) = parsed.get("code")
    {
        return unchecked(code);
    }
    match loopback::check_callback(&parsed, expect) {
        Verdict::Code(c) => Ok(c),
        Verdict::Fail(e) => Err(e),
        Verdict::Ignore(why) => Err(Error::login(format!("the pasted URL does not belong to this login ({why})"))
            .hint("paste the redirect of the URL printed by this run of tokcli")),
    }
}

#[derive(serde::Deserialize)]
struct DeviceAuth {
    device_code: String,
    user_code: String,
    verification_uri: Option<String>,
    verification_url: Option<String>,
    verification_uri_complete: Option<String>,
    expires_in: Option<i64>,
    interval: Option<u64>,
}

/// RFC 8628 device authorization grant (DG-01..DG-05).
fn device(
    ctx: &Ctx,
    spec: &ProviderSpec,
    client: &Client,
    scopes: &str,
    deadline: Instant,
    name: &ProfileName,
) -> Result<TokenSet, Error> {
    let endpoint = spec.device_endpoint.as_deref().ok_or_else(|| {
        Error::usage(format!("{} has no device authorization endpoint", spec.name))
            .hint("use the browser flow or --manual")
    })?;
    let url = check_url("device_authorization_endpoint", endpoint)?;
    let http = ctx.http()?;
    let mut form = vec![("client_id", client.client_id.as_str())];
    if !scopes.is_empty() {
        form.push(("scope", scopes));
    }
    let resp = http.post_form(&url, &form, &crate::provider::http::Auth::None, deadline).map_err(|e| {
        Error::unavailable(format!("the device authorization request failed: {}", e.describe())).hint("try again later")
    })?;
    if resp.status != 200 || !resp.is_json() {
        let code = serde_json::from_slice::<serde_json::Value>(&resp.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(crate::error::sanitize_provider_text))
            .unwrap_or_default();
        let class = if resp.status >= 500 { Class::Unavailable } else { Class::Usage };
        return Err(Error::new(
            class,
            format!("the device authorization request was refused (HTTP {}) {code}", resp.status),
        )
        .hint("check the client id and that the client may use the device flow"));
    }
    let da: DeviceAuth = serde_json::from_slice(&resp.body)
        .map_err(|e| Error::usage(format!("malformed device authorization response: {e}")))?;
    let verification = da
        .verification_uri
        .or(da.verification_url)
        .ok_or_else(|| Error::usage("the device authorization response has no verification_uri"))?;
    let user_code = crate::error::sanitize_provider_text(&da.user_code);
    ctx.printer.info(&format!(
        "To log in, open {} and enter the code: {user_code}",
        crate::error::sanitize_provider_text(&verification)
    ));
    if let Some(c) = &da.verification_uri_complete {
        ctx.printer.info(&format!("(or open {} directly)", crate::error::sanitize_provider_text(c)));
    }
    let device_code = secret(da.device_code);
    let expires = Instant::now() + Duration::from_secs(da.expires_in.unwrap_or(600).max(1).unsigned_abs());
    let stop = expires.min(deadline);
    let mut interval = Duration::from_secs(da.interval.unwrap_or(5).max(1));
    let spinner = ctx.printer.spinner("Waiting for approval…");
    let token_url = check_url("token_endpoint", &spec.token_endpoint)?;
    let result = loop {
        if Instant::now() + interval >= stop {
            break Err(
                Error::login("the device code expired before the login was approved").hint("run the login again")
            );
        }
        if let Some(s) = &spinner {
            s.set_message(format!(
                "Waiting for approval… ({} left)",
                human_secs(stop.saturating_duration_since(Instant::now()).as_secs() as i64)
            ));
        }
        std::thread::sleep(interval);
        match token::request_with(
            http,
            &token_url,
            client,
            &GrantRequest::DeviceCode { device_code: &device_code },
            &[],
            &spec.quirks,
            stop,
            &mut |_, _| {},
        ) {
            Ok(ts) => break Ok(ts),
            Err(TokenError::Pending) => {}
            Err(TokenError::SlowDown) => interval += Duration::from_secs(5),
            Err(TokenError::Transient { .. }) => interval = (interval * 2).min(Duration::from_secs(60)),
            Err(TokenError::Denied(d)) => {
                break Err(Error::login(format!("the device login ended: {d}")).hint("run the login again"));
            }
            Err(e) => break Err(e.into_error("the device login", name.as_str())),
        }
    };
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    result
}
