//! `tokcli token`: print a valid access token and nothing else (PH-06).

use secrecy::ExposeSecret;

use super::{Ctx, Policy, get_fresh};
use crate::cli::{TokenArgs, TokenFormat};
use crate::error::Error;
use crate::model::{ProfileName, now, parse_duration};
use crate::store::TokenStore;

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
    let fresh = get_fresh(ctx, &store as &dyn TokenStore, &name, &pol)?;
    let token = fresh.access_token.expose_secret();
    let line = match a.format {
        TokenFormat::Raw => token.to_owned(),
        TokenFormat::Header => format!("Authorization: Bearer {token}"),
        TokenFormat::Env => {
            let ok = !a.env_name.is_empty()
                && !a.env_name.starts_with(|c: char| c.is_ascii_digit())
                && a.env_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(Error::usage(format!("invalid variable name {:?}", a.env_name))
                    .hint("use letters, digits and '_' only")
                    .into());
            }
            format!("export {}={token}", a.env_name)
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
    };
    ctx.printer.data(&line)
}
