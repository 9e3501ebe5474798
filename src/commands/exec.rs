//! `tokcli exec`: run a command with fresh tokens in its environment; and the small helpers that
//! `token` shares for handing tokens to scripts and CI (variable names, shell quoting,
//! `$GITHUB_ENV`).
//!
//! The tokens come from `get_fresh`, so a refresh is single-flight and committed before the child
//! starts. The child inherits stdin, stdout and stderr. tokcli's secret variables are removed from
//! its environment ([`is_exec_secret_env`]) and `TOKCLI_EXEC_DEPTH` is set, so a nested `exec`
//! refuses to run. SIGINT, SIGTERM and SIGHUP sent to tokcli by another process are forwarded to
//! the child from a signal-hook thread. signal-hook chains main's handler (sys.rs), which
//! `sys::set_exit_on_signal(false)` turns into a no-op outside refreshes. The terminal's own
//! signals already reach the child's process group and are not sent twice. tokcli then exits
//! with the child's status, 128+N when signal N ended it. Nothing here prints except through the
//! Printer.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
use secrecy::{ExposeSecret, SecretString};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::Cause;
use zeroize::Zeroizing;

use super::{Ctx, Policy, get_fresh};
use crate::cli::ExecArgs;
use crate::error::Error;
use crate::model::{ProfileName, fingerprint, human_secs, now, parse_duration};
use crate::output::Printer;
use crate::store::TokenStore;

/// Set in the child's environment to the nesting depth; a nested `tokcli exec` refuses to run.
pub const DEPTH_VAR: &str = "TOKCLI_EXEC_DEPTH";

/// Whether `name` is one of tokcli's secret variables, never passed to an `exec` child:
/// `TOKCLI_STORE_KEY`, `TOKCLI_CLIENT_SECRET`, `TOKCLI_PASSPHRASE*`, and by the same rule any
/// other `TOKCLI_*` name containing `SECRET`, `PASSPHRASE` or `PASSWORD`, or ending in `_KEY`.
/// The non-secret ones (`TOKCLI_HOME`, `TOKCLI_KEY_SOURCE`, `TOKCLI_CA_FILE`, …) stay, so a
/// child's own `tokcli` finds the same store but must bring its own key.
#[must_use]
pub fn is_exec_secret_env(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("TOKCLI_") else { return false };
    ["SECRET", "PASSPHRASE", "PASSWORD"].iter().any(|w| rest.contains(w)) || rest.ends_with("_KEY") || rest == "KEY"
}

/// A portable environment variable name: letters, digits and `_`, not starting with a digit.
///
/// # Errors
/// A usage error naming the variable.
pub(super) fn check_env_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("invalid variable name {name:?}")).hint("use letters, digits and '_' only"))
    }
}

/// `value` as one POSIX shell word: as is when it holds only characters no shell treats
/// specially (every JWT and base64url token), else single-quoted. A token may hold any visible
/// ASCII character, so `eval "$(tokcli token p --format env)"` must never run part of it.
#[must_use]
pub(super) fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./+=@%,".contains(&b));
    if plain { value.to_owned() } else { format!("'{}'", value.replace('\'', r"'\''")) }
}

/// The file named by `$GITHUB_ENV`, checked before any token is fetched or masked.
///
/// # Errors
/// A usage error when `$GITHUB_ENV` is unset.
pub(super) fn github_env_file() -> Result<PathBuf, Error> {
    std::env::var_os("GITHUB_ENV").filter(|v| !v.is_empty()).map(PathBuf::from).ok_or_else(|| {
        Error::usage("--format github-env needs $GITHUB_ENV, which GitHub Actions sets in every step")
            .hint("run it in a GitHub Actions step, or use --format env elsewhere")
    })
}

