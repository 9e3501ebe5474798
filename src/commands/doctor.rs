//! `tokcli doctor`: checks the data directory and file permissions (SC-05), the store file
//! (ST-01..ST-03, `PRAGMA integrity_check`), the key source and keyring (KM-01..KM-03, SC-03) and
//! every profile (AEAD integrity, status), and says what to do about each problem.
//!
//! The store is only ever opened read-only for the file checks; nothing is repaired except with
//! the global `--fix-permissions`, and `--reset` moves a broken store aside, never deleting it.
//! The report is the data (stdout); the exit status is that of the worst problem.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Ctx;
use crate::cli::DoctorArgs;
use crate::error::{Class, Error};
use crate::model::{human_secs, now};
use crate::store::rekey::{Inspection, inspect, move_aside};
use crate::store::{APPLICATION_ID, Paths, SCHEMA_VERSION, TokenStore, status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

#[derive(Debug)]
struct Check {
    name: String,
    level: Level,
    class: Option<Class>,
    message: String,
    hint: Option<String>,
    /// `--reset` helps: the store is unreadable, corrupt, or its key is lost.
    resettable: bool,
}

#[derive(Debug, Default)]
struct Report {
    checks: Vec<Check>,
}

impl Report {
    fn ok(&mut self, name: &str, message: impl Into<String>) {
        self.push(name, Level::Ok, None, message, None, false);
    }
    fn warn(&mut self, name: &str, message: impl Into<String>, hint: Option<String>) {
        self.push(name, Level::Warn, None, message, hint, false);
    }
    fn fail(
        &mut self,
        name: &str,
        class: Class,
        message: impl Into<String>,
        hint: impl Into<String>,
        resettable: bool,
    ) {
        self.push(name, Level::Fail, Some(class), message, Some(hint.into()), resettable);
    }
    fn push(
        &mut self,
        name: &str,
        level: Level,
        class: Option<Class>,
        message: impl Into<String>,
        hint: Option<String>,
        resettable: bool,
    ) {
        self.checks.push(Check { name: name.to_owned(), level, class, message: message.into(), hint, resettable });
    }
    fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.level == Level::Fail)
    }
}

/// How bad a class of problem is, for picking the exit status: a broken store makes everything
/// else moot, a missing key makes every profile unusable, a profile problem is local.
fn severity(c: Class) -> u8 {
    match c {
        Class::Internal => 7,
        Class::Store => 6,
        Class::Key => 5,
        Class::Relogin => 4,
        Class::Unavailable => 3,
        Class::LoginIncomplete => 2,
        Class::Usage => 1,
        Class::Interrupted => 0,
    }
}

