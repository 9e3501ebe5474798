//! `config.toml`: provider entries and profile defaults, and the one written precedence of every
//! login setting. Read only by the commands that need it (`login`, `providers`); never by `token`.
//!
//! The file is `$TOKCLI_HOME/config.toml`, else `$XDG_CONFIG_HOME/tokcli/config.toml`
//! (`Settings::config_file`). A missing file is an empty configuration; a broken one is exit 2
//! with the file, the line and what is wrong.
//!
//! ```toml
//! # A provider of its own, discovered from its issuer (cached in the store for a day).
//! [providers.corp]
//! issuer = "https://login.corp.example"
//! client_id = "tokcli-corp"
//!
//! # A preset with its endpoints redirected; quirks and defaults still come from the preset.
//! [providers.ghe]
//! preset = "github"
//! params = { base_url = "https://github.example.com" }
//!
//! # Overriding an unconfirmed value of a preset: an entry named like a preset builds on it.
//! [providers.alarmbox]
//! revocation_endpoint = "https://api.alarmbox.jp/oauth/revoke"
//!
//! [profiles.work]
//! provider = "microsoft"
//! client_id = "00000000-0000-0000-0000-000000000000"
//! scopes = ["User.Read", "Mail.Read"]
//! min_valid = "10m"
//! params = { tenant = "contoso.onmicrosoft.com" }
//! ```
//!
//! `[providers.NAME]` takes the fields of [`ProviderLayer`]: `preset`, `issuer`, `client_id`,
//! `authorization_endpoint`, `token_endpoint`, `revocation_endpoint`,
//! `device_authorization_endpoint`, `scopes`, `offline_scope`, `client_auth`, `secret`, `pkce`,
//! `params`, `scope_param`, `scope_separator`, `redirect_host`, `redirect_path`, `redirect_uri`,
//! `ports`, `flow`, `revocation_note`, `user_token_in_authed_user`, `lifetime_when_absent`,
//! `redirect_uri_on_refresh`, `description`. `[profiles.NAME]` takes [`ProfileDefaults`].
//! Secrets never go in this file.
//!
//! # Precedence
//!
//! Strongest first; the first source that sets a value wins. `params` merge key by key in the
//! same order (an empty value removes a key), and so do the provider layers of
//! [`crate::provider::presets`].
//!
//! | setting | CLI | env | `[profiles.P]` | `[providers.N]` | discovery | preset |
//! |---|---|---|---|---|---|---|
//! | provider | `PROVIDER` argument | — | `provider` | — | — | — |
//! | client id | `--client-id` | `TOKCLI_CLIENT_ID` | `client_id` | `client_id` | — | — |
//! | client secret | `--client-secret-stdin` | `TOKCLI_CLIENT_SECRET` | never | never | — | — |
//! | scopes | `--scope` | — | `scopes` | `scopes` | `openid offline_access` if offered | `scopes` |
//! | params | `--param K=V` | — | `params` | `params` | — | `params` |
//! | flow | `--device`, `--manual`, … | — | `flow` | `flow` | — | `flow` |
//! | ports | `--port` | — | — | `ports` | — | `ports` |
//! | min valid | `token --min-valid` | — | `min_valid` (stored at login) | — | — | 5m or half the lifetime |
//! | endpoints, quirks | — | — | — | the fields | the metadata | the fields |
//!
//! [`resolve`] applies the rule to the login settings; its table-driven test is the executable
//! form of this table. clap folds `TOKCLI_CLIENT_ID` into the `--client-id` value with the same
//! order, so login passes an empty env layer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::Error;
use crate::provider::FlowKind;
use crate::provider::presets::{self, ProviderLayer, Scopes};

/// `[profiles.NAME]`: defaults for one profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDefaults {
    /// A preset, a `[providers.N]` entry or an issuer URL.
    pub provider: Option<Spanned<String>>,
    pub client_id: Option<String>,
    pub scopes: Option<Scopes>,
    /// Default `token --min-valid` for this profile, stored with it at login.
    #[serde(default, deserialize_with = "de_duration")]
    pub min_valid: Option<i64>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    pub flow: Option<FlowKind>,
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error as _;
    Option::<String>::deserialize(d)?
        .map(|s| {
            crate::model::parse_duration(&s)
                .map_err(|e| D::Error::custom(e.message))
                .and_then(|d| i64::try_from(d.as_secs()).map_err(D::Error::custom))
        })
        .transpose()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    providers: BTreeMap<Spanned<String>, Spanned<ProviderLayer>>,
    #[serde(default)]
    profiles: BTreeMap<Spanned<String>, ProfileDefaults>,
}

