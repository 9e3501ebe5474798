//! The get-a-fresh-token use case shared by `token`, `refresh` and `exec`: read, return if valid,
//! else lock, re-read, pre-flight, refresh outside any transaction, compare-and-swap, commit —
//! SECURITY-RELIABILITY §3.4, step by step.

use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::Ctx;
use crate::error::{Class, Error};
use crate::model::{ProfileName, Secrets, human_secs, needs_refresh, now};
use crate::provider::http::check_url;
use crate::provider::token::{self, Client, ClientAuth, GrantRequest, TokenError};
use crate::store::{Cas, Grant, Profile, TokenStore, status};

/// How fresh the token must be and what may be done to get it.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Explicit minimum validity in seconds; `None` for the default rule (RF-01).
    pub min_valid: Option<i64>,
    /// Refresh even when the cached token is valid.
    pub force: bool,
    /// Never contact the provider (RF-06).
    pub no_refresh: bool,
    /// No stale-while-error or degraded success (RF-08, CR-05).
    pub strict: bool,
    pub deadline: Instant,
}

/// A token ready to hand out.
#[derive(Debug)]
pub struct Fresh {
    pub profile: Profile,
    pub access_token: SecretString,
    pub id_token: Option<SecretString>,
    /// True when this call refreshed the grant.
    pub refreshed: bool,
}

fn is_valid(p: &Profile, min_valid: Option<i64>) -> bool {
    p.has_access_token()
        && p.status != status::NEEDS_LOGIN
        && p.expires_at.is_some_and(|e| !needs_refresh(e, p.obtained_at.unwrap_or(e), now(), min_valid))
}

fn still_usable(p: &Profile) -> bool {
    p.has_access_token() && p.status != status::NEEDS_LOGIN && p.expires_at.is_some_and(|e| e > now())
}

fn check_status(p: &Profile, name: &ProfileName) -> Result<(), Error> {
    if p.status == status::NEEDS_LOGIN {
        let why = p.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
        return Err(Error::relogin(format!("profile {name} needs a new login{why}"))
            .hint(format!("run `tokcli login {} --profile {name}`", login_target(p))));
    }
    Ok(())
}

/// The provider argument that recreates this profile.
#[must_use]
pub fn login_target(p: &Profile) -> String {
    p.config.issuer.clone().unwrap_or_else(|| p.config.provider.clone())
}

fn cached(store: &dyn TokenStore, p: Profile) -> Result<Fresh, Error> {
    let s = store.secrets(&p)?;
    let access_token = s.access_token.ok_or_else(|| Error::internal("a valid profile without an access token"))?;
    Ok(Fresh { profile: p, access_token, id_token: s.id_token, refreshed: false })
}

/// Returns a token valid for at least the policy's minimum, refreshing it single-flight when
/// needed (CC-01..CC-05, CR-01..CR-05, RF-01..RF-08).
///
/// # Errors
/// Exit 3 (log in again), 4 (provider unavailable), 5 (store) or 6 (key), with hints.
pub fn get_fresh(ctx: &Ctx, store: &dyn TokenStore, name: &ProfileName, pol: &Policy) -> Result<Fresh, Error> {
    let p = store.get(name)?.ok_or_else(|| super::no_such_profile(name))?;
    check_status(&p, name)?;
    // A `[profiles.NAME] min_valid` from config.toml was stored with the profile at login, so
    // the hot path never reads the config file.
    let pol = &Policy { min_valid: pol.min_valid.or_else(|| crate::config::stored_min_valid(&p.config.extra)), ..*pol };
    if !pol.force && is_valid(&p, pol.min_valid) {
        return cached(store, p);
    }
    if pol.no_refresh {
        return Err(Error::relogin(format!("the cached token of {name} is stale and --no-refresh forbids a refresh"))
            .hint(format!("drop --no-refresh, or have another process run `tokcli refresh {name}`")));
    }
    let lock = store.lock(name, pol.deadline)?;
    ctx.printer.debug(2, &format!("took the lock {}", lock.path.display()));
    // CC-02: another process may have refreshed while we waited.
    let p2 = store.get(name)?.ok_or_else(|| super::no_such_profile(name))?;
    check_status(&p2, name)?;
    let someone_refreshed = p2.generation != p.generation;
    if (!pol.force || someone_refreshed) && is_valid(&p2, pol.min_valid) {
        ctx.printer.debug(1, &format!("{name} was refreshed by another process; no request sent"));
        return cached(store, p2);
    }
    let secrets = store.secrets(&p2)?;
    refresh_locked(ctx, store, name, p2, secrets, pol)
}

fn client_of(p: &Profile, secrets: &Secrets) -> Result<Client, Error> {
    Ok(Client {
        client_id: p.config.client_id.clone(),
        secret: secrets.client_secret.clone(),
        auth: ClientAuth::parse(&p.config.client_auth)?,
    })
}