fn worst<'a>(checks: impl Iterator<Item = &'a Check>) -> Option<Class> {
    checks.filter_map(|c| c.class).max_by_key(|c| severity(*c))
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// SC-05: the directory 0700, the database, its `-wal`/`-shm` and the lock files 0600, all owned
/// by this user.
fn check_permissions(paths: &Paths, fix: bool, r: &mut Report) {
    let dir = match std::fs::metadata(&paths.dir) {
        Ok(m) => m,
        Err(_) => {
            r.ok("home", format!("{} does not exist yet (`tokcli login` creates it)", paths.dir.display()));
            return;
        }
    };
    if !dir.is_dir() {
        r.fail(
            "home",
            Class::Store,
            format!("{} is not a directory", paths.dir.display()),
            "point TOKCLI_HOME at a directory",
            false,
        );
        return;
    }
    let mut files: Vec<(PathBuf, u32)> = vec![(paths.dir.clone(), 0o700)];
    for suffix in ["", "-wal", "-shm"] {
        files.push((with_suffix(&paths.db, suffix), 0o600));
    }
    if paths.locks.is_dir() {
        files.push((paths.locks.clone(), 0o700));
        if let Ok(entries) = std::fs::read_dir(&paths.locks) {
            let mut locks: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            locks.sort();
            files.extend(locks.into_iter().map(|p| (p, 0o600)));
        }
    }
    let uid = crate::sys::uid();
    let (mut checked, mut fixed, mut bad) = (0, Vec::new(), 0);
    for (p, want) in files {
        let Ok(m) = std::fs::symlink_metadata(&p) else { continue };
        checked += 1;
        if m.uid() != uid {
            bad += 1;
            r.fail(
                "permissions",
                Class::Store,
                format!("{} is owned by another user (uid {})", p.display(), m.uid()),
                "point TOKCLI_HOME at a directory you own",
                false,
            );
            continue;
        }
        if m.mode() & 0o077 == 0 {
            continue;
        }
        if fix && std::fs::set_permissions(&p, std::fs::Permissions::from_mode(want)).is_ok() {
            fixed.push(format!("{} ({:o} → {want:o})", p.display(), m.mode() & 0o777));
            continue;
        }
        bad += 1;
        r.fail(
            "permissions",
            Class::Store,
            format!("{} is accessible by other users (mode {:o})", p.display(), m.mode() & 0o777),
            format!("run `chmod {want:o} {}` or rerun with --fix-permissions", p.display()),
            false,
        );
    }
    if !fixed.is_empty() {
        r.warn("permissions", format!("fixed: {}", fixed.join(", ")), None);
    }
    if bad == 0 {
        r.ok("permissions", format!("{checked} paths private to uid {uid} (directories 700, files 600)"));
    }
}

/// ST-01..ST-03: what the read-only inspection of the file found.
fn check_store(i: &Inspection, r: &mut Report) {
    let db = i.db.display();
    let reset_hint = "`tokcli doctor --reset` moves it aside (nothing is deleted); then log in again";
    if !i.exists {
        r.ok("store", format!("no store yet at {db} (`tokcli login` creates it)"));
        return;
    }
    if let Some(e) = &i.open_error {
        r.fail("store", Class::Store, format!("store unreadable: {db}: {e}"), reset_hint, true);
        return;
    }
    if i.application_id != Some(APPLICATION_ID) {
        r.fail(
            "store",
            Class::Store,
            format!(
                "{db} is an SQLite database but not a tokcli store (application_id {:#x})",
                i.application_id.unwrap_or(0)
            ),
            format!("if it belongs to another program, move it; else {reset_hint}"),
            true,
        );
        return;
    }
    let version = i.user_version.unwrap_or(0);
    if version > SCHEMA_VERSION {
        r.fail(
            "schema",
            Class::Store,
            format!("the store was created by a newer tokcli (schema {version}; this tokcli knows {SCHEMA_VERSION})"),
            "upgrade tokcli; --reset would not help (the store is fine)",
            false,
        );
        return;
    }
    if version < 1 {
        r.fail("schema", Class::Store, format!("the store has no schema version ({version})"), reset_hint, true);
        return;
    }
    r.ok("schema", format!("schema {version} (this tokcli knows up to {SCHEMA_VERSION})"));
    if !i.integrity.is_empty() {
        let shown: Vec<&str> = i.integrity.iter().take(10).map(String::as_str).collect();
        r.fail(
            "integrity",
            Class::Store,
            format!("PRAGMA integrity_check reports {} problem(s): {}", i.integrity.len(), shown.join("; ")),
            format!("the store is corrupt; {reset_hint}"),
            true,
        );
        return;
    }
    if !i.missing_meta.is_empty() {
        r.fail(
            "integrity",
            Class::Store,
            format!("the store lacks its key metadata ({})", i.missing_meta.join(", ")),
            reset_hint,
            true,
        );
        return;
    }
    r.ok("integrity", format!("PRAGMA integrity_check: ok ({} bytes)", i.size));
    if i.immutable {
        r.warn(
            "integrity",
            "checked without the WAL index (read-only directory or full disk): recent changes may not have been seen",
            None,
        );
    }
}

/// A key failure that `--reset` can get past: the key is gone or is another store's.
fn key_lost(e: &Error) -> bool {
    e.message.contains("is missing") || e.message.contains("does not match")
}

fn check_profiles(store: &crate::store::SqliteStore, r: &mut Report) {
    let profiles = match store.list() {
        Ok(p) => p,
        Err(e) => {
            r.fail("profiles", e.class, e.message, e.hint.unwrap_or_default(), false);
            return;
        }
    };
    if profiles.is_empty() {
        r.ok("profiles", "no profiles");
    }
    let t = now();
    for p in &profiles {
        let name = format!("profile {}", p.name);
        let login = format!("run `tokcli login {} --profile {}`", super::fresh::login_target(p), p.name);
        if let Err(e) = store.secrets(p) {
            let hint = format!("{login}, or `tokcli revoke {} --local-only` to drop it", p.name);
            r.fail(&name, e.class, e.message, hint, false);
            continue;
        }
        if p.status == status::NEEDS_LOGIN {
            let why = p.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
            r.fail(&name, Class::Relogin, format!("needs a new login{why}"), login, false);
            continue;
        }
        let left = p.expires_at.map(|e| e - t);
        let refreshable = p.has_refresh_token() || p.config.flow == "client_credentials";
        if left.is_some_and(|l| l <= 0) && !refreshable {
            r.fail(&name, Class::Relogin, "the access token expired and there is no refresh token", login, false);
            continue;
        }
        if let Some(started) = p.refresh_started_at {
            r.warn(
                &name,
                format!(
                    "a refresh was interrupted {} ago (pid {}); if the provider rotated the refresh token then, \
the next refresh needs a new login",
                    human_secs((t - started).max(1)),
                    p.refresh_owner.unwrap_or(0)
                ),
                Some(format!("`tokcli token {}` tells; if it exits 3, {login}", p.name)),
            );
            continue;
        }
        if p.status == status::ERROR {
            let why = p.last_error.as_deref().unwrap_or("unknown");
            r.warn(
                &name,
                format!("the last refresh failed: {why}"),
                Some(format!("`tokcli refresh {}` retries", p.name)),
            );
            continue;
        }
        let state = match left {
            Some(l) if l > 0 => format!("{}, access token valid for {}", p.status, human_secs(l)),
            Some(_) => format!("{}, access token expired (refreshed on next use)", p.status),
            None => format!("{}, no expiry recorded", p.status),
        };
        r.ok(&name, state);
    }
}

/// Opens the store and checks its key, then every profile. Skipped when the file checks failed.
fn check_key_and_profiles(ctx: &Ctx, r: &mut Report) {
    let store = match ctx.store() {
        Ok(Some(s)) => s,
        Ok(None) => return,
        Err(e) => {
            r.fail("store", e.class, e.message, e.hint.unwrap_or_default(), false);
            return;
        }
    };
    match store.key_status() {
        Ok(k) => {
            let via = if k.source == "keyring" {
                "the OS keyring (reachable, unlocked)".to_owned()
            } else {
                k.source.clone()
            };
            r.ok("key", format!("key id {} from {via}; it matches the store's key check", k.key_id));
            if store.key_is_insecure() {
                r.warn(
                    "key",
                    "the store key is a plaintext file beside the database (--insecure-plaintext-key)",
                    Some(
                        "move to the keyring or a file: source: a new store (`doctor --reset`) and a new login".into(),
                    ),
                );
            }
            if let Some(unused) = &k.unused_staged {
                r.warn(
                    "key",
                    format!("a `tokcli rekey` crashed before its commit and left an unused staged key (id {unused})"),
                    Some("the next `tokcli rekey` removes it".into()),
                );
            }
            if !k.promoted {
                r.warn(
                    "key",
                    "an interrupted `tokcli rekey` left the store's key staged next to the old one",
                    Some("rerun `tokcli rekey` to finish the rotation (it deletes the old key)".into()),
                );
            }
        }
        Err(e) => {
            let lost = key_lost(&e);
            let hint = e.hint.clone().unwrap_or_default();
            r.fail("key", e.class, e.message, hint, lost);
            return;
        }
    }
    check_profiles(&store, r);
}

pub fn run(ctx: &Ctx, a: &DoctorArgs) -> anyhow::Result<()> {
    let paths = &ctx.settings.paths;
    let mut r = Report::default();
    check_permissions(paths, ctx.settings.open.fix_permissions, &mut r);
    if let Some(fs) = paths.dir.exists().then(|| crate::store::network_fs(&paths.dir)).flatten() {
        r.warn(
            "filesystem",
            format!("{} is on {fs}: locking is not guaranteed across hosts (CC-06)", paths.dir.display()),
            Some("use tokcli on this directory from one host at a time, or set TOKCLI_HOME to a local disk".into()),
        );
    }
    let insp = inspect(paths);
    check_store(&insp, &mut r);
    let perms_ok = !r.checks.iter().any(|c| c.name == "permissions" && c.level == Level::Fail);
    if insp.is_sound() && perms_ok {
        check_key_and_profiles(ctx, &mut r);
    } else if insp.exists && insp.is_sound() {
        r.warn("key", "not checked: fix the permissions first", None);
    }

    let mut moved: Option<Vec<PathBuf>> = None;
    let mut reset_note = None;
    if a.reset {
        if r.failed().any(|c| c.resettable) {
            let _lock = if paths.locks.is_dir() {
                Some(crate::store::lock::acquire(
                    &paths.locks.join(".store.lock"),
                    "the store",
                    Instant::now() + Duration::from_secs(30),
                )?)
            } else {
                None
            };
            moved = Some(move_aside(paths)?);
        } else if !insp.exists {
            reset_note = Some("there is no store to reset".to_owned());
        } else if r.failed().next().is_none() {
            reset_note = Some("the store is healthy; nothing was moved".to_owned());
        } else {
            reset_note = Some(
                "nothing was moved: --reset helps only with an unreadable or corrupt store or a lost key".to_owned(),
            );
        }
    }
    // After a reset, the problems of the store that was moved away no longer count.
    let remaining: Vec<&Check> = r
        .checks
        .iter()
        .filter(|c| c.level == Level::Fail)
        .filter(|c| moved.is_none() || !(c.resettable || c.name.starts_with("profile")))
        .collect();
    let exit = worst(remaining.iter().copied());
    let code = exit.map_or(0, Class::exit_code);

    if a.json {
        let checks: Vec<serde_json::Value> = r
            .checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "check": c.name,
                    "status": c.level.as_str(),
                    "exit_code": c.class.map(Class::exit_code),
                    "message": c.message,
                    "hint": c.hint,
                    "resettable": c.resettable,
                })
            })
            .collect();
        let v = serde_json::json!({
            "home": paths.dir,
            "db": paths.db,
            "healthy": exit.is_none(),
            "exit_code": code,
            "checks": checks,
            "reset": a.reset.then(|| serde_json::json!({
                "moved": moved.clone().unwrap_or_default(),
                "note": reset_note,
            })),
        });
        ctx.printer.data(&serde_json::to_string_pretty(&v)?)?;
    } else {
        let mut out = format!("tokcli doctor: {}\n", paths.db.display());
        for c in &r.checks {
            let tag = match c.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            out.push_str(&format!("{tag}  {:<12} {}\n", c.name, c.message));
            if let Some(h) = c.hint.as_deref().filter(|_| c.level != Level::Ok) {
                out.push_str(&format!("      {:<12} hint: {h}\n", ""));
            }
        }
        if let Some(m) = &moved {
            for p in m {
                out.push_str(&format!("reset moved aside: {}\n", p.display()));
            }
            out.push_str(
                "reset: the next `tokcli login` creates a new store; the old key was kept for the moved file\n",
            );
        }
        if let Some(n) = &reset_note {
            out.push_str(&format!("reset: {n}\n"));
        }
        out.push_str(&match exit {
            None => "healthy".to_owned(),
            Some(c) => format!("unhealthy (exit {})", c.exit_code()),
        });
        ctx.printer.data(&out)?;
    }
    match exit {
        None => Ok(()),
        Some(class) => {
            let n = remaining.len();
            Err(Error::new(class, format!("doctor found {n} problem{}", if n == 1 { "" } else { "s" }))
                .hint("see the report on stdout; each problem has its own hint")
                .into())
        }
    }
}
