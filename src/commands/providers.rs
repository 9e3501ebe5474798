//! `tokcli providers`: the built-in presets and the providers of config.toml, as `login` would use
//! them. Reads config.toml; never the network or the store.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Ctx;
use crate::cli::ProvidersArgs;
use crate::config::Config;
use crate::provider::Pkce;
use crate::provider::presets::{self, ProviderLayer};

/// The stable JSON shape of `tokcli providers --json`: an array, presets first (in the order of
/// `presets::NAMES`), then the other `[providers.NAME]` entries by name. One object per name that
/// `tokcli login NAME` accepts; an entry of config.toml named like a preset replaces the preset's
/// row (it builds on it).
///
/// ```json
/// {
///   "name": "microsoft",
///   "source": "preset",                 // or "config"
///   "preset": "microsoft",              // the preset it builds on, or null
///   "description": "…",
///   "issuer": null,                     // set: discovered at login (endpoints below may be null)
///   "authorization_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
///   "token_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
///   "device_authorization_endpoint": "…",
///   "revocation_endpoint": null,
///   "revocation_note": "Microsoft has no revocation endpoint; …",
///   "default_scopes": ["openid", "profile"],
///   "offline_scope": "offline_access",  // added to every user login, or null
///   "client_auth": "client_secret_post", // used when a secret is given; null means client_secret_basic
///   "secret": "optional",               // "optional" | "recommended" | "required"
///   "pkce": true,
///   "params": {"tenant": "common"},     // template parameters and their defaults (null: required)
///   "auth_params": {},                  // extra authorization parameters sent by default
///   "redirect_uri": "http://localhost:{port}/callback", // or a fixed URI such as urn:ietf:wg:oauth:2.0:oob
///   "ports": [],                        // fixed loopback ports, empty for any port
///   "default_flow": "browser",          // "browser" | "manual" | "device" | "client_credentials"
///   "quirks": {"user_token_in_authed_user": false, "redirect_uri_on_refresh": false},
///   "client_id": null                   // from config.toml only
/// }
/// ```
///
/// Endpoints show the default parameter values filled in; a placeholder without a default stays
/// as `{name}` (azure's `{tenant}`).
#[must_use]
pub fn provider_json(name: &str, source: &str, layer: &ProviderLayer) -> Value {
    let spec = match layer.to_spec(name, &layer.params, false) {
        Ok(s) => s,
        Err(e) => return json!({ "name": name, "source": source, "error": e.message }),
    };
    let placeholders = layer.placeholders();
    let params: BTreeMap<&String, Value> = placeholders
        .iter()
        .map(|p| (p, layer.params.get(p).filter(|v| !v.is_empty()).map_or(Value::Null, |v| json!(v))))
        .collect();
    let auth_params: BTreeMap<&String, &String> = spec.auth_params.iter().map(|(k, v)| (k, v)).collect();
    let redirect_uri = spec.redirect_uri.clone().unwrap_or_else(|| {
        let host = spec.redirect_host.as_deref().unwrap_or("127.0.0.1");
        let path = spec.redirect_path.as_deref().unwrap_or(crate::loopback::CALLBACK_PATH);
        match spec.ports.first() {
            Some(p) => format!("http://{host}:{p}{path}"),
            None => format!("http://{host}:{{port}}{path}"),
        }
    });
    let has_user_flow = spec.authorization_endpoint.is_some() || spec.device_endpoint.is_some();
    json!({
        "name": name,
        "source": source,
        "preset": spec.preset,
        "description": layer.description,
        "issuer": spec.issuer,
        "authorization_endpoint": spec.authorization_endpoint,
        "token_endpoint": (!spec.token_endpoint.is_empty()).then_some(&spec.token_endpoint),
        "device_authorization_endpoint": spec.device_endpoint,
        "revocation_endpoint": spec.revocation_endpoint,
        "revocation_note": spec.revocation_note,
        "default_scopes": spec.default_scopes,
        "offline_scope": spec.offline_scope,
        "client_auth": spec.client_auth.map(|c| c.as_str()),
        "secret": spec.secret,
        "pkce": spec.pkce == Pkce::S256,
        "params": params,
        "auth_params": auth_params,
        "redirect_uri": has_user_flow.then_some(redirect_uri),
        "ports": spec.ports,
        "default_flow": spec.default_flow.map_or("browser", |f| f.as_str()),
        "quirks": spec.quirks,
        "client_id": layer.client_id,
    })
}

/// Every provider `login` accepts by name, in display order: `(name, source, merged layer)`.
#[must_use]
pub fn all(cfg: &Config) -> Vec<(String, &'static str, ProviderLayer)> {
    let mut names: Vec<String> = presets::NAMES.iter().map(|n| (*n).to_owned()).collect();
    names.extend(cfg.providers.keys().filter(|k| !presets::NAMES.contains(&k.as_str())).cloned());
    names
        .into_iter()
        .filter_map(|n| {
            let (preset, entry) = cfg.provider_layers(&n)?;
            let source = if entry.is_some() { "config" } else { "preset" };
            let layer = match (preset, entry) {
                (Some(p), Some(e)) => p.merge(e),
                (Some(p), None) => p,
                (None, Some(e)) => e.clone(),
                (None, None) => return None,
            };
            Some((n, source, layer))
        })
        .collect()
}

pub fn run(ctx: &Ctx, a: &ProvidersArgs) -> anyhow::Result<()> {
    let cfg = Config::load(&ctx.settings.config_file)?;
    let rows = all(&cfg);
    if a.json {
        let v: Vec<Value> = rows.iter().map(|(n, s, l)| provider_json(n, s, l)).collect();
        return ctx.printer.data(&serde_json::to_string_pretty(&v)?);
    }
    let views: Vec<(String, &str, String, String)> = rows
        .iter()
        .map(|(n, s, l)| {
            let v = provider_json(n, s, l);
            let flow = v["default_flow"].as_str().unwrap_or("browser").to_owned();
            let endpoint = v["token_endpoint"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| v["issuer"].as_str().map(|i| format!("{i} (discovered)")))
                .unwrap_or_default();
            (n.clone(), *s, flow, endpoint)
        })
        .collect();
    let w = views.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
    let mut out = format!("{:<w$}  {:<6}  {:<18}  TOKEN ENDPOINT", "NAME", "SOURCE", "DEFAULT FLOW");
    for (n, s, f, e) in &views {
        out.push_str(&format!("\n{n:<w$}  {s:<6}  {f:<18}  {e}"));
    }
    ctx.printer.data(&out)?;
    ctx.printer
        .info(&format!("\nDetails: tokcli providers --json. Add or override providers in {}.", cfg.path.display()));
    Ok(())
}