/// Appends `NAME=value` to `file` (`$GITHUB_ENV`), so later steps of a GitHub Actions job get
/// `$NAME`. The caller masks the value first. Tokens hold no line breaks, so the plain form is
/// unambiguous (the `<<DELIMITER` form is only needed for multi-line values).
///
/// # Errors
/// A usage error when the file cannot be appended to.
pub(super) fn append_github_env(file: &Path, name: &str, value: &str) -> Result<(), Error> {
    if value.contains(['\r', '\n']) {
        return Err(Error::internal("a token with a line break cannot be written to $GITHUB_ENV"));
    }
    let line = Zeroizing::new(format!("{name}={value}\n"));
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(file)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| Error::usage(format!("cannot append to $GITHUB_ENV ({}): {e}", file.display())))
}

/// The current nesting depth; refuses to nest without `--allow-nested`.
fn depth(a: &ExecArgs) -> Result<u32, Error> {
    let depth = match std::env::var(DEPTH_VAR) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse::<u32>().unwrap_or(1),
        _ => 0,
    };
    if depth > 0 && !a.allow_nested {
        return Err(Error::usage(format!(
            "refusing to run inside another `tokcli exec` ({DEPTH_VAR}={depth})"
        ))
        .hint("the outer exec already put its tokens in this environment: run the command directly, or pass --allow-nested"));
    }
    Ok(depth)
}

/// `PROFILE` or `PROFILE=NAME` arguments → (profile, variable), each variable set once.
fn targets(a: &ExecArgs) -> Result<Vec<(ProfileName, String)>, Error> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(a.profiles.len());
    for spec in &a.profiles {
        let (profile, var) = spec.split_once('=').unwrap_or((spec.as_str(), a.env_name.as_str()));
        let profile = ProfileName::parse(profile)?;
        check_env_name(var)?;
        if var == DEPTH_VAR || is_exec_secret_env(var) {
            return Err(Error::usage(format!("{var} cannot carry a token: tokcli sets or removes it in the child"))
                .hint("pick another variable name, e.g. PROFILE=API_TOKEN"));
        }
        if !seen.insert(var.to_owned()) {
            return Err(Error::usage(format!("two profiles would both set ${var}"))
                .hint("name a variable for each: `tokcli exec a=A_TOKEN b=B_TOKEN -- COMMAND`"));
        }
        out.push((profile, var.to_owned()));
    }
    Ok(out)
}

pub fn run(ctx: &Ctx, a: &ExecArgs) -> anyhow::Result<()> {
    let depth = depth(a)?;
    let targets = targets(a)?;
    let min_valid = a.min_valid.as_deref().map(parse_duration).transpose()?.map(|d| d.as_secs() as i64);
    let pol =
        Policy { min_valid, force: false, no_refresh: false, strict: false, deadline: super::deadline(&a.timeout)? };
    let store = ctx.store()?.ok_or_else(|| super::no_such_profile(&targets[0].0))?;
    let mut env: Vec<(String, SecretString)> = Vec::with_capacity(targets.len());
    for (profile, var) in &targets {
        let fresh = get_fresh(ctx, &store as &dyn TokenStore, profile, &pol)?;
        ctx.printer.debug(
            1,
            &format!(
                "exec: ${var} = access token of {profile} (sha256 {}, valid for {})",
                fingerprint(&fresh.access_token),
                fresh.profile.expires_at.map_or_else(|| "an unknown time".into(), |e| human_secs(e - now()))
            ),
        );
        env.push((var.clone(), fresh.access_token));
    }
    drop(store);
    if crate::sys::interrupted() {
        // A Ctrl-C deferred until a refresh was committed (CR-04): stop before the command starts.
        std::process::exit(130);
    }
    // Registered with the runner before the child can print anything (see Printer::mask).
    for (_, token) in &env {
        ctx.printer.mask(token.expose_secret(), false)?;
    }
    let (program, args) = a.command.split_first().ok_or_else(|| Error::usage("no command given after --"))?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(is_exec_secret_env) {
            cmd.env_remove(&k);
        }
    }
    cmd.env(DEPTH_VAR, (depth + 1).to_string());
    for (var, token) in &env {
        cmd.env(var, token.expose_secret());
    }
    let code = run_child(&ctx.printer, cmd, program)?;
    drop(env);
    // The child's status is tokcli's: exit here, past main's error mapping (nothing is left to do).
    std::process::exit(code);
}

