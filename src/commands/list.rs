//! `tokcli list`: what is stored, never a secret; decrypts nothing (so it needs no key).

use super::Ctx;
use crate::cli::ListArgs;
use crate::model::{human_secs, now};
use crate::store::{Profile, TokenStore};

/// The stable JSON shape of one profile (documented in docs/json.md). `insecure_key`: the store's
/// key is a plaintext file (KM-04 d).
#[must_use]
pub fn profile_json(p: &Profile, insecure_key: bool) -> serde_json::Value {
    serde_json::json!({
        "insecure_key": insecure_key,
        "profile": p.name,
        "provider": p.config.provider,
        "issuer": p.config.issuer,
        "client_id": p.config.client_id,
        "flow": p.config.flow,
        "account": p.account,
        "scopes": p.granted_scope.as_deref().unwrap_or(&p.config.scopes),
        "expires_at": p.expires_at,
        "expires_in": p.expires_at.map(|e| e - now()),
        "status": p.status,
        "last_error": p.last_error,
        "last_refreshed_at": p.last_refreshed_at,
        "refresh_count": p.refresh_count,
        "has_refresh_token": p.has_refresh_token(),
    })
}

pub fn run(ctx: &Ctx, a: &ListArgs) -> anyhow::Result<()> {
    let (profiles, insecure) = match ctx.store()? {
        Some(s) => (s.list()?, s.key_is_insecure()),
        None => (Vec::new(), false),
    };
    if a.json {
        let v: Vec<_> = profiles.iter().map(|p| profile_json(p, insecure)).collect();
        return ctx.printer.data(&serde_json::to_string_pretty(&v)?);
    }
    if profiles.is_empty() {
        ctx.printer.info("no profiles yet; run `tokcli login <provider>`");
        return Ok(());
    }
    let t = now();
    let mut rows = vec![
        ["PROFILE", "ISSUER", "ACCOUNT", "SCOPES", "EXPIRES IN", "STATUS", "LAST REFRESHED", "REFRESHES"]
            .map(String::from),
    ];
    for p in &profiles {
        rows.push([
            p.name.clone(),
            p.config.issuer.clone().unwrap_or_else(|| p.config.provider.clone()),
            p.account.clone().unwrap_or_else(|| "-".into()),
            p.granted_scope.clone().unwrap_or_else(|| p.config.scopes.clone()),
            p.expires_at.map_or_else(|| "-".into(), |e| human_secs(e - t)),
            p.status.clone(),
            p.last_refreshed_at.map_or_else(|| "never".into(), |r| format!("{} ago", human_secs((t - r).max(1)))),
            p.refresh_count.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..8).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    if insecure {
        // KM-04 (d): the table itself says it, on every run.
        out.push_str("STORE KEY: INSECURE plaintext file; anyone who can read it can decrypt these tokens\n");
    }
    for r in &rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    ctx.printer.data(out.trim_end())
}
