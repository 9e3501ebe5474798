//! `tokcli refresh`: forced or window-based refresh of many profiles, `--jobs` at once. Each
//! profile is refreshed through the same single-flight path as `token`, under its own lock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Ctx, Policy, get_fresh};
use crate::cli::RefreshArgs;
use crate::error::{Class, Error};
use crate::model::{ProfileName, human_secs, now, parse_duration};
use crate::store::{TokenStore, status};

#[derive(Debug)]
struct Outcome {
    profile: String,
    status: &'static str,
    error: Option<String>,
    class: Option<Class>,
    expires_at: Option<i64>,
}

pub fn run(ctx: &Ctx, a: &RefreshArgs) -> anyhow::Result<()> {
    if a.all != a.profiles.is_empty() {
        return Err(Error::usage("name the profiles to refresh, or pass --all (not both)")
            .hint("e.g. `tokcli refresh work` or `tokcli refresh --all --expiring-within 1h`")
            .into());
    }
    let window = a.expiring_within.as_deref().map(parse_duration).transpose()?.map(|d| d.as_secs() as i64);
    let deadline = super::deadline(&a.timeout)?;
    let store = ctx.store()?;
    let names: Vec<ProfileName> = if a.all {
        match &store {
            Some(s) => s
                .list()?
                .into_iter()
                .filter(|p| p.status != status::NEEDS_LOGIN)
                .map(|p| ProfileName::parse(&p.name))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        }
    } else {
        let names = a.profiles.iter().map(|n| ProfileName::parse(n)).collect::<Result<Vec<_>, _>>()?;
        if store.is_none() {
            return Err(super::no_such_profile(&names[0]).into());
        }
        names
    };
    let pol = Policy {
        // With a window: refresh only what expires within it. Without: forced.
        min_valid: window,
        force: window.is_none(),
        no_refresh: false,
        strict: true,
        deadline,
    };
    let results = Mutex::new(Vec::with_capacity(names.len()));
    let next = AtomicUsize::new(0);
    let bar = ctx.printer.progress(names.len() as u64);
    let jobs = usize::from(a.jobs).min(names.len().max(1));
    let fail = |e: &Error| Outcome {
        profile: String::from("*"),
        status: "failed",
        error: Some(e.message.clone()),
        class: Some(e.class),
        expires_at: None,
    };
    let push = |o: Outcome| results.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(o);
    // Each worker takes the next profile until none is left, through its own store handle.
    let work = |ctx: &Ctx, store: &dyn TokenStore| {
        while let Some(name) = names.get(next.fetch_add(1, Ordering::Relaxed)) {
            let out = match get_fresh(ctx, store, name, &pol) {
                Ok(f) => Outcome {
                    profile: name.to_string(),
                    status: if f.refreshed { "refreshed" } else { "skipped" },
                    error: None,
                    class: None,
                    expires_at: f.profile.expires_at,
                },
                Err(e) => Outcome {
                    profile: name.to_string(),
                    status: "failed",
                    error: Some(e.message.clone()),
                    class: Some(e.class),
                    expires_at: None,
                },
            };
            if let Some(b) = &bar {
                b.inc(1);
            }
            push(out);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..jobs {
            scope.spawn(|| match ctx.store() {
                Ok(Some(s)) => work(&ctx.worker(), &s),
                Ok(None) => {}
                Err(e) => push(fail(&e)),
            });
        }
        // The first worker is this thread, with the store already open.
        if let Some(s) = &store {
            work(ctx, s);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by(|x, y| x.profile.cmp(&y.profile));
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    let (refreshed, failed, skipped) = (count("refreshed"), count("failed"), count("skipped"));
    for r in results.iter().filter(|r| r.status == "failed") {
        ctx.printer.warn(&format!("{}: {}", r.profile, r.error.as_deref().unwrap_or("failed")));
    }
    if a.json {
        let v = serde_json::json!({
            "refreshed": refreshed,
            "failed": failed,
            "skipped": skipped,
            "results": results.iter().map(|r| serde_json::json!({
                "profile": r.profile, "status": r.status, "error": r.error, "expires_at": r.expires_at,
            })).collect::<Vec<_>>(),
        });
        ctx.printer.data(&serde_json::to_string_pretty(&v)?)?;
    } else if names.len() == 1 && refreshed == 1 {
        let left = results[0].expires_at.map_or_else(String::new, |e| format!(", valid for {}", human_secs(e - now())));
        ctx.printer.info(&format!("Refreshed {}{left}", results[0].profile));
    }
    if !(names.len() == 1 && refreshed == 1) {
        ctx.printer.info(&format!("refresh: {refreshed} refreshed, {failed} failed, {skipped} skipped"));
    }
    if failed > 0 {
        // Exit 3 when any profile needs a new login, else 4 (the provider failed).
        let relogin = results.iter().any(|r| r.class == Some(Class::Relogin));
        let (class, hint) = if relogin {
            (Class::Relogin, "run `tokcli login` for the profiles marked needs-login (see `tokcli list`)")
        } else {
            (Class::Unavailable, "see the messages above; the next run retries the failed profiles")
        };
        return Err(Error::new(class, format!("{failed} of {} profiles failed to refresh", names.len()))
            .hint(hint)
            .into());
    }
    Ok(())
}
