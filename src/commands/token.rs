//! `tokcli token`: print a valid access token and nothing else (PH-06).

use secrecy::{ExposeSecret, SecretString};

use super::exec::{append_github_env, check_env_name, github_env_file, shell_quote};
use super::{Ctx, Fresh, Policy, get_fresh};
use crate::cli::{TokenArgs, TokenFormat};
use crate::error::Error;
use crate::model::{ProfileName, fingerprint, human_secs, jwt_claims, now, parse_duration};
use crate::store::TokenStore;

/// The `exp` claim of a JWT, if it has one.
fn jwt_exp(t: &SecretString) -> Option<i64> {
    jwt_claims(t.expose_secret()).and_then(|c| c["exp"].as_i64())
}

/// `--id-token`: the stored ID token, refreshed once when it expires within the minimum validity
/// (default 60 s) and this call did not refresh already. Exit 3 when there is none (or the
/// provider sends no new one on refresh).
fn id_token(
    ctx: &Ctx,
    store: &dyn TokenStore,
    name: &ProfileName,
    pol: &Policy,
    fresh: Fresh,
) -> Result<(Fresh, SecretString), Error> {
    let need = pol.min_valid.unwrap_or(60);
    let stale = |t: &SecretString| jwt_exp(t).is_some_and(|e| e - now() < need);
    let mut fresh = fresh;
    if fresh.id_token.as_ref().is_some_and(stale) && !fresh.refreshed && !pol.no_refresh {
        ctx.printer.debug(1, &format!("the ID token of {name} expires within {}; refreshing", human_secs(need)));
        fresh = get_fresh(ctx, store, name, &Policy { force: true, ..*pol })?;
    }
    let login = format!("tokcli login {} --profile {name}", super::fresh::login_target(&fresh.profile));
    match fresh.id_token.clone() {
        None => Err(Error::relogin(format!("profile {name} has no ID token"))
            .hint(format!("the provider sends one only for OpenID Connect logins: run `{login} --scope openid`"))),
        Some(t) if stale(&t) => {
            Err(Error::relogin(format!("the ID token of {name} expired and the provider sent no new one on refresh"))
                .hint(format!("run `{login}`")))
        }
        Some(t) => Ok((fresh, t)),
    }
}

pub fn run(ctx: &Ctx, a: &TokenArgs) -> anyhow::Result<()> {
    let name = ProfileName::parse(&a.profile)?;
    let min_valid = a.min_valid.as_deref().map(parse_duration).transpose()?.map(|d| d.as_secs() as i64);
    let pol = Policy {
        min_valid,
        force: a.force_refresh,
        no_refresh: a.no_refresh,
        strict: a.strict,
        deadline: super::deadline(&a.timeout)?,
    };
    let store = ctx.store()?.ok_or_else(|| super::no_such_profile(&name))?;
    if matches!(a.format, TokenFormat::Env | TokenFormat::GithubEnv) {
        check_env_name(&a.env_name)?;
    }
    let github_env = if a.format == TokenFormat::GithubEnv { Some(github_env_file()?) } else { None };
    let fresh = get_fresh(ctx, &store as &dyn TokenStore, &name, &pol)?;
    let (fresh, secret) = if a.id_token {
        id_token(ctx, &store as &dyn TokenStore, &name, &pol, fresh)?
    } else {
        let t = fresh.access_token.clone();
        (fresh, t)
    };
    let token = secret.expose_secret();
    let what = if a.id_token { "ID token" } else { "access token" };
    if ctx.printer.verbose >= 1 {
        ctx.printer.debug(1, &format!("handing out the {what} of {name} (sha256 {})", fingerprint(&secret)));
    }
    // The printed line holds the token: wipe it when it is dropped (PH-04).
    let line: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(match a.format {
        TokenFormat::Raw => token.to_owned(),
        TokenFormat::Header => format!("Authorization: Bearer {token}"),
        TokenFormat::Env => format!("export {}={}", a.env_name, shell_quote(token)),
        TokenFormat::GithubEnv => {
            let file = github_env.unwrap_or_default();
            ctx.printer.mask(token, true)?;
            append_github_env(&file, &a.env_name, token)?;
            ctx.printer.info(&format!("wrote the {what} of {name} to {} as {} (masked)", file.display(), a.env_name));
            return Ok(());
        }
        TokenFormat::Json if a.id_token => {
            let exp = jwt_exp(&secret);
            serde_json::json!({
                "id_token": token,
                "expires_at": exp,
                "expires_in": exp.map(|e| (e - now()).max(0)),
                "profile": fresh.profile.name,
            })
            .to_string()
        }
        TokenFormat::Json => {
            let p = &fresh.profile;
            serde_json::json!({
                "access_token": token,
                "token_type": p.token_type.as_deref().unwrap_or("Bearer"),
                "expires_at": p.expires_at,
                "expires_in": p.expires_at.map(|e| (e - now()).max(0)),
                "scope": p.granted_scope.as_deref().unwrap_or(&p.config.scopes),
                "profile": p.name,
            })
            .to_string()
        }
    });
    ctx.printer.mask(token, false)?;
    ctx.printer.data(&line)?;
    drop(fresh);
    store.close_at_exit();
    Ok(())
}