/// The parsed, validated configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where it was read from (it may not exist).
    pub path: PathBuf,
    pub providers: BTreeMap<String, ProviderLayer>,
    pub profiles: BTreeMap<String, ProfileDefaults>,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn broken(path: &Path, text: &str, offset: Option<usize>, what: &str) -> Error {
    let place = match offset {
        Some(o) => {
            let (l, c) = line_col(text, o);
            format!("{}:{l}:{c}", path.display())
        }
        None => path.display().to_string(),
    };
    let what = what.trim().replace('\n', " ");
    Error::usage(format!("invalid configuration {place}: {what}"))
        .hint(format!("fix {} (the format is in docs/providers.md), or move it aside", path.display()))
}

/// A provider name usable as `tokcli login NAME`.
fn valid_provider_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Config {
    /// Reads and validates `path`; a missing file is an empty configuration.
    ///
    /// # Errors
    /// Exit 2 naming the file and line for syntax, type and reference errors, or the file for
    /// read errors.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config { path: path.to_owned(), ..Config::default() });
            }
            Err(e) => return Err(broken(path, "", None, &format!("cannot read it: {e}"))),
        };
        Self::parse(path, &text)
    }

    /// Parses and validates the text of a config file read from `path`.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse(path: &Path, text: &str) -> Result<Config, Error> {
        let file: File =
            toml::from_str(text).map_err(|e| broken(path, text, e.span().map(|s| s.start), e.message()))?;
        let mut providers = BTreeMap::new();
        for (name, layer) in file.providers {
            let at = Some(name.span().start);
            let name = name.into_inner();
            if !valid_provider_name(&name) {
                return Err(broken(
                    path,
                    text,
                    at,
                    &format!("provider name {name:?}: use letters, digits, '.', '_', '-'"),
                ));
            }
            let mut layer = layer.into_inner();
            // An entry named like a preset builds on it (an unknown `preset` failed to parse).
            if layer.preset.is_none() && presets::preset(&name).is_some() {
                layer.preset = Some(name.clone());
            }
            if layer.preset.is_none() && layer.issuer.is_none() && layer.token_endpoint.is_none() {
                return Err(broken(
                    path,
                    text,
                    at,
                    &format!("[providers.{name}] needs `preset`, `issuer` (for discovery) or `token_endpoint`"),
                ));
            }
            providers.insert(name, layer);
        }
        let mut profiles = BTreeMap::new();
        for (name, defaults) in file.profiles {
            let at = Some(name.span().start);
            let name = name.into_inner();
            if let Err(e) = crate::model::ProfileName::parse(&name) {
                return Err(broken(path, text, at, &e.message));
            }
            if let Some(p) = &defaults.provider {
                let v = p.get_ref();
                let known = presets::preset(v).is_some() || providers.contains_key(v);
                let url_ok = v.contains("://") && crate::provider::http::check_url("issuer", v).is_ok();
                if !known && !url_ok {
                    return Err(broken(
                        path,
                        text,
                        Some(p.span().start),
                        &format!(
                            "[profiles.{name}] provider {v:?} is neither a preset, a [providers.*] entry nor an https issuer URL"
                        ),
                    ));
                }
            }
            profiles.insert(name, defaults);
        }
        Ok(Config { path: path.to_owned(), providers, profiles })
    }

    /// The layers of provider `name`, lowest first, without discovery: its preset (if any), then
    /// its `[providers.NAME]` entry (if any). `None` when it is neither.
    #[must_use]
    pub fn provider_layers(&self, name: &str) -> Option<(Option<ProviderLayer>, Option<&ProviderLayer>)> {
        let entry = self.providers.get(name);
        let preset_name = entry.and_then(|e| e.preset.as_deref()).unwrap_or(name);
        let mut preset = presets::preset(preset_name);
        if let Some(p) = &mut preset {
            p.preset = Some(preset_name.to_owned());
        }
        if preset.is_none() && entry.is_none() {
            return None;
        }
        Some((preset, entry))
    }
}

/// Where a resolved login setting came from, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Cli,
    Env,
    /// `[profiles.P]` of config.toml.
    ProfileFile,
    /// `[providers.N]` of config.toml.
    ProviderFile,
    Preset,
}

/// One source's values of the login settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer {
    pub client_id: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub flow: Option<FlowKind>,
    pub ports: Option<Vec<u16>>,
    pub min_valid: Option<i64>,
    pub params: BTreeMap<String, String>,
}

impl Layer {
    /// The login settings a `[profiles.P]` table gives.
    #[must_use]
    pub fn from_profile(p: &ProfileDefaults) -> Self {
        Self {
            client_id: p.client_id.clone(),
            scopes: p.scopes.as_ref().map(Scopes::to_vec),
            flow: p.flow,
            ports: None,
            min_valid: p.min_valid,
            params: p.params.clone(),
        }
    }
    /// The login settings a provider layer (a preset or a `[providers.N]` table) gives.
    #[must_use]
    pub fn from_provider(p: &ProviderLayer) -> Self {
        Self {
            client_id: p.client_id.clone(),
            scopes: p.scopes.as_ref().map(Scopes::to_vec),
            flow: p.flow,
            ports: p.ports.clone(),
            min_valid: None,
            params: p.params.clone(),
        }
    }
}

