//! `tokcli revoke`: RFC 7009 revocation under the profile lock, then local deletion (RV-01..RV-05).

use super::Ctx;
use crate::cli::RevokeArgs;
use crate::error::Error;
use crate::model::ProfileName;
use crate::provider::{self, Client, ClientAuth};
use crate::store::TokenStore;

pub fn run(ctx: &Ctx, a: &RevokeArgs) -> anyhow::Result<()> {
    let names = a.profiles.iter().map(|n| ProfileName::parse(n)).collect::<Result<Vec<_>, _>>()?;
    let deadline = super::deadline(&a.timeout)?;
    let store = ctx.store()?;
    for name in &names {
        let store = store.as_ref().ok_or_else(|| super::no_such_profile(name))?;
        let _lock = store.lock(name, deadline)?;
        let p = store.get(name)?.ok_or_else(|| super::no_such_profile(name))?;
        if a.local_only {
            store.delete(&p)?;
            ctx.printer.warn(&format!(
                "deleted {name} locally without contacting the provider; its tokens stay valid there until they expire"
            ));
            continue;
        }
        let Some(endpoint) = p.config.revocation_endpoint.clone() else {
            return Err(Error::usage(format!("the provider of {name} has no revocation endpoint"))
                .hint(format!("run `tokcli revoke {name} --local-only` to delete it locally (the tokens stay valid at the provider)"))
                .into());
        };
        let secrets = store.secrets(&p)?;
        let (token, hint) = match (&secrets.refresh_token, &secrets.access_token) {
            (Some(rt), _) => (rt, "refresh_token"),
            (None, Some(at)) => (at, "access_token"),
            (None, None) => {
                store.delete(&p)?;
                ctx.printer.info(&format!("{name} held no tokens; deleted it locally"));
                continue;
            }
        };
        let client = Client {
            client_id: p.config.client_id.clone(),
            secret: secrets.client_secret.clone(),
            auth: ClientAuth::parse(&p.config.client_auth)?,
        };
        provider::revoke(ctx.http()?, &endpoint, &client, token, hint, deadline)?;
        crate::hooks::point("revoke:after_response");
        store.delete(&p)?;
        ctx.printer.info(&format!("Revoked {name} at the provider and deleted it locally"));
    }
    Ok(())
}
