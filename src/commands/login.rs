//! `tokcli login`: run one of the login flows and store the grant.
//!
//! The browser flow follows RFC 8252: PKCE S256, a 32-byte `state` (and `nonce` with `openid`),
//! a loopback listener opened just before the browser and closed before the code exchange, and
//! the RFC 9207 `iss` check. The profile lock is taken only to write the new grant (CC-08).

use std::io::{BufRead as _, IsTerminal as _};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use url::Url;
use zeroize::Zeroizing;

use super::Ctx;
use crate::cli::LoginArgs;
use crate::error::{Class, Error};
use crate::loopback::{self, Expect, Verdict};
use crate::model::{ProfileName, Secrets, TokenSet, human_secs, now, secret};
use crate::provider::http::check_url;
use crate::provider::token::{self, Client, ClientAuth, GrantRequest, TokenError};
use crate::provider::{self, ProviderSpec};
use crate::store::{Grant, ProfileConfig, TokenStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Browser,
    Manual,
    Device,
    ClientCredentials,
    RefreshToken,
}

impl Flow {
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

fn default_profile_name(spec: &ProviderSpec) -> Result<ProfileName, Error> {
    let base =
        Url::parse(&spec.name).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| spec.name.clone());
    ProfileName::parse(base.trim_start_matches(['.', '-'])).map_err(|_| {
        Error::usage(format!("cannot derive a profile name from {}", spec.name)).hint("pass --profile NAME")
    })
}

fn resolve_provider(ctx: &Ctx, arg: &str, deadline: Instant) -> Result<ProviderSpec, Error> {
    if arg.contains("://") {
        return provider::discover(ctx.http()?, arg, deadline);
    }
    Err(Error::usage(format!("unknown provider {arg:?}"))
        .hint("pass an issuer URL such as https://accounts.example.com (it is discovered)"))
}

fn scopes_for(a: &LoginArgs, spec: &ProviderSpec, flow: Flow) -> String {
    let mut scopes: Vec<String> = a.scopes.iter().flat_map(|s| s.split_whitespace().map(str::to_owned)).collect();
    if scopes.is_empty() {
        scopes.clone_from(&spec.default_scopes);
    }
    if scopes.is_empty() && flow != Flow::ClientCredentials {
        for s in ["openid", "offline_access"] {
            if spec.scopes_supported.iter().any(|x| x == s) {
                scopes.push(s.to_owned());
            }
        }
    }
    scopes.dedup();
    scopes.join(" ")
}