/// The login settings after [`resolve`], with the source of each single value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub values: Layer,
    pub client_id_from: Option<Source>,
    pub scopes_from: Option<Source>,
    pub flow_from: Option<Source>,
    pub ports_from: Option<Source>,
    pub min_valid_from: Option<Source>,
}

/// Applies the precedence of the module docs: `layers` in any order; for each setting the
/// strongest source that sets it wins, and `params` merge key by key (the strongest value of a
/// key wins; an empty value then removes the key).
#[must_use]
pub fn resolve(layers: &[(Source, &Layer)]) -> Resolved {
    let mut sorted: Vec<&(Source, &Layer)> = layers.iter().collect();
    sorted.sort_by_key(|(s, _)| *s);
    fn first<T: Clone>(sorted: &[&(Source, &Layer)], f: impl Fn(&Layer) -> Option<&T>) -> (Option<T>, Option<Source>) {
        sorted.iter().find_map(|(s, l)| f(l).map(|v| (Some(v.clone()), Some(*s)))).unwrap_or((None, None))
    }
    let (client_id, client_id_from) = first(&sorted, |l| l.client_id.as_ref().filter(|c| !c.is_empty()));
    let (scopes, scopes_from) = first(&sorted, |l| l.scopes.as_ref());
    let (flow, flow_from) = first(&sorted, |l| l.flow.as_ref());
    let (ports, ports_from) = first(&sorted, |l| l.ports.as_ref().filter(|p| !p.is_empty()));
    let (min_valid, min_valid_from) = first(&sorted, |l| l.min_valid.as_ref());
    let mut params = BTreeMap::new();
    for (_, l) in sorted.iter().rev() {
        params.extend(l.params.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Resolved {
        values: Layer { client_id, scopes, flow, ports, min_valid, params },
        client_id_from,
        scopes_from,
        flow_from,
        ports_from,
        min_valid_from,
    }
}

/// The `[profiles.P] min_valid` stored with a profile at login (`extra.min_valid`, seconds).
/// `token` uses it when `--min-valid` is absent; reading it costs no file access.
#[must_use]
pub fn stored_min_valid(extra: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(extra).ok()?.get("min_valid")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Error> {
        Config::parse(Path::new("/home/u/.config/tokcli/config.toml"), text)
    }

    #[track_caller]
    fn fails_at(text: &str, line: usize, what: &str) {
        let e = parse(text).unwrap_err();
        assert_eq!(e.class, crate::error::Class::Usage);
        let want = format!("/home/u/.config/tokcli/config.toml:{line}:");
        assert!(e.message.contains(&want), "{want} not in {}", e.message);
        assert!(e.message.contains(what), "{what:?} not in {}", e.message);
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        fails_at("[providers.a]\npreset = \"github\"\ntokn_endpoint = \"https://x\"\n", 3, "tokn_endpoint");
        fails_at("[providers.a]\ntoken_endpoint = \"http://example.com/t\"\n", 2, "plain-http");
        fails_at("[providers.a]\npreset = \"gitbub\"\n", 2, "gitbub");
        fails_at("\n[providers.a]\nscopes = [\"x\"]\n", 2, "needs `preset`");
        fails_at("[profiles.w]\nprovider = \"nowhere\"\n", 2, "nowhere");
        fails_at("[profiles.w]\nmin_valid = \"soon\"\n", 2, "soon");
        fails_at("[profiles.w]\nmin_valid = \"10m\"\nflow = \"telepathy\"\n", 3, "telepathy");
        fails_at("[providers.a]\npreset = \"x\"\nclient_auth = \"magic\"\n", 3, "magic");
        fails_at("[providers.a]\npreset = \"x\"\nredirect_host = \"0.0.0.0\"\n", 3, "redirect_host");
        fails_at("[providers.a\n", 1, "");
        fails_at("[profiles.\".bad\"]\nclient_id = \"c\"\n", 1, "invalid profile name");
    }

    #[test]
    fn parses_providers_and_profiles() {
        let c = parse(
            r#"
[providers.ghe]
preset = "github"
params = { base_url = "https://github.example.com" }

[providers.alarmbox]
revocation_endpoint = "https://api.alarmbox.jp/oauth/revoke"

[providers.corp]
issuer = "https://login.corp.example"
client_id = "corp-cli"

[profiles.work]
provider = "ghe"
scopes = "repo read:org"
min_valid = "10m"
"#,
        )
        .unwrap();
        assert_eq!(c.providers["alarmbox"].preset.as_deref(), Some("alarmbox"), "a preset's name implies it");
        let (preset, entry) = c.provider_layers("ghe").unwrap();
        let merged = preset.unwrap().merge(entry.unwrap());
        let s = merged.to_spec("ghe", &merged.params, true).unwrap();
        assert_eq!(s.token_endpoint, "https://github.example.com/login/oauth/access_token");
        assert_eq!(s.quirks.lifetime_when_absent, Some(365 * 86_400));
        let w = &c.profiles["work"];
        assert_eq!(w.min_valid, Some(600));
        assert_eq!(w.scopes.as_ref().unwrap().to_vec(), ["repo", "read:org"]);
        assert!(c.provider_layers("nowhere").is_none());
        assert!(c.provider_layers("google").is_some());
    }

    fn layer(client_id: Option<&str>, scopes: Option<&str>, params: &[(&str, &str)]) -> Layer {
        Layer {
            client_id: client_id.map(str::to_owned),
            scopes: scopes.map(|s| s.split(' ').map(str::to_owned).collect()),
            params: params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..Layer::default()
        }
    }

    /// The precedence table of the module docs, case by case: CLI > env > file > preset.
    #[test]
    fn precedence_cases() {
        use Source::{Cli, Env, Preset, ProfileFile, ProviderFile};
        struct Case {
            what: &'static str,
            layers: Vec<(Source, Layer)>,
            client_id: Option<(&'static str, Source)>,
            scopes: Option<(&'static str, Source)>,
            params: &'static [(&'static str, &'static str)],
        }
        let cases = vec![
            Case {
                what: "CLI beats everything",
                layers: vec![
                    (Preset, layer(Some("p"), Some("ps"), &[("prompt", "consent")])),
                    (ProviderFile, layer(Some("n"), Some("ns"), &[])),
                    (ProfileFile, layer(Some("f"), Some("fs"), &[])),
                    (Env, layer(Some("e"), None, &[])),
                    (Cli, layer(Some("c"), Some("cs"), &[("prompt", "none")])),
                ],
                client_id: Some(("c", Cli)),
                scopes: Some(("cs", Cli)),
                params: &[("prompt", "none")],
            },
            Case {
                what: "env beats the file",
                layers: vec![(ProfileFile, layer(Some("f"), None, &[])), (Env, layer(Some("e"), None, &[]))],
                client_id: Some(("e", Env)),
                scopes: None,
                params: &[],
            },
            Case {
                what: "profile table beats provider table beats preset",
                layers: vec![
                    (Preset, layer(None, Some("ps"), &[("access_type", "offline"), ("prompt", "consent")])),
                    (ProviderFile, layer(Some("n"), Some("ns"), &[("tenant", "t1")])),
                    (ProfileFile, layer(None, None, &[("tenant", "t2")])),
                ],
                client_id: Some(("n", ProviderFile)),
                scopes: Some(("ns", ProviderFile)),
                params: &[("access_type", "offline"), ("prompt", "consent"), ("tenant", "t2")],
            },
            Case {
                what: "the preset fills what nobody set",
                layers: vec![(Preset, layer(None, Some("openid email"), &[])), (Cli, layer(None, None, &[]))],
                client_id: None,
                scopes: Some(("openid email", Preset)),
                params: &[],
            },
            Case {
                what: "an empty CLI client id does not hide the file's",
                layers: vec![(Cli, layer(Some(""), None, &[])), (ProfileFile, layer(Some("f"), None, &[]))],
                client_id: Some(("f", ProfileFile)),
                scopes: None,
                params: &[],
            },
            Case {
                what: "an empty param value overrides, to be dropped later",
                layers: vec![
                    (Preset, layer(None, None, &[("prompt", "consent")])),
                    (Cli, layer(None, None, &[("prompt", "")])),
                ],
                client_id: None,
                scopes: None,
                params: &[("prompt", "")],
            },
        ];
        for c in cases {
            let refs: Vec<(Source, &Layer)> = c.layers.iter().map(|(s, l)| (*s, l)).collect();
            let r = resolve(&refs);
            assert_eq!(r.values.client_id.as_deref().zip(r.client_id_from), c.client_id, "{}: client_id", c.what);
            let scopes = r.values.scopes.as_ref().map(|s| s.join(" "));
            assert_eq!(scopes.as_deref().zip(r.scopes_from), c.scopes, "{}: scopes", c.what);
            let want: BTreeMap<String, String> =
                c.params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            assert_eq!(r.values.params, want, "{}: params", c.what);
        }
    }

    #[test]
    fn stored_min_valid_reads_extra() {
        assert_eq!(stored_min_valid(r#"{"min_valid":600}"#), Some(600));
        assert_eq!(stored_min_valid("{}"), None);
        assert_eq!(stored_min_valid("not json"), None);
    }
}