fn refresh_locked(
    ctx: &Ctx,
    store: &dyn TokenStore,
    name: &ProfileName,
    p: Profile,
    secrets: Secrets,
    pol: &Policy,
) -> Result<Fresh, Error> {
    let client_credentials = p.config.flow == "client_credentials";
    if !client_credentials && secrets.refresh_token.is_none() {
        return Err(Error::relogin(format!("the token of {name} expired and the provider issued no refresh token"))
            .hint(format!("run `tokcli login {} --profile {name}`", login_target(&p))));
    }
    let interrupted = p.refresh_started_at.map(|t| (t, p.refresh_owner.unwrap_or(0)));
    // CR-02: prove the store is writable before a refresh token is spent.
    if let Err(e) = store.begin_refresh(&p) {
        return stale_or(ctx, store, p, pol, e);
    }
    ctx.printer.debug(3, "pre-flight write committed (CR-02)");
    let endpoint = check_url("token_endpoint", &p.config.token_endpoint)?;
    let client = client_of(&p, &secrets)?;
    let scope = (!p.config.scopes.is_empty()).then_some(p.config.scopes.as_str());
    let grant = match &secrets.refresh_token {
        Some(rt) if !client_credentials => GrantRequest::Refresh { refresh_token: rt, scope: None },
        _ => GrantRequest::ClientCredentials { scope },
    };
    let extra = extra_token_params(&p);
    let http = ctx.http()?;
    ctx.printer.debug(3, "HTTP client ready");
    ctx.printer.debug(1, &format!("refreshing {name} at {endpoint}"));
    let mut on_retry = |msg: &str, wait: Duration| {
        ctx.printer.debug(1, &format!("{name}: {msg}; retrying in {}ms", wait.as_millis()));
    };
    let quirks = token::Quirks::from_extra(&p.config.extra);
    // CR-04: from here until the outcome is stored, the first Ctrl-C waits for the commit.
    let critical = crate::sys::critical();
    let result = token::request_with(http, &endpoint, &client, &grant, &extra, &quirks, pol.deadline, &mut on_retry);
    crate::hooks::point("refresh:after_response");
    ctx.printer.debug(3, "token endpoint answered");
    let ts = match result {
        Ok(ts) => ts,
        Err(TokenError::InvalidGrant(desc)) => {
            store.mark_needs_login(&p, &format!("invalid_grant{desc}"))?;
            let diag = interrupted.map_or(String::new(), |(t, pid)| {
                format!(
                    "; an earlier refresh was interrupted {} ago (pid {pid}), so the provider probably rotated the token then",
                    human_secs(now() - t)
                )
            });
            return Err(Error::relogin(format!(
                "the refresh token of {name} was rejected (invalid_grant){desc}{diag}"
            ))
            .hint(format!("run `tokcli login {} --profile {name}`", login_target(&p))));
        }
        Err(e) => {
            let maybe_sent = matches!(e, TokenError::Transient { maybe_sent: true, .. });
            let transient = matches!(e, TokenError::Transient { .. })
                || matches!(e, TokenError::Protocol { class: Class::Unavailable, .. });
            let err = e.into_error(&format!("refreshing {name}"), name.as_str());
            let _ = store.record_error(&p, &err.message, maybe_sent);
            if transient {
                return stale_or(ctx, store, p, pol, err);
            }
            return Err(err);
        }
    };
    // TE-10: a new ID token must be signed by the issuer. One that is not is discarded with a
    // warning, but the rotated tokens are still stored: the refresh token is already spent.
    let new_id_token = match (&ts.id_token, stored_jwks_uri(&p)) {
        (Some(id), Some(uri)) => {
            // The rotated grant waits for this, so a slow key server gets 5 seconds at most
            // (the key set is cached for a day, so this fetch is rare).
            let jwks_deadline = pol.deadline.min(std::time::Instant::now() + Duration::from_secs(5));
            match crate::provider::jwks::check_refreshed(
                http,
                store,
                &uri,
                secrecy::ExposeSecret::expose_secret(id),
                jwks_deadline,
            ) {
                Ok(()) => ts.id_token.clone(),
                Err(why) => {
                    ctx.printer.warn(&format!(
                        "the ID token sent when refreshing {name} was discarded: {why}; the access and refresh tokens were kept"
                    ));
                    None
                }
            }
        }
        _ => ts.id_token.clone(),
    };
    // RF-02: keep the old refresh token when none is sent; RF-07: the subject must not change.
    let new_id = new_id_token.clone().or(secrets.id_token.clone());
    if let (Some(new), Some(old)) = (&new_id_token, &secrets.id_token) {
        let sub = |t: &SecretString| {
            crate::model::jwt_claims(secrecy::ExposeSecret::expose_secret(t))
                .map(|c| (c["iss"].clone(), c["sub"].clone()))
        };
        if sub(new) != sub(old) {
            store.mark_needs_login(&p, "the refreshed ID token names another subject")?;
            return Err(Error::relogin(format!(
                "the provider returned an ID token for another account when refreshing {name}"
            ))
            .hint(format!("run `tokcli login {} --profile {name}`", login_target(&p))));
        }
    }
    if let (Some(new), Some(old)) = (&ts.scope, &p.granted_scope)
        && new != old
    {
        ctx.printer.warn(&format!("the provider changed the scope of {name} to {new:?}"));
    }
    let grant = Grant {
        secrets: Secrets {
            access_token: Some(ts.access_token.clone()),
            refresh_token: ts.refresh_token.clone().or(secrets.refresh_token.clone()),
            id_token: new_id.clone(),
            client_secret: secrets.client_secret.clone(),
        },
        account: None,
        token_type: ts.token_type.clone(),
        granted_scope: ts.scope.clone().or(p.granted_scope.clone()),
        expires_at: ts.expires_at,
        obtained_at: ts.obtained_at,
    };
    crate::hooks::point("refresh:before_commit");
    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        match store.commit_refresh(&p, &grant) {
            Ok(c) => break Ok(c),
            Err(e) if attempt < 3 => {
                ctx.printer.debug(1, &format!("commit failed ({}); retrying", e.message));
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => break Err(e),
        }
    };
    crate::hooks::point("refresh:after_commit");
    ctx.printer.debug(3, "rotated grant committed");
    drop(critical);
    if crate::sys::interrupted() {
        return Err(Error::new(
            Class::Interrupted,
            format!("interrupted; the refreshed grant of {name} was saved first"),
        )
        .hint(format!("`tokcli token {name}` prints it without another refresh")));
    }
    match outcome {
        Ok(Cas::Written) => {}
        Ok(Cas::Lost) => ctx.printer.warn(&format!(
            "{name} was changed by another writer during the refresh; kept the newer stored grant (CC-03)"
        )),
        Ok(Cas::Unsynced(why)) => {
            // Saved and readable, but fsync failed: the disk may not hold it after a power cut.
            let msg = format!("the rotated grant of {name} was saved, but the disk did not confirm the write ({why})");
            let hint = format!(
                "check the disk (`dmesg`); if the machine loses power before the data reaches it, run `tokcli login {} --profile {name}`",
                login_target(&p)
            );
            if pol.strict {
                return Err(Error::store(msg).hint(hint));
            }
            ctx.printer.warn(&format!("{msg}; {hint}"));
        }
        Err(e) => {
            // CR-05: the provider already rotated; the new access token is valid.
            if pol.strict {
                return Err(Error::store(format!(
                    "could not save the rotated refresh token for {name}: {}",
                    e.message
                ))
                .hint(format!("the next call will require `tokcli login {} --profile {name}`", login_target(&p))));
            }
            ctx.printer.warn(&format!(
                "could not save rotated refresh token for {name} ({}); the next call will require `tokcli login {} --profile {name}`",
                e.message,
                login_target(&p)
            ));
        }
    }
    let mut profile = p;
    profile.expires_at = Some(ts.expires_at);
    profile.obtained_at = Some(ts.obtained_at);
    profile.generation += 1;
    profile.granted_scope = grant.granted_scope.clone();
    Ok(Fresh { profile, access_token: ts.access_token, id_token: new_id, refreshed: true })
}

/// RF-08 stale-while-error: hand out the cached token while it is still valid, with a warning.
fn stale_or(ctx: &Ctx, store: &dyn TokenStore, p: Profile, pol: &Policy, err: Error) -> Result<Fresh, Error> {
    if !pol.strict && still_usable(&p) {
        let left = p.expires_at.unwrap_or(0) - now();
        ctx.printer.warn(&format!("{}; using the cached token, still valid for {}", err.message, human_secs(left)));
        return cached(store, p);
    }
    Err(err)
}

/// The issuer's `jwks_uri` stored with the profile at login (`extra.jwks_uri`, TE-10).
fn stored_jwks_uri(p: &Profile) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(&p.config.extra).ok()?.get("jwks_uri")?.as_str().map(str::to_owned)
}

/// Extra token-request parameters stored with the profile (`extra.token_params`).
fn extra_token_params(p: &Profile) -> Vec<(String, String)> {
    serde_json::from_str::<serde_json::Value>(&p.config.extra)
        .ok()
        .and_then(|v| v.get("token_params").and_then(|m| m.as_object().cloned()))
        .map(|m| m.into_iter().filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned()))).collect())
        .unwrap_or_default()
}