pub fn run(ctx: &Ctx, a: &LoginArgs) -> anyhow::Result<()> {
    let deadline = super::deadline(&a.timeout)?;
    let flow = match (a.device, a.manual, a.client_credentials, a.refresh_token_stdin) {
        (true, ..) => Flow::Device,
        (_, true, ..) => Flow::Manual,
        (_, _, true, _) => Flow::ClientCredentials,
        (.., true) => Flow::RefreshToken,
        _ => Flow::Browser,
    };
    let mut params = Vec::new();
    for p in &a.params {
        let (k, v) = p.split_once('=').ok_or_else(|| Error::usage(format!("--param {p:?} is not KEY=VALUE")))?;
        params.push((k.to_owned(), v.to_owned()));
    }
    let client_id = a.client_id.clone().filter(|c| !c.is_empty()).ok_or_else(|| {
        Error::usage("a client id is required")
            .hint("pass --client-id ID or set TOKCLI_CLIENT_ID (register an app with the provider to get one)")
    })?;
    let spec = resolve_provider(ctx, &a.provider, deadline)?;
    let name = match &a.profile {
        Some(p) => ProfileName::parse(p)?,
        None => default_profile_name(&spec)?,
    };
    let mut stdin = Stdin::new();
    let client_secret: Option<SecretString> = if a.client_secret_stdin {
        Some(secret(stdin.read("client secret")?.to_string()))
    } else {
        std::env::var("TOKCLI_CLIENT_SECRET").ok().filter(|s| !s.is_empty()).map(secret)
    };
    if flow == Flow::ClientCredentials && client_secret.is_none() {
        return Err(Error::usage("the client credentials flow needs a client secret")
            .hint("pipe it with --client-secret-stdin or set TOKCLI_CLIENT_SECRET; never pass it as a flag")
            .into());
    }
    let client = Client {
        client_id: client_id.clone(),
        auth: if client_secret.is_some() { ClientAuth::Basic } else { ClientAuth::None },
        secret: client_secret,
    };
    let scopes = scopes_for(a, &spec, flow);
    let token_url = check_url("token_endpoint", &spec.token_endpoint)?;
    let http = ctx.http()?;
    let mut nonce = None;
    let ts: TokenSet = match flow {
        Flow::Browser | Flow::Manual => {
            let (ts, n) = authorization_code(ctx, a, &spec, &client, &scopes, &params, flow, &mut stdin, deadline)?;
            nonce = n;
            ts
        }
        Flow::ClientCredentials => token::request(
            http,
            &token_url,
            &client,
            &GrantRequest::ClientCredentials { scope: Some(&scopes) },
            &[],
            deadline,
            &mut |_, _| {},
        )
        .map_err(|e| e.into_error("the client credentials request", name.as_str()))?,
        Flow::RefreshToken => {
            let rt = secret(stdin.read("refresh token")?.to_string());
            let mut ts = token::request(
                http,
                &token_url,
                &client,
                &GrantRequest::Refresh { refresh_token: &rt, scope: None },
                &[],
                deadline,
                &mut |_, _| {},
            )
            .map_err(|e| e.into_error("validating the imported refresh token", name.as_str()))?;
            if ts.refresh_token.is_none() {
                ts.refresh_token = Some(rt);
            }
            ts
        }
        Flow::Device => device(ctx, &spec, &client, &scopes, deadline, &name)?,
    };
    if let Some(id) = &ts.id_token {
        token::check_id_token(id, spec.issuer.as_deref(), &client_id, nonce.as_ref())?;
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
        extra: "{}".to_owned(),
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
    ctx.printer.info(&format!(
        "Logged in to {name} as {}, token valid for {}",
        account.as_deref().unwrap_or("an unnamed account"),
        human_secs(grant.expires_at - now())
    ));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn authorization_code(
    ctx: &Ctx,
    a: &LoginArgs,
    spec: &ProviderSpec,
    client: &Client,
    scopes: &str,
    params: &[(String, String)],
    flow: Flow,
    stdin: &mut Stdin,
    deadline: Instant,
) -> Result<(TokenSet, Option<SecretString>), Error> {
    let auth_endpoint = spec.authorization_endpoint.as_deref().ok_or_else(|| {
        Error::usage(format!("{} has no authorization endpoint", spec.name))
            .hint("use --device or --client-credentials")
    })?;
    let mut auth_url = check_url("authorization_endpoint", auth_endpoint)?;
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let verifier = secret(verifier.secret().clone());
    let state = secret(oauth2::CsrfToken::new_random_len(32).secret().clone());
    let nonce = scopes
        .split(' ')
        .any(|s| s == "openid")
        .then(|| secret(oauth2::CsrfToken::new_random_len(32).secret().clone()));
    let listener = if flow == Flow::Browser { Some(loopback::bind(&a.port)?) } else { None };
    let redirect_uri = match &listener {
        Some(l) => l.redirect_uri.clone(),
        None => match a.port.first() {
            Some(p) => format!("http://127.0.0.1:{p}{}", loopback::CALLBACK_PATH),
            None => format!("http://127.0.0.1{}", loopback::CALLBACK_PATH),
        },
    };
    {
        let mut q = auth_url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("state", state.expose_secret())
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        if !scopes.is_empty() {
            q.append_pair("scope", scopes);
        }
        if let Some(n) = &nonce {
            q.append_pair("nonce", n.expose_secret());
        }
        for (k, v) in params {
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
        None => {
            ctx.printer.info(&format!(
                "Open this URL in a browser, approve, then paste the full address you are redirected to \
(it starts with {redirect_uri}) here and press Enter:\n\n  {auth_url}\n"
            ));
            if std::io::stdin().is_terminal() {
                ctx.printer.info("Redirect URL: ");
            }
            let line = stdin.read("redirect URL")?;
            let url = Url::parse(&line).map_err(|_| {
                Error::login("the pasted text is not the redirect URL")
                    .hint(format!("paste the whole address starting with {redirect_uri}"))
            })?;
            let parsed = loopback::parse_query(url.query().unwrap_or(""))
                .ok_or_else(|| Error::login("the pasted URL repeats a parameter"))?;
            match loopback::check_callback(&parsed, &expect) {
                Verdict::Code(c) => c,
                Verdict::Fail(e) => return Err(e),
                Verdict::Ignore(why) => {
                    return Err(Error::login(format!("the pasted URL does not belong to this login ({why})"))
                        .hint("paste the redirect of the URL printed by this run of tokcli"));
                }
            }
        }
    };
    drop(state);
    let token_url = check_url("token_endpoint", &spec.token_endpoint)?;
    let ts = token::request(
        ctx.http()?,
        &token_url,
        client,
        &GrantRequest::AuthorizationCode { code: &code, redirect_uri: &redirect_uri, verifier: &verifier },
        &[],
        deadline,
        &mut |_, _| {},
    )
    .map_err(|e| {
        let err = e.into_error("exchanging the authorization code", "…");
        if err.class == Class::Relogin { Error::login(err.message).hint("start the login again") } else { err }
    })?;
    Ok((ts, nonce))
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
        match token::request(
            http,
            &token_url,
            client,
            &GrantRequest::DeviceCode { device_code: &device_code },
            &[],
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