/// The pid the forwarding thread may signal, and signals that came before the child existed.
#[derive(Debug, Default)]
struct Target {
    pid: Option<Pid>,
    pending: Vec<i32>,
}

fn forward(printer: &Printer, pid: Pid, sig: i32) {
    if let Some(s) = Signal::from_named_raw(sig) {
        printer.debug(1, &format!("exec: forwarding signal {sig} to pid {}", pid.as_raw_nonzero()));
        let _ = rustix::process::kill_process(pid, s);
    }
}

/// tokcli's exit status for a finished child: its code, or 128+N for signal N.
fn exit_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Spawns the child, forwards signals to it while it runs, and returns its exit status.
fn run_child(printer: &Printer, mut cmd: Command, program: &str) -> anyhow::Result<i32> {
    let target = Arc::new(Mutex::new(Target::default()));
    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot install the signal handlers that forward signals to the command")?;
    // From here on a signal is queued for the child, so main's handler (sys.rs, chained by
    // signal-hook before our action) must no longer exit 130.
    crate::sys::set_exit_on_signal(false);
    let handle = signals.handle();
    let forwarder = {
        let target = Arc::clone(&target);
        let printer = printer.clone();
        std::thread::spawn(move || {
            for origin in signals.forever() {
                // Ctrl-C, Ctrl-\ and hangups come from the kernel and reach the whole foreground
                // process group, the child included: do not deliver them twice.
                if origin.cause == Cause::Kernel {
                    continue;
                }
                let mut t = target.lock().unwrap_or_else(PoisonError::into_inner);
                match t.pid {
                    Some(pid) => forward(&printer, pid, origin.signal),
                    None => t.pending.push(origin.signal),
                }
            }
        })
    };
    let stop = |forwarder: std::thread::JoinHandle<()>| {
        handle.close();
        let _ = forwarder.join();
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            stop(forwarder);
            let (code, hint) = match e.kind() {
                std::io::ErrorKind::NotFound => (127, "check the command name and $PATH"),
                _ => (126, "check that the command is an executable file"),
            };
            printer.error(&format!("cannot run {program:?}: {e}"), &[], Some(hint));
            return Ok(code);
        }
    };
    let pid = Pid::from_child(&child);
    {
        let mut t = target.lock().unwrap_or_else(PoisonError::into_inner);
        t.pid = Some(pid);
        for sig in std::mem::take(&mut t.pending) {
            forward(printer, pid, sig);
        }
    }
    // Wait without reaping first, so the pid cannot be reused while the forwarder may signal it.
    while let Err(rustix::io::Errno::INTR) =
        rustix::process::waitid(WaitId::Pid(pid), WaitIdOptions::EXITED | WaitIdOptions::NOWAIT)
    {}
    target.lock().unwrap_or_else(PoisonError::into_inner).pid = None;
    stop(forwarder);
    let status = child.wait().context("waiting for the command")?;
    Ok(exit_code(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_variables() {
        for v in ["TOKCLI_STORE_KEY", "TOKCLI_CLIENT_SECRET", "TOKCLI_PASSPHRASE", "TOKCLI_PASSPHRASE_FILE"] {
            assert!(is_exec_secret_env(v), "{v}");
        }
        for v in ["TOKCLI_HOME", "TOKCLI_KEY_SOURCE", "TOKCLI_CA_FILE", "TOKCLI_TOKEN", "PATH", "STORE_KEY"] {
            assert!(!is_exec_secret_env(v), "{v}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("eyJ.abc-_x"), "eyJ.abc-_x");
        assert_eq!(shell_quote("a;b"), "'a;b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("~x"), "'~x'");
        assert_eq!(shell_quote("$(id)"), "'$(id)'");
    }

    #[test]
    fn env_names() {
        assert!(check_env_name("API_TOKEN").is_ok());
        for bad in ["", "1X", "A-B", "A B", "A=B"] {
            assert!(check_env_name(bad).is_err(), "{bad}");
        }
    }
}
