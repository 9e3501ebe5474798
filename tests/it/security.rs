//! Proof of the security promises (SECURITY-RELIABILITY §2.8–2.13, issue 6), black-box where
//! possible:
//! - PH-01 the canary sweep; PH-02 no secret-bearing flag; PH-03 the browser's scrubbed
//!   environment; PH-04 secrets zeroized when dropped; PH-05 not dumpable, not traceable;
//! - SC-01/SC-02 ciphertexts bound to their place; SC-04 `rekey`; SC-05 private files;
//! - ST-01..ST-05 hostile stores, with `doctor` and `doctor --reset`;
//! - KM-03/KM-06 with a rotated keyring key;
//! - the bounded stable-Rust run of the fuzz targets in `fuzz/targets.rs`.
//!
//! Tests that need the `test-hooks` pause, fault and panic points run a second tokcli binary
//! built with `--features test-hooks` into `<target>/hooks` (once per test run; set
//! `TOKCLI_HOOKS_BIN` to use a prebuilt one). Release builds never have that feature.
//! Environment faults (read-only home, full disk, another uid) need root, as in `faults.rs`.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::mockas::{self, CLIENT_ID, MockAs, Reply};
use crate::support::{Home, KeyringSession, Run, TmpfsHome, bin, repo};

// ---------------------------------------------------------------------------------------------
// Helpers

fn canary() -> String {
    format!("CANARY{:016x}", rand::random::<u64>())
}

/// tokcli built with `--features test-hooks` (see the module docs).
fn hooks_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TOKCLI_HOOKS_BIN") {
            return PathBuf::from(p);
        }
        let target = bin().parent().and_then(Path::parent).expect("target dir").join("hooks");
        let cargo =
            std::env::var_os("CARGO").or_else(|| option_env!("CARGO").map(Into::into)).unwrap_or("cargo".into());
        // At the lowest priority, so the timing-sensitive tests running meanwhile keep the CPU.
        let nice = Path::new("/usr/bin/nice").exists();
        let mut c = Command::new(if nice { "/usr/bin/nice".into() } else { cargo.clone() });
        if nice {
            c.arg("-n19").arg(&cargo);
        }
        let out = c
            .args(["build", "--quiet", "--bin", "tokcli", "--features", "test-hooks", "--target-dir"])
            .arg(&target)
            .arg("--manifest-path")
            .arg(repo().join("Cargo.toml"))
            .output()
            .expect("run cargo");
        assert!(
            out.status.success(),
            "building tokcli with --features test-hooks failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("debug").join("tokcli")
    })
    .clone()
}

fn hooks_run(home: &Home, args: &[&str], f: impl FnOnce(&mut Command)) -> Run {
    let mut c = home.cmd_for(hooks_bin());
    c.args(args);
    f(&mut c);
    Run::of(&c.output().expect("run tokcli (hooks)"))
}

fn private_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    d
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn walk(p: &Path, f: &mut dyn FnMut(&Path, bool)) {
    let Ok(m) = std::fs::symlink_metadata(p) else { return };
    if m.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for e in entries {
            walk(&e, f);
        }
    }
    f(p, m.is_dir());
}

/// Every regular file under `dirs` whose raw bytes contain one of `needles`.
fn files_containing(dirs: &[&Path], needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    for d in dirs {
        walk(d, &mut |p, is_dir| {
            if is_dir || !std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()) {
                return;
            }
            let bytes = std::fs::read(p).unwrap_or_default();
            for n in needles {
                if contains(&bytes, n.as_bytes()) {
                    hits.push(format!("{} contains {n}", p.display()));
                }
            }
        });
    }
    hits
}

#[track_caller]
fn assert_no_files_with(dirs: &[&Path], needles: &[&str], when: &str) {
    let hits = files_containing(dirs, needles);
    assert!(hits.is_empty(), "{when}: a secret reached the disk: {hits:?}");
}

/// stderr never carries a needle; stdout only the `allowed` data (the token of `token`).
#[track_caller]
fn assert_clean(when: &str, r: &Run, needles: &[&str], allowed: &[&str]) {
    let mut out = r.stdout.clone();
    for a in allowed {
        out = out.replace(a, "");
    }
    for n in needles {
        assert!(!r.stderr.contains(n), "{when}: {n} leaked to stderr:\n{}", r.stderr);
        assert!(!out.contains(n), "{when}: {n} leaked to stdout:\n{}", r.stdout);
    }
}

/// A running tokcli whose stderr is streamed line by line.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    err: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Proc {
    fn spawn(mut c: Command) -> Proc {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn");
        let (tx, lines) = channel();
        let err = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (buf, pipe) = (std::sync::Arc::clone(&err), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                buf.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        Proc { child, lines, err }
    }

    fn line_where(&self, limit: Duration, f: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + limit;
        loop {
            match self.lines.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(l) if f(&l) => return l,
                Ok(_) => {}
                Err(_) => panic!("no matching stderr line within {limit:?}; stderr:\n{}", self.err.lock().unwrap()),
            }
        }
    }

    fn finish(mut self, limit: Duration) -> Run {
        let until = Instant::now() + limit;
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!("still running after {limit:?}; stderr:\n{}", self.err.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut stdout = Vec::new();
        if let Some(mut o) = self.child.stdout.take() {
            let _ = std::io::Read::read_to_end(&mut o, &mut stdout);
        }
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let stderr = self.err.lock().unwrap().clone();
        Run::of(&Output { status, stdout, stderr: stderr.into_bytes() })
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait_for(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn is_root() -> bool {
    // SAFETY-free: the uid of a file we just created is ours.
    let f = tempfile::NamedTempFile::new().unwrap();
    f.as_file().metadata().unwrap().uid() == 0
}

const NOBODY: u32 = 65_534;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).mode() & 0o777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

fn with_suffix(p: &Path, s: &str) -> PathBuf {
    PathBuf::from(format!("{}{s}", p.display()))
}

fn sha256(p: &Path) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(std::fs::read(p).unwrap_or_default()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The hashes of the database and its `-wal` (when not empty: an empty WAL holds no data, and
/// the test's own SQL connections delete it when they close).
fn store_hashes(home: &Home) -> Vec<(String, String)> {
    ["", "-wal"]
        .iter()
        .map(|s| with_suffix(&home.db(), s))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .map(|p| (p.display().to_string(), sha256(&p)))
        .collect()
}

fn blob(home: &Home, profile: &str, col: &str) -> Option<Vec<u8>> {
    home.sql().query_row(&format!("SELECT {col} FROM profiles WHERE name = ?1"), [profile], |r| r.get(0)).unwrap()
}

fn set_blob(home: &Home, profile: &str, col: &str, v: Option<&[u8]>) {
    let n =
        home.sql().execute(&format!("UPDATE profiles SET {col} = ?1 WHERE name = ?2"), rusqlite::params![v, profile]);
    assert_eq!(n.unwrap(), 1);
}

fn meta(home: &Home, key: &str) -> Option<String> {
    home.sql()
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get::<_, Vec<u8>>(0))
        .ok()
        .map(|v| String::from_utf8(v).unwrap())
}

fn new_key() -> String {
    (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect()
}

/// A "browser" for `BROWSER=` that records its argv and environment into `dump`, then follows
/// the redirects with curl.
fn recording_browser(dump: &Path) -> PathBuf {
    let p = dump.join("browser");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\ncat /proc/$$/cmdline > '{d}/browser.cmdline.'$$\ncat /proc/$$/environ > '{d}/browser.environ.'$$\n\
exec curl -s -L --max-time 30 -o /dev/null \"$1\"\n",
            d = dump.display()
        ),
    )
    .unwrap();
    chmod(&p, 0o755);
    p
}

/// `/proc/<pid>/cmdline` and `environ` of a running process (environ is unreadable to a
/// non-root caller when the process is not dumpable: then `None`).
fn proc_sample(pid: u32) -> (Vec<u8>, Option<Vec<u8>>) {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    (cmdline, std::fs::read(format!("/proc/{pid}/environ")).ok())
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------------------
// PH-01, PH-03: the canary sweep

/// Runs one loud command (`-vvv`, `RUST_LOG=trace`, `RUST_BACKTRACE=full`, a private TMPDIR) and
/// checks its output and the files on disk for every needle.
struct Sweep<'a> {
    home: &'a Home,
    /// The store key in force (rotated by `rekey` during the sweep).
    key: String,
    tmp: tempfile::TempDir,
    dump: tempfile::TempDir,
    needles: Vec<String>,
    browser: PathBuf,
    client_secret: String,
}

impl Sweep<'_> {
    fn loud(&self, c: &mut Command) {
        c.env("RUST_LOG", "trace")
            .env("RUST_BACKTRACE", "full")
            .env("TMPDIR", self.tmp.path())
            .env("BROWSER", &self.browser)
            .env("TOKCLI_STORE_KEY", &self.key)
            .env("TOKCLI_CLIENT_SECRET", &self.client_secret);
    }

    fn needles(&self) -> Vec<&str> {
        self.needles.iter().map(String::as_str).collect()
    }

    fn check(&self, when: &str, r: &Run, allowed: &[&str]) {
        assert_clean(when, r, &self.needles(), allowed);
        assert_no_files_with(&[self.home.path(), self.tmp.path()], &self.needles(), when);
    }

    /// Runs `tokcli -vvv ARGS` and checks everything; returns the run.
    fn run(&self, args: &[&str], allowed: &[&str]) -> Run {
        let mut full = vec!["-vvv"];
        full.extend_from_slice(args);
        let r = self.home.run_with(&full, |c| self.loud(c));
        self.check(&args.join(" "), &r, allowed);
        r
    }

    /// Runs the hooks binary paused at `point`, samples `/proc` of the paused process and the
    /// files, resumes it and checks the outcome.
    fn paused(&self, args: &[&str], point: &str, stdin: Option<&str>) -> Run {
        let pause = self.dump.path().join(format!("resume-{}", point.replace(':', "-")));
        let mut c = self.home.cmd_for(hooks_bin());
        c.arg("-vvv").args(args);
        self.loud(&mut c);
        c.env("TOKCLI_TEST_PAUSE_AT", point).env("TOKCLI_TEST_PAUSE_FILE", &pause);
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let reached = with_suffix(&pause, ".reached");
        wait_for(Duration::from_secs(30), &format!("{point} to be reached"), || reached.exists());
        let (cmdline, environ) = proc_sample(child.id());
        let canary = &self.needles[0];
        assert!(!contains(&cmdline, canary.as_bytes()), "{point}: the canary is in tokcli's argv");
        assert!(!contains(&cmdline, self.client_secret.as_bytes()), "{point}: the client secret is in tokcli's argv");
        assert!(!contains(&cmdline, self.key.as_bytes()), "{point}: the store key is in tokcli's argv");
        if let Some(env) = environ {
            // The store key and client secret are there because the test put them there.
            assert!(!contains(&env, canary.as_bytes()), "{point}: the canary is in tokcli's environment");
        } else {
            assert!(!is_root(), "root can always read /proc/PID/environ");
        }
        assert_no_files_with(&[self.home.path(), self.tmp.path()], &self.needles(), &format!("paused at {point}"));
        std::fs::write(&pause, b"").unwrap();
        let r = Run::of(&child.wait_with_output().unwrap());
        // `token` prints its token: one line, the only place a needle may be.
        let printed = if args.first() == Some(&"token") { r.line() } else { String::new() };
        self.check(&format!("{} (paused at {point})", args.join(" ")), &r, &[printed.as_str()]);
        r
    }

    fn browser_dumps(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.dump.path()).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("browser.cmdline.") {
                let cmd = std::fs::read(self.dump.path().join(&name)).unwrap();
                let env = std::fs::read(self.dump.path().join(format!("browser.environ.{pid}"))).unwrap();
                out.push((cmd, env));
            }
        }
        out
    }
}

/// PH-01 (with SC-06, PH-02, PH-03): a unique canary is in every token, code, device code and ID
/// token the mock issues. Every command runs loud, twice with a forced panic, and at two points
/// paused with the secrets in memory. The canary (and the client secret and store key) is found
/// nowhere but in `token`'s stdout: not on stderr, in other commands' stdout, in any file of the
/// home (database, `-wal`, `-shm`, locks) or of TMPDIR, in tokcli's argv and environment, or in the
/// browser's argv and environment.
#[test]
fn ph_01_canary_sweep() {
    let mock = MockAs::start();
    let c = canary();
    mock.set_canary(&c);
    mock.set_device_interval(Some(1));
    let home = Home::new();
    let dump = tempfile::tempdir().unwrap();
    let browser = recording_browser(dump.path());
    let client_secret = format!("CSECRET{:016x}", rand::random::<u64>());
    let mut sweep = Sweep {
        home: &home,
        key: home.key.clone(),
        tmp: private_dir(),
        dump,
        needles: vec![c.clone(), client_secret.clone(), home.key.clone()],
        browser,
        client_secret,
    };
    let issuer = mock.issuer();
    let login = |p: &str| -> Vec<String> {
        ["login", &issuer, "--client-id", CLIENT_ID, "--profile", p, "--timeout", "30s"].map(String::from).to_vec()
    };

    // Browser login, paused after the code exchange with every token in memory.
    let l = login("work");
    sweep.paused(&strs(&l), "login:before_store", None).ok();
    let dumps = sweep.browser_dumps();
    assert_eq!(dumps.len(), 1, "the browser ran once");
    for (cmdline, environ) in &dumps {
        for n in sweep.needles() {
            assert!(!contains(cmdline, n.as_bytes()), "PH-03: {n} in the browser's argv");
            assert!(!contains(environ, n.as_bytes()), "PH-03: {n} in the browser's environment");
        }
        for var in environ.split(|b| *b == 0) {
            assert!(!var.starts_with(b"TOKCLI_"), "PH-03: the browser got {}", String::from_utf8_lossy(var));
        }
        assert!(contains(environ, b"PATH="), "the browser's environment is scrubbed, not emptied");
    }

    // The data commands: only `token` may print the token.
    let at = mock.last_access_token().unwrap();
    let rt = mock.last_refresh_token().unwrap();
    let r = sweep.run(&["token", "work"], &[&at]);
    assert_eq!(r.ok().stdout, format!("{at}\n"));
    for fmt in ["header", "json", "env"] {
        let r = sweep.run(&["token", "work", "--format", fmt], &[&at]);
        assert!(r.ok().stdout.contains(&at) && !r.stdout.contains(&rt), "{fmt}: {}", r.stdout);
    }
    let r = home.run_with(&["-vvv", "token", "work", "--force-refresh"], |c| sweep.loud(c));
    let at = mock.last_access_token().unwrap();
    assert_eq!(r.ok().stdout, format!("{at}\n"), "the refreshed token");
    sweep.check("token --force-refresh", &r, &[&at]);

    // A refresh paused after the response, before its commit: the new tokens are in memory.
    let r = sweep.paused(&["token", "work", "--force-refresh"], "refresh:before_commit", None);
    let _ = r;
    for args in [
        &["refresh", "work"][..],
        &["refresh", "--all", "--json"],
        &["list"],
        &["list", "--json"],
        &["providers"],
        &["doctor"],
        &["doctor", "--json"],
        // exec hands the token to its child only, in the environment.
        &["exec", "work", "--", "sh", "-c", "test -n \"$TOKCLI_TOKEN\""],
    ] {
        sweep.run(args, &[]).ok();
    }

    // The other login flows: device code, client credentials, refresh-token import.
    let mut dev = home.cmd();
    dev.args(["-vvv", "login", &issuer, "--client-id", CLIENT_ID, "--profile", "dev", "--device", "--timeout", "60s"]);
    sweep.loud(&mut dev);
    dev.env_remove("TOKCLI_CLIENT_SECRET");
    let p = Proc::spawn(dev);
    p.line_where(Duration::from_secs(10), |l| l.contains("enter the code"));
    mock.approve_device();
    let r = p.finish(Duration::from_secs(30));
    sweep.check("login --device", &r, &[]);
    r.ok();
    let mut cc = login("cc");
    cc.push("--client-credentials".into());
    sweep.run(&strs(&cc), &[]).ok();
    let imported = mock.mint_refresh_token();
    let mut imp = home.cmd();
    imp.args(["-vvv", "login", &issuer, "--client-id", CLIENT_ID, "--profile", "imp", "--refresh-token-stdin"]);
    sweep.loud(&mut imp);
    imp.env_remove("TOKCLI_CLIENT_SECRET").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = imp.spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{imported}\n").as_bytes()).unwrap();
    let r = Run::of(&child.wait_with_output().unwrap());
    sweep.check("login --refresh-token-stdin", &r, &[]);
    r.ok();

    // Failures: invalid_grant, an HTML error page carrying the canary, an unknown profile.
    mock.script("/token", vec![Reply::Json(400, json!({"error": "invalid_grant", "error_description": "gone"}))]);
    sweep.run(&["token", "imp", "--force-refresh"], &[]).code(3);
    let page = format!("<html><body>{c} {c}</body></html>").into_bytes();
    let html = Reply::Raw { status: 502, content_type: "text/html".into(), body: page, headers: vec![] };
    mock.script("/token", vec![html.clone(), html.clone(), html]);
    sweep.run(&["token", "cc", "--force-refresh", "--strict"], &[]).code(4);
    mock.reset_path("/token");
    sweep.run(&["token", "nope"], &[]).code(3);

    // Forced panics with secrets in memory (the hooks binary), RUST_BACKTRACE=full.
    let mut pan = vec!["-vvv".to_owned()];
    pan.extend(login("pan"));
    let refresh_dev: Vec<String> = ["-vvv", "token", "dev", "--force-refresh"].map(String::from).to_vec();
    for (args, point) in [(refresh_dev, "refresh:after_response"), (pan, "login:before_store")] {
        let r = hooks_run(&home, &strs(&args), |c| {
            sweep.loud(c);
            c.env("TOKCLI_TEST_PANIC", point);
        });
        assert_eq!(r.code, 1, "{point}: a panic is an internal error: exit 1");
        assert!(r.stdout.is_empty(), "{point}: stdout after a panic: {}", r.stdout);
        assert!(r.stderr.contains(&format!("forced panic at {point}")), "{point}: {}", r.stderr);
        assert!(r.stderr.contains("stack backtrace"), "RUST_BACKTRACE=full gives a backtrace: {}", r.stderr);
        sweep.check(&format!("panic at {point}"), &r, &[]);
    }

    // Rotation: the new key is rekey's data; it too must then appear nowhere else.
    let r = home.run_with(&["-vvv", "token", "work"], |c| sweep.loud(c));
    let at = r.ok().line();
    sweep.check("token", &r, &[&at]);
    let r = sweep.run(&["rekey"], &[]);
    let k2 = r.ok().line();
    assert_eq!(k2.len(), 64);
    sweep.key.clone_from(&k2);
    sweep.needles.push(k2);
    let r = home.run_with(&["-vvv", "token", "work"], |c| sweep.loud(c));
    assert_eq!(r.ok().stdout, format!("{at}\n"));
    sweep.check("token after rekey", &r, &[&at]);
    sweep.run(&["doctor"], &[]).code(3); // `imp` needs a new login after invalid_grant
    sweep.run(&["revoke", "work"], &[]).ok();
    sweep.run(&["revoke", "cc", "dev", "imp", "--local-only"], &[]).ok();
    sweep.run(&["list", "--json"], &[]).ok();
    assert!(mock.count("/revoke") >= 1);
    assert!(std::fs::read_dir(sweep.tmp.path()).unwrap().next().is_none(), "tokcli left files in TMPDIR");
}

// ---------------------------------------------------------------------------------------------
// PH-02: no secret-bearing flag

/// PH-02: walks the clap definition of every subcommand (hidden ones too): no argument that
/// takes a value is named for a secret, no environment-backed argument can show a secret in
/// `--help`, and the secrets the CLI needs come in through `-stdin` switches.
#[test]
fn ph_02_no_secret_bearing_flags() {
    use clap::CommandFactory as _;
    const SECRET_WORDS: [&str; 12] = [
        "secret",
        "token",
        "password",
        "passwd",
        "passphrase",
        "key",
        "credential",
        "code",
        "verifier",
        "assertion",
        "cookie",
        "bearer",
    ];
    // A value that names where a secret is (a file, an fd, a variable name, a URL) is fine.
    const HARMLESS_SUFFIXES: [&str; 6] = ["-file", "-fd", "-name", "-endpoint", "-url", "-id"];
    fn visit(cmd: &clap::Command, path: &str, found: &mut Vec<String>, switches: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            let name = a.get_long().map_or_else(|| a.get_id().as_str().replace('_', "-"), str::to_owned);
            let lower = name.to_ascii_lowercase();
            if a.get_action().takes_values() {
                let secretish = SECRET_WORDS.iter().any(|w| lower.contains(w));
                if secretish && !HARMLESS_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
                    found.push(format!("{path} --{name} takes a value"));
                }
            } else if lower.ends_with("-stdin") {
                switches.push(format!("{path} --{name}"));
            }
            if let Some(env) = a.get_env().and_then(|e| e.to_str()) {
                let e = env.to_ascii_uppercase();
                let secret_env = ["SECRET", "KEY", "PASS", "TOKEN"].iter().any(|w| e.contains(w));
                if secret_env && !a.is_hide_env_values_set() {
                    found.push(format!("{path} --{name} would show ${env} in --help"));
                }
            }
        }
        for s in cmd.get_subcommands() {
            visit(s, &format!("{path} {}", s.get_name()), found, switches);
        }
    }
    let (mut found, mut switches) = (Vec::new(), Vec::new());
    let cmd = tokcli::cli::Cli::command();
    visit(&cmd, "tokcli", &mut found, &mut switches);
    assert!(found.is_empty(), "secret-bearing arguments: {found:#?}");
    for want in ["tokcli login --client-secret-stdin", "tokcli login --refresh-token-stdin"] {
        assert!(switches.iter().any(|s| s == want), "{want} missing; switches: {switches:?}");
    }
    // The rendered help of every subcommand agrees (the binary, not just the types).
    let home = Home::new();
    for sub in cmd.get_subcommands().map(|s| s.get_name().to_owned()) {
        let h = home.run(&[&sub, "--help"]);
        h.ok();
        for bad in ["--client-secret <", "--refresh-token <", "--access-token", "--password", "--store-key"] {
            assert!(!h.stdout.contains(bad), "{sub} --help shows {bad}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PH-04: zeroize on drop, checked by a scanning allocator

/// A global allocator that, while armed on the current thread, scans every block freed (and every
/// block a `realloc` may move away from) for the armed needles before handing it back.
#[allow(unsafe_code)]
mod leak {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

    const N: usize = 4;
    const LEN: usize = 64;
    static NEEDLES: [[AtomicU8; LEN]; N] = [const { [const { AtomicU8::new(0) }; LEN] }; N];
    static LENS: [AtomicUsize; N] = [const { AtomicUsize::new(0) }; N];
    static HITS: AtomicUsize = AtomicUsize::new(0);
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    thread_local! {
        static ARMED: Cell<bool> = const { Cell::new(false) };
    }

    pub struct Scanning;

    fn armed() -> bool {
        ARMED.try_with(Cell::get).unwrap_or(false)
    }

    /// # Safety
    /// `p` must point at `len` readable bytes.
    unsafe fn scan(p: *const u8, len: usize) {
        // SAFETY: the caller passes a block it still owns.
        let hay = unsafe { std::slice::from_raw_parts(p, len) };
        for i in 0..N {
            let n = LENS[i].load(Ordering::Relaxed);
            if n == 0 || n > hay.len() {
                continue;
            }
            let found =
                hay.windows(n).any(|w| w.iter().enumerate().all(|(j, b)| *b == NEEDLES[i][j].load(Ordering::Relaxed)));
            if found {
                HITS.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    // SAFETY: every method forwards to `System` with the same layouts; `realloc` while armed is
    // an explicit allocate-copy-free so the old block can be scanned before it is freed.
    unsafe impl GlobalAlloc for Scanning {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if armed() {
                unsafe { scan(ptr, layout.size()) };
            }
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if !armed() {
                return unsafe { System.realloc(ptr, layout, new_size) };
            }
            // Treat every realloc as a move: the allocator is free to move the block, and then the
            // old bytes stay behind in freed memory.
            let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else { return std::ptr::null_mut() };
            let new = unsafe { System.alloc(new_layout) };
            if !new.is_null() {
                unsafe {
                    std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    scan(ptr, layout.size());
                    System.dealloc(ptr, layout);
                }
            }
            new
        }
    }

    /// Runs `f` with the allocator armed for `needles`; returns how many freed blocks held one.
    pub fn freed_with<R>(needles: &[&[u8]], f: impl FnOnce() -> R) -> usize {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        assert!(needles.len() <= N);
        for (i, n) in needles.iter().enumerate() {
            assert!(n.len() <= LEN && !n.is_empty());
            for (j, b) in n.iter().enumerate() {
                NEEDLES[i][j].store(*b, Ordering::Relaxed);
            }
            LENS[i].store(n.len(), Ordering::Relaxed);
        }
        HITS.store(0, Ordering::Relaxed);
        ARMED.with(|a| a.set(true));
        let r = f();
        drop(r);
        ARMED.with(|a| a.set(false));
        for l in &LENS {
            l.store(0, Ordering::Relaxed);
        }
        HITS.load(Ordering::Relaxed)
    }
}

#[global_allocator]
static SCANNING: leak::Scanning = leak::Scanning;

/// PH-04: the secret-holding types of tokcli free no copy of a secret: SecretString (and its
/// clones), the sealing and opening of secrets, the derived AEAD key inside a `Cipher`, the
/// store key when decoded or read from a key file, the key hex written by `rekey`. A plain
/// `String` is the positive control that proves the scanner sees what it should.
#[test]
fn ph_04_secrets_are_zeroized_when_dropped() {
    use secrecy::ExposeSecret as _;
    use tokcli::model::{SecretString, Secrets};
    use tokcli::store::crypto::{Cipher, Field, Place};
    use tokcli::store::keys::{KeySource, decode_key};
    use zeroize::Zeroizing;

    let text = Zeroizing::new(format!("PH04{:032x}", rand::random::<u128>()));
    let needle = text.as_bytes();
    // The control: a plain String is freed with the secret in it, and the scanner sees it.
    assert!(leak::freed_with(&[needle], || drop(String::from(text.as_str()))) > 0, "the scanner is blind");

    let n = leak::freed_with(&[needle], || {
        let s = SecretString::from(String::from(text.as_str()));
        let c = s.clone();
        drop((s, c));
        drop(tokcli::model::secret(text.as_str()));
        drop(Secrets { access_token: Some(tokcli::model::secret(text.as_str())), ..Secrets::default() });
    });
    assert_eq!(n, 0, "SecretString / Secrets left the secret in freed memory");

    let key_hex = Zeroizing::new(new_key());
    let raw: Zeroizing<Vec<u8>> =
        Zeroizing::new((0..32).map(|i| u8::from_str_radix(&key_hex[2 * i..2 * i + 2], 16).unwrap()).collect());
    let key = decode_key(&key_hex).unwrap();
    let cipher = Cipher::new(&key, "store");
    let place = Place { profile_id: 1, generation: 1 };
    let s = SecretString::from(String::from(text.as_str()));
    let n = leak::freed_with(&[needle], || {
        let blob = cipher.seal(Field::RefreshToken, place, &s);
        let back = cipher.open(Field::RefreshToken, place, &blob, "p").unwrap();
        assert_eq!(back.expose_secret(), text.as_str());
    });
    assert_eq!(n, 0, "sealing or opening left the plaintext in freed memory");

    let enc = {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"tokcli"), &raw);
        let mut k = Zeroizing::new([0u8; 32]);
        hk.expand(b"tokcli/v1/enc", &mut k[..]).unwrap();
        k
    };
    let n = leak::freed_with(&[&enc[..], &raw[..]], || drop(Box::new(Cipher::new(&key, "store"))));
    assert_eq!(n, 0, "a dropped Cipher left its AEAD key (or the store key) in freed memory");

    let b64 = Zeroizing::new(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &raw[..]));
    let n = leak::freed_with(&[&raw[..], &key_hex.as_bytes()[..32]], || {
        drop(decode_key(&key_hex).unwrap());
        drop(decode_key(&b64).unwrap());
    });
    assert_eq!(n, 0, "decoding the store key left it in freed memory");

    let dir = private_dir();
    let path = dir.path().join("key");
    std::fs::write(&path, key_hex.as_bytes()).unwrap();
    chmod(&path, 0o600);
    let src = KeySource::File(path);
    let n = leak::freed_with(&[&raw[..], &key_hex.as_bytes()[..32]], || {
        drop(src.load("store").unwrap());
        // rekey's staging writes the key as hex (`keys::hex`) and reads it back.
        src.stage("store", &key).unwrap();
    });
    assert_eq!(n, 0, "loading or staging a key file left the key in freed memory");
}

/// PH-04 for the token-response parser: the parsed `serde_json::Value` is wiped when dropped and
/// the tokens are moved out of it, so no freed block holds the access token.
#[test]
fn ph_04_token_response_parsing_leaves_no_copy() {
    use tokcli::provider::http::Response;
    let tok = format!("PH04AT{:032x}", rand::random::<u128>());
    let body = format!(r#"{{"access_token":"{tok}","token_type":"Bearer","expires_in":3600}}"#).into_bytes();
    let resp = Response {
        status: 200,
        content_type: "application/json".into(),
        body: body.into(),
        retry_after: None,
        location: None,
    };
    let n = leak::freed_with(&[tok.as_bytes()], || {
        drop(tokcli::provider::token::parse_token_response(&resp, 1_700_000_000).unwrap());
    });
    assert_eq!(n, 0, "{n} freed blocks held the access token");
}

// ---------------------------------------------------------------------------------------------
// PH-05: not dumpable

/// PH-05: while `login` waits for the browser, tokcli is not dumpable: the kernel then makes its
/// `/proc/PID/*` files root-owned, so a same-uid process can neither read its memory or environment
/// nor ptrace it. A `sleep` of the same user is the control. As root, both run as `nobody`.
#[test]
fn ph_05_not_dumpable_while_login_waits() {
    let mock = MockAs::start();
    let home = Home::new();
    let root = is_root();
    let as_user = |c: &mut Command| {
        if root {
            use std::os::unix::process::CommandExt as _;
            c.uid(NOBODY).gid(NOBODY);
        }
    };
    if root {
        std::os::unix::fs::chown(home.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let me = if root { NOBODY } else { home.path().metadata().unwrap().uid() };
    let mut c = home.cmd();
    c.args(["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "p", "--no-browser", "--timeout", "60s"]);
    as_user(&mut c);
    let p = Proc::spawn(c);
    p.line_where(Duration::from_secs(10), |l| l.trim_start().starts_with("http"));
    let pid = p.child.id();
    let mut control = Command::new("sleep");
    control.arg("30");
    as_user(&mut control);
    let mut control = control.spawn().unwrap();

    let owner = |pid: u32| std::fs::metadata(format!("/proc/{pid}/environ")).unwrap().uid();
    assert_eq!(owner(control.id()), me, "control: a dumpable process owns its /proc/PID files");
    assert_eq!(owner(pid), 0, "tokcli is dumpable: /proc/{pid}/environ is owned by uid {}", owner(pid));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains(&format!("Uid:\t{me}")), "tokcli runs as {me}");
    if root {
        let read_as_user = |pid: u32| {
            let mut cat = Command::new("cat");
            cat.arg(format!("/proc/{pid}/environ")).stdout(Stdio::null()).stderr(Stdio::null());
            as_user(&mut cat);
            cat.status().unwrap().success()
        };
        assert!(read_as_user(control.id()), "control: the same user reads a dumpable process's environment");
        assert!(!read_as_user(pid), "the same user read tokcli's environment");
    }
    let _ = control.kill();
    let _ = control.wait();
    drop(p);
}

// ---------------------------------------------------------------------------------------------
// SC-01, SC-02, SC-03: ciphertexts bound to their place, and to their key

/// SC-01/SC-02, black-box with SQL: swapping the refresh tokens of two profiles, copying the
/// access-token ciphertext into the refresh-token column, restoring a refresh token from one
/// generation earlier, a ciphertext from another store, and single bit flips (version, nonce,
/// body, tag): each gives exit 5 "integrity failure" with a hint, and no network request.
#[test]
fn sc_02_swapped_copied_replayed_or_flipped_ciphertexts_are_refused() {
    let mock = MockAs::start();
    let c = canary();
    mock.set_canary(&c);
    let home = Home::new();
    mockas::login(&home, &mock, "a");
    mockas::login(&home, &mock, "b");
    let old_rt = blob(&home, "a", "refresh_token_ct").unwrap();
    // Both rows at generation 2, so a swap between them differs only in the profile id.
    home.run(&["token", "a", "--force-refresh"]).ok();
    home.run(&["token", "b", "--force-refresh"]).ok();
    let good = |p: &str, col: &str| blob(&home, p, col).unwrap();
    let (a_at, a_rt, b_rt) =
        (good("a", "access_token_ct"), good("a", "refresh_token_ct"), good("b", "refresh_token_ct"));
    let requests = || mock.all_requests().len();

    let refused = |what: &str, profiles: &[&str]| {
        let before = requests();
        for p in profiles {
            for args in [&["token", p][..], &["token", p, "--force-refresh"]] {
                let r = home.run(args);
                r.code(5);
                assert!(r.stdout.is_empty());
                assert!(r.stderr.contains("integrity failure"), "{what}: {}", r.stderr);
                assert!(r.stderr.contains("hint:"), "{what}: {}", r.stderr);
                assert!(!r.stderr.contains(&c), "{what}: {}", r.stderr);
            }
        }
        assert_eq!(requests(), before, "{what}: no network request");
    };
    let restore = || {
        set_blob(&home, "a", "access_token_ct", Some(&a_at));
        set_blob(&home, "a", "refresh_token_ct", Some(&a_rt));
        set_blob(&home, "b", "refresh_token_ct", Some(&b_rt));
        home.run(&["token", "a"]).ok();
        home.run(&["token", "b"]).ok();
    };

    set_blob(&home, "a", "refresh_token_ct", Some(&b_rt));
    set_blob(&home, "b", "refresh_token_ct", Some(&a_rt));
    refused("refresh tokens swapped between profiles", &["a", "b"]);
    restore();

    set_blob(&home, "a", "refresh_token_ct", Some(&a_at));
    refused("access token copied into the refresh-token field", &["a"]);
    restore();

    set_blob(&home, "a", "refresh_token_ct", Some(&old_rt));
    refused("refresh token restored from one generation earlier", &["a"]);
    restore();

    for (what, at) in [("version byte", 0), ("nonce", 5), ("ciphertext", 30), ("tag", a_at.len() - 1)] {
        let mut flipped = a_at.clone();
        flipped[at] ^= 0x10;
        set_blob(&home, "a", "access_token_ct", Some(&flipped));
        refused(&format!("a bit flip in the {what}"), &["a"]);
        restore();
    }

    // The whole row, with the same key, in another store: only the store id in the associated
    // data differs.
    let mut other = Home::new();
    other.key.clone_from(&home.key);
    mockas::login(&other, &mock, "a");
    let cols = "id, generation, access_token_ct, refresh_token_ct, id_token_ct, client_secret_ct";
    type Row = (i64, i64, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);
    let row: Row = home
        .sql()
        .query_row(&format!("SELECT {cols} FROM profiles WHERE name='a'"), [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .unwrap();
    other
        .sql()
        .execute(
            "UPDATE profiles SET id = ?1, generation = ?2, access_token_ct = ?3, refresh_token_ct = ?4,
               id_token_ct = ?5, client_secret_ct = ?6 WHERE name = 'a'",
            rusqlite::params![row.0, row.1, row.2, row.3, row.4, row.5],
        )
        .unwrap();
    let before = mock.all_requests().len();
    let r = other.run(&["token", "a"]);
    r.code(5);
    assert!(r.stderr.contains("integrity failure"), "{}", r.stderr);
    assert_eq!(mock.all_requests().len(), before);
}

/// SC-03: another valid key is refused at open time with exit 6 naming both key ids, before any
/// decryption; a forged `meta.key_id` does not help.
#[test]
fn sc_03_wrong_key_is_refused_before_decryption() {
    let mock = MockAs::start();
    let home = Home::new();
    mockas::login(&home, &mock, "a");
    let kid = meta(&home, "key_id").unwrap();
    let before = store_hashes(&home);
    let other = new_key();
    let r = home.run_with(&["token", "a"], |c| {
        c.env("TOKCLI_STORE_KEY", &other);
    });
    r.code(6);
    assert!(r.stderr.contains("does not match") && r.stderr.contains(&kid), "{}", r.stderr);
    assert_eq!(store_hashes(&home), before);
    // Pretend the store expects the other key's id: the key check still fails.
    let mut fake = Home::new();
    fake.key.clone_from(&other);
    mockas::login(&fake, &mock, "x");
    let other_kid = meta(&fake, "key_id").unwrap();
    home.sql().execute("UPDATE meta SET value = ?1 WHERE key = 'key_id'", [other_kid.as_bytes()]).unwrap();
    let r = home.run_with(&["token", "a"], |c| {
        c.env("TOKCLI_STORE_KEY", &other);
    });
    r.code(6);
    assert!(r.stderr.contains("does not match"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// SC-05: private files

/// SC-05: after a login the directory is 700 and the database, `-wal`, `-shm` and lock files are
/// 600, even when tokcli is started with umask 000. A group/world-accessible directory, database,
/// `-wal` or `-shm` is refused with exit 5 and a hint, then repaired by `--fix-permissions`; a
/// store owned by another uid is refused (root only).
#[test]
fn sc_05_private_files_and_refusal() {
    let mock = MockAs::start();
    let home = Home::new();
    // tokcli creates the directory itself.
    std::fs::remove_dir(home.path()).unwrap();
    // A permissive umask in the caller: tokcli must not depend on it.
    let login = Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$@\"")
        .arg("sh")
        .arg(bin())
        .args(["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "work", "--timeout", "30s"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TOKCLI_HOME", home.path())
        .env("TOKCLI_KEY_SOURCE", "env")
        .env("TOKCLI_STORE_KEY", &home.key)
        .env("BROWSER", mockas::browser_script())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run::of(&login).ok();
    home.run(&["token", "work", "--force-refresh"]).ok();
    let db = home.db();
    let mut expect = vec![
        (home.path().to_path_buf(), 0o700),
        (db.clone(), 0o600),
        (with_suffix(&db, "-wal"), 0o600),
        (with_suffix(&db, "-shm"), 0o600),
        (home.path().join("locks"), 0o700),
    ];
    let locks: Vec<PathBuf> =
        std::fs::read_dir(home.path().join("locks")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(locks.iter().any(|p| p.ends_with("work.lock")), "{locks:?}");
    expect.extend(locks.into_iter().map(|p| (p, 0o600)));
    for (p, want) in &expect {
        assert_eq!(mode(p), *want, "{}", p.display());
    }
    for (p, bad) in [
        (home.path().to_path_buf(), 0o755),
        (db.clone(), 0o644),
        (with_suffix(&db, "-wal"), 0o640),
        (with_suffix(&db, "-shm"), 0o604),
    ] {
        let want = mode(&p);
        chmod(&p, bad);
        let r = home.run(&["token", "work"]);
        r.code(5);
        assert!(r.stdout.is_empty());
        assert!(r.stderr.contains("accessible by other users"), "{}: {}", p.display(), r.stderr);
        assert!(r.stderr.contains("--fix-permissions"), "{}", r.stderr);
        let d = home.run(&["doctor"]);
        d.code(5);
        assert!(d.stdout.contains("accessible by other users"), "{}", d.stdout);
        home.run(&["token", "work", "--fix-permissions"]).ok();
        assert_eq!(mode(&p), want, "{} repaired", p.display());
    }
    // doctor --fix-permissions also repairs lock files.
    let lock = home.path().join("locks/work.lock");
    chmod(&lock, 0o666);
    home.run(&["doctor"]).code(5);
    home.run(&["doctor", "--fix-permissions"]).ok();
    assert_eq!(mode(&lock), 0o600);
    if is_root() {
        std::os::unix::fs::chown(&db, Some(NOBODY), None).unwrap();
        let r = home.run(&["token", "work", "--fix-permissions"]);
        r.code(5);
        assert!(r.stderr.contains("owned by another user"), "{}", r.stderr);
        std::os::unix::fs::chown(&db, Some(0), None).unwrap();
        home.run(&["token", "work"]).ok();
    }
}

// ---------------------------------------------------------------------------------------------
// ST-01..ST-05: hostile stores

/// One refusal: exit 5, empty stdout, an error and a hint that say what to do, no panic, and
/// every store file unchanged byte for byte.
#[track_caller]
fn assert_refused(home: &Home, args: &[&str], want: &str) -> Run {
    let before = store_hashes(home);
    let r = home.run(args);
    r.code(5);
    assert!(r.stdout.is_empty(), "{args:?}: stdout {:?}", r.stdout);
    assert!(r.stderr.contains(want), "{args:?}: expected {want:?} in\n{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{args:?}: no hint in\n{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    assert_eq!(store_hashes(home), before, "{args:?} changed the store");
    r
}

/// ST-01: a real store truncated to half, random bytes, an SQLite header followed by random
/// bytes, and a valid SQLite database of another program: every command refuses with exit 5
/// without touching the file (`login` never re-initialises over it), `doctor` explains, and
/// `doctor --reset` moves the file aside intact, after which a login starts afresh.
#[test]
fn st_01_unreadable_and_foreign_files_are_refused_untouched() {
    let mock = MockAs::start();
    let seed = Home::new();
    mockas::login(&seed, &mock, "work");
    let real = std::fs::read(seed.db()).unwrap();
    let random = |n: usize| (0..n).map(|_| rand::random::<u8>()).collect::<Vec<u8>>();
    let foreign = {
        let d = private_dir();
        let p = d.path().join("other.db");
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
        drop(c);
        std::fs::read(&p).unwrap()
    };
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("truncated to half", real[..real.len() / 2].to_vec(), "store"),
        ("random bytes", random(4096), "store unreadable"),
        ("SQLite header, random body", [b"SQLite format 3\0".as_slice(), &random(8192)].concat(), "store"),
        ("another program's database", foreign, "not a tokcli store"),
    ];
    for (what, bytes, want) in cases {
        let home = Home::new();
        std::fs::write(home.db(), &bytes).unwrap();
        chmod(&home.db(), 0o600);
        for args in [&["token", "work"][..], &["list"], &["rekey"]] {
            let r = assert_refused(&home, args, want);
            assert!(r.stderr.contains("doctor"), "{what}: the hint names doctor: {}", r.stderr);
        }
        let r = home.run_stdin(
            &["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "x", "--refresh-token-stdin"],
            &format!("{}\n", mock.mint_refresh_token()),
            |_| {},
        );
        assert_eq!(r.code, 5, "{what}: login over an unreadable store: {}", r.stderr);
        assert_eq!(std::fs::read(home.db()).unwrap(), bytes, "{what}: login re-initialised the store");
        let d = home.run(&["doctor"]);
        d.code(5);
        assert!(d.stdout.contains("FAIL") && d.stdout.contains("--reset"), "{what}: {}", d.stdout);
        assert_eq!(std::fs::read(home.db()).unwrap(), bytes, "{what}: doctor changed the file");
        let r = home.run(&["doctor", "--reset", "--json"]);
        r.ok();
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let moved: Vec<PathBuf> =
            v["reset"]["moved"].as_array().unwrap().iter().map(|p| PathBuf::from(p.as_str().unwrap())).collect();
        let main = moved
            .iter()
            .find(|p| !p.display().to_string().ends_with("-wal") && !p.display().to_string().ends_with("-shm"));
        let main = main.unwrap_or_else(|| panic!("{what}: nothing moved: {}", r.stdout));
        assert!(main.display().to_string().contains("tokcli.db.corrupt-"), "{}", main.display());
        assert_eq!(std::fs::read(main).unwrap(), bytes, "{what}: the moved file is intact");
        assert!(!home.db().exists());
        mockas::login(&home, &mock, "fresh");
        home.run(&["token", "fresh"]).ok();
    }
}

/// ST-02: one page of a real store overwritten in place (the page holding a profile's secrets):
/// reading it gives exit 5 with a hint to run `doctor`, never a panic or a wrong token; `doctor`
/// prints the `integrity_check` errors and exits 5; nothing is modified until `doctor --reset`
/// moves the store and its `-wal`/`-shm` aside.
#[test]
fn st_02_corrupted_page() {
    let mock = MockAs::start();
    let home = Home::new();
    let names = mockas::login_many(&home, &mock, 24);
    let target = &names[12];
    let ct = blob(&home, target, "access_token_ct").unwrap();
    let page_size: usize = home.sql().query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0)).unwrap() as usize;
    let mut bytes = std::fs::read(home.db()).unwrap();
    let at = bytes.windows(ct.len()).position(|w| w == ct.as_slice()).expect("the ciphertext is in the main file");
    let page = at / page_size;
    assert!(page > 0, "not the header page");
    for b in &mut bytes[page * page_size..(page + 1) * page_size] {
        *b = rand::random();
    }
    std::fs::write(home.db(), &bytes).unwrap();
    let sha = sha256(&home.db());

    let r = assert_refused(&home, &["token", target], "corrupt");
    assert!(r.stderr.contains("doctor"), "{}", r.stderr);
    assert_refused(&home, &["list"], "corrupt");
    for n in &names {
        let r = home.run(&["token", n]);
        assert!(r.code == 0 || r.code == 5, "{n}: exit {} {}", r.code, r.stderr);
    }
    let d = home.run(&["doctor"]);
    d.code(5);
    assert!(d.stdout.contains("integrity_check reports"), "{}", d.stdout);
    assert!(
        ["Tree", "page", "malformed"].iter().any(|w| d.stdout.contains(w)),
        "the SQLite messages are shown: {}",
        d.stdout
    );
    let j = home.run(&["doctor", "--json"]);
    j.code(5);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["healthy"], false);
    assert_eq!(v["exit_code"], 5);
    assert_eq!(sha256(&home.db()), sha, "nothing modified the corrupt store");

    let wal = std::fs::read(with_suffix(&home.db(), "-wal")).ok();
    let r = home.run(&["doctor", "--reset"]);
    r.ok();
    assert!(r.stdout.contains("reset moved aside"), "{}", r.stdout);
    assert!(
        !home.db().exists() && !with_suffix(&home.db(), "-wal").exists() && !with_suffix(&home.db(), "-shm").exists()
    );
    let moved: Vec<PathBuf> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.display().to_string().contains(".corrupt-"))
        .collect();
    let main = moved
        .iter()
        .find(|p| !p.display().to_string().ends_with("-wal") && !p.display().to_string().ends_with("-shm"))
        .unwrap();
    assert_eq!(sha256(main), sha, "the moved store is intact");
    if let Some(w) = wal {
        assert_eq!(std::fs::read(with_suffix(main, "-wal")).unwrap(), w, "the -wal moved with it");
    }
    mockas::login(&home, &mock, "fresh");
    home.run(&["token", "fresh"]).ok();
}

/// ST-03: a store from a newer tokcli (`user_version` 999): nothing writes to it and nothing is
/// sent: `token` of an expired token, `list`, `login` and `rekey` exit 5 with "upgrade tokcli";
/// `doctor` says so and `doctor --reset` refuses to move it.
#[test]
fn st_03_newer_schema_is_refused_unmodified() {
    let mock = MockAs::start();
    let home = Home::new();
    mockas::login(&home, &mock, "work");
    home.expire("work");
    home.sql().execute_batch("PRAGMA user_version = 999").unwrap();
    let requests = mock.all_requests().len();
    for args in [&["token", "work"][..], &["list"], &["rekey"], &["refresh", "--all"]] {
        let r = assert_refused(&home, args, "newer tokcli");
        assert!(r.stderr.contains("upgrade tokcli"), "{}", r.stderr);
    }
    assert_eq!(mock.all_requests().len(), requests, "nothing was sent for the stale token");
    let before = store_hashes(&home);
    let r = home.run_stdin(
        &["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "x", "--refresh-token-stdin"],
        &format!("{}\n", mock.mint_refresh_token()),
        |_| {},
    );
    r.code(5);
    assert_eq!(store_hashes(&home), before);
    let d = home.run(&["doctor", "--reset"]);
    d.code(5);
    assert!(d.stdout.contains("newer tokcli") && d.stdout.contains("nothing was moved"), "{}", d.stdout);
    assert!(home.db().exists());
    assert_eq!(store_hashes(&home), before);
}

/// Makes a home read-only for the runs of [`ReadOnlyHome::run`] (as root: chowned to `nobody` with
/// the write bits removed, and tokcli run as `nobody`); restores it on drop.
struct ReadOnlyHome<'a> {
    home: &'a Home,
    root: bool,
}

impl<'a> ReadOnlyHome<'a> {
    fn new(home: &'a Home) -> Self {
        let root = is_root();
        walk(home.path(), &mut |p, is_dir| {
            if root {
                std::os::unix::fs::lchown(p, Some(NOBODY), Some(NOBODY)).unwrap();
            }
            chmod(p, if is_dir { 0o500 } else { 0o400 });
        });
        Self { home, root }
    }

    fn run(&self, args: &[&str], f: impl FnOnce(&mut Command)) -> Run {
        self.home.run_with(args, |c| {
            if self.root {
                use std::os::unix::process::CommandExt as _;
                c.uid(NOBODY).gid(NOBODY);
            }
            f(c);
        })
    }
}

impl Drop for ReadOnlyHome<'_> {
    fn drop(&mut self) {
        walk(self.home.path(), &mut |p, is_dir| {
            if is_dir {
                chmod(p, 0o700);
            }
        });
        walk(self.home.path(), &mut |p, is_dir| {
            if !is_dir {
                chmod(p, 0o600);
            }
            if self.root {
                let _ = std::os::unix::fs::lchown(p, Some(0), Some(0));
            }
        });
    }
}

/// ST-04 (beyond FI-23's `token`): in a read-only home, `doctor` still reads and reports,
/// `rekey` exits 5 before touching the key source (for `env`: before printing a key), and a
/// `--reset` exits 5 with nothing moved.
#[test]
fn st_04_read_only_home_rekey_and_doctor() {
    let mock = MockAs::start();
    let home = Home::new();
    mockas::login(&home, &mock, "work");
    let before = store_hashes(&home);
    {
        let ro = ReadOnlyHome::new(&home);
        let d = ro.run(&["doctor"], |_| {});
        assert!(d.code == 0, "doctor reads a read-only store: {}\n{}", d.stdout, d.stderr);
        let r = ro.run(&["rekey"], |_| {});
        r.code(5);
        assert!(r.stdout.is_empty(), "no key printed: {}", r.stdout);
        assert!(r.stderr.contains("cannot rotate"), "{}", r.stderr);
        ro.run(&["token", "work"], |_| {}).ok();
    }
    assert_eq!(store_hashes(&home), before);
    // A file: key source whose directory stays writable: rekey must stop at the store, before it
    // stages a key next to the current one.
    let keys = private_dir();
    let keyfile = keys.path().join("store.key");
    let fhome = Home::new();
    let file_env = |c: &mut Command| {
        c.env("TOKCLI_KEY_SOURCE", format!("file:{}", keyfile.display())).env_remove("TOKCLI_STORE_KEY");
    };
    fhome
        .run_with(&["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "f", "--timeout", "30s"], |c| {
            file_env(c);
            c.env("BROWSER", mockas::browser_script());
        })
        .ok();
    {
        let ro = ReadOnlyHome::new(&fhome);
        if ro.root {
            for p in [keys.path(), keyfile.as_path()] {
                std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).unwrap();
            }
        }
        let r = ro.run(&["rekey"], file_env);
        r.code(5);
        assert!(r.stderr.contains("cannot rotate"), "{}", r.stderr);
        if ro.root {
            for p in [keys.path(), keyfile.as_path()] {
                std::os::unix::fs::chown(p, Some(0), Some(0)).unwrap();
            }
        }
    }
    let names: Vec<String> = std::fs::read_dir(keys.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["store.key".to_owned()], "no staged key was written");
    fhome.run_with(&["token", "f"], file_env).ok();
}

/// ST-04/CR-02 for `login`: in a read-only home, a login that can never be stored must not
/// spend anything at the provider. Known gap: `login` exchanges the code (or rotates an
/// imported refresh token) before it finds out that the store cannot be written.
#[test]
fn st_04_read_only_home_login_spends_nothing() {
    let mock = MockAs::start();
    let home = Home::new();
    mockas::login(&home, &mock, "work");
    let rt = mock.mint_refresh_token();
    let ro = ReadOnlyHome::new(&home);
    let args = ["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "x", "--refresh-token-stdin"];
    let r = home.run_stdin(&args, &format!("{rt}\n"), |c| {
        if ro.root {
            use std::os::unix::process::CommandExt as _;
            c.uid(NOBODY).gid(NOBODY);
        }
    });
    r.code(5);
    assert_eq!(mock.count("/token"), 1, "only the first login's exchange");
}

/// ST-05: on a full disk a second `login` fails (exit 5, or 7) and leaves no partial profile
/// once space is freed; `rekey` exits 5 and the old key still opens the store; the first profile
/// keeps working throughout.
#[test]
fn st_05_full_disk_login_and_rekey() {
    let t = TmpfsHome::new();
    let mock = MockAs::start();
    mockas::login(&t.home, &mock, "work");
    let at = t.home.run(&["token", "work"]).ok().line();
    let filler = t.fill();
    let r = t.home.run_stdin(
        &["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "second", "--refresh-token-stdin"],
        &format!("{}\n", mock.mint_refresh_token()),
        |_| {},
    );
    assert!(r.code == 5 || r.code == 7, "login on a full disk: exit {} {}", r.code, r.stderr);
    assert!(r.stdout.is_empty());
    let r = t.home.run(&["rekey"]);
    r.code(5);
    assert_eq!(t.home.run(&["token", "work"]).ok().line(), at, "a fresh token is readable on a full disk");
    std::fs::remove_file(filler).unwrap();
    let names: Vec<String> = t
        .home
        .sql()
        .prepare("SELECT name FROM profiles")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(names, vec!["work".to_owned()], "no partial profile");
    assert_eq!(t.home.run(&["token", "work"]).ok().line(), at, "the old key still opens the store");
    t.home.run(&["doctor"]).ok();
}

// ---------------------------------------------------------------------------------------------
// SC-04: rekey

fn hex_line(r: &Run) -> String {
    let k = r.stdout.trim_end().to_owned();
    assert!(k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()), "not a key on stdout: {:?}", r.stdout);
    k
}

/// SC-04 with `TOKCLI_KEY_SOURCE=env`: the new key is printed once on stdout; every secret is
/// sealed again (new ciphertexts, generation + 1, new `meta.key_id`), no request is sent, the old
/// key is refused with exit 6 and the new one gives the same tokens.
#[test]
fn sc_04_rekey_env() {
    let mock = MockAs::start();
    let mut home = Home::new();
    mockas::login(&home, &mock, "a");
    mockas::login(&home, &mock, "b");
    let at = home.run(&["token", "a"]).ok().line();
    let before: Vec<Option<Vec<u8>>> =
        ["access_token_ct", "refresh_token_ct", "id_token_ct"].iter().map(|c| blob(&home, "a", c)).collect();
    let generation: i64 =
        home.sql().query_row("SELECT generation FROM profiles WHERE name='a'", [], |r| r.get(0)).unwrap();
    let kid = meta(&home, "key_id").unwrap();
    let requests = mock.all_requests().len();
    let r = home.run(&["rekey"]);
    r.ok();
    let k2 = hex_line(&r);
    assert!(r.stderr.contains("TOKCLI_STORE_KEY") && r.stderr.contains("2 profiles"), "{}", r.stderr);
    assert_eq!(mock.all_requests().len(), requests, "rekey sends nothing");
    let after: Vec<Option<Vec<u8>>> =
        ["access_token_ct", "refresh_token_ct", "id_token_ct"].iter().map(|c| blob(&home, "a", c)).collect();
    for (b, a) in before.iter().zip(&after) {
        assert!(b.is_some() && a.is_some() && a != b, "every secret sealed again");
    }
    let g2: i64 = home.sql().query_row("SELECT generation FROM profiles WHERE name='a'", [], |r| r.get(0)).unwrap();
    assert_eq!(g2, generation + 1);
    assert_ne!(meta(&home, "key_id").unwrap(), kid);
    let r = home.run(&["token", "a"]);
    r.code(6);
    assert!(r.stderr.contains("does not match"), "{}", r.stderr);
    home.key = k2;
    assert_eq!(home.run(&["token", "a"]).ok().line(), at);
    home.run(&["token", "b", "--force-refresh"]).ok();
    home.run(&["doctor"]).ok();
}

/// SC-04 crash safety with `env`: a crash right after the new key was handed out leaves the old
/// key in force; a crash right after the commit leaves the new one in force. `token` works in
/// both cases, and a later `rekey` cleans up.
#[test]
fn sc_04_rekey_env_crash_at_every_step() {
    let mock = MockAs::start();
    let mut home = Home::new();
    mockas::login(&home, &mock, "a");
    let at = home.run(&["token", "a"]).ok().line();
    let crash = |home: &Home, point: &str| {
        let r = hooks_run(home, &["rekey"], |c| {
            c.env("TOKCLI_TEST_FAULT", point);
        });
        assert_eq!(r.code, 134, "{point}: aborted (SIGABRT): {}", r.stderr);
        hex_line(&r)
    };
    let unused = crash(&home, "rekey:after_keyring_write");
    assert_eq!(home.run(&["token", "a"]).ok().line(), at, "the old key still opens the store");
    let r = home.run_with(&["token", "a"], |c| {
        c.env("TOKCLI_STORE_KEY", &unused);
    });
    r.code(6);
    let d = home.run(&["doctor"]);
    d.ok();
    assert!(d.stdout.contains("crashed before its commit"), "{}", d.stdout);

    let k3 = crash(&home, "rekey:after_commit");
    home.run(&["token", "a"]).code(6);
    home.key = k3;
    assert_eq!(home.run(&["token", "a"]).ok().line(), at, "the new key opens the store");
    let r = home.run(&["rekey"]);
    home.key = hex_line(r.ok());
    assert_eq!(home.run(&["token", "a"]).ok().line(), at);
    let d = home.run(&["doctor"]);
    d.ok();
    assert!(!d.stdout.contains("warn"), "{}", d.stdout);
}

/// SC-04 with `TOKCLI_KEY_SOURCE=file:PATH`: the new key replaces the key file (atomically, the
/// old key kept until the commit); after a crash at either step `token` works, `doctor` reports
/// the interrupted rotation, and the next `rekey` finishes it with no key file left behind.
#[test]
fn sc_04_rekey_file_crash_at_every_step() {
    let mock = MockAs::start();
    let home = Home::new();
    let keys = private_dir();
    let keyfile = keys.path().join("store.key");
    let env = |c: &mut Command| {
        c.env("TOKCLI_KEY_SOURCE", format!("file:{}", keyfile.display())).env_remove("TOKCLI_STORE_KEY");
    };
    home.run_with(&["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "a", "--timeout", "30s"], |c| {
        env(c);
        c.env("BROWSER", mockas::browser_script());
    })
    .ok();
    let at = home.run_with(&["token", "a"], env).ok().line();
    let listing = || {
        let mut v: Vec<String> = std::fs::read_dir(keys.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let k1 = std::fs::read(&keyfile).unwrap();
    let r = home.run_with(&["rekey"], env);
    r.ok();
    assert!(r.stdout.is_empty(), "nothing on stdout for a file key: {}", r.stdout);
    assert_ne!(std::fs::read(&keyfile).unwrap(), k1, "the key file holds the new key");
    assert_eq!(mode(&keyfile), 0o600);
    assert_eq!(listing(), vec!["store.key"]);
    assert_eq!(home.run_with(&["token", "a"], env).ok().line(), at);

    for point in ["rekey:after_keyring_write", "rekey:after_commit"] {
        let r = hooks_run(&home, &["rekey"], |c| {
            env(c);
            c.env("TOKCLI_TEST_FAULT", point);
        });
        assert_eq!(r.code, 134, "{point}: {}", r.stderr);
        assert_eq!(listing().len(), 2, "{point}: the new key is staged next to the old: {:?}", listing());
        assert_eq!(home.run_with(&["token", "a"], env).ok().line(), at, "{point}: token works");
        let d = home.run_with(&["doctor"], env);
        d.ok();
        assert!(d.stdout.contains("warn") && d.stdout.contains("rekey"), "{point}: {}", d.stdout);
        home.run_with(&["rekey"], env).ok();
        assert_eq!(listing(), vec!["store.key"], "{point}: the next rekey cleaned up");
        assert_eq!(home.run_with(&["token", "a"], env).ok().line(), at, "{point}: token works after");
    }
}

/// `rekey` never rotates around a tampered profile, and `doctor` names the profile.
#[test]
fn rekey_stops_at_a_profile_that_does_not_decrypt() {
    let mock = MockAs::start();
    let home = Home::new();
    mockas::login(&home, &mock, "a");
    mockas::login(&home, &mock, "b");
    let rt = blob(&home, "b", "refresh_token_ct").unwrap();
    set_blob(&home, "b", "refresh_token_ct", Some(&blob(&home, "a", "refresh_token_ct").unwrap()));
    let kid = meta(&home, "key_id");
    let r = home.run(&["rekey"]);
    r.code(5);
    assert!(r.stdout.is_empty(), "no key printed: {}", r.stdout);
    assert!(r.stderr.contains("profile b") && r.stderr.contains("revoke b --local-only"), "{}", r.stderr);
    assert_eq!(meta(&home, "key_id"), kid);
    let d = home.run(&["doctor", "--json"]);
    d.code(5);
    let v: serde_json::Value = serde_json::from_str(&d.stdout).unwrap();
    let bad: Vec<&serde_json::Value> =
        v["checks"].as_array().unwrap().iter().filter(|c| c["status"] == "fail").collect();
    assert_eq!(bad.len(), 1, "{}", d.stdout);
    assert_eq!(bad[0]["check"], "profile b");
    assert_eq!(bad[0]["resettable"], false);
    set_blob(&home, "b", "refresh_token_ct", Some(&rt));
    home.run(&["doctor"]).ok();
    home.run(&["rekey"]).ok();
}

// ---------------------------------------------------------------------------------------------
// doctor

/// `doctor` on a healthy store exits 0 and checks permissions, schema, integrity, key and every
/// profile; a profile that needs a new login makes it exit 3; a wrong key exits 6 and is the
/// one key problem `--reset` acts on (besides a missing keyring entry).
#[test]
fn doctor_reports_and_exit_codes() {
    let mock = MockAs::start();
    let home = Home::new();
    let empty = home.run(&["doctor", "--json"]);
    empty.ok();
    mockas::login(&home, &mock, "work");
    mockas::login(&home, &mock, "old");
    let r = home.run(&["doctor", "--json"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["healthy"], true);
    let names: Vec<&str> = v["checks"].as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap()).collect();
    for want in ["permissions", "schema", "integrity", "key", "profile work", "profile old"] {
        assert!(names.contains(&want), "{want} not checked: {names:?}");
    }
    mock.revoke_all();
    home.expire("old");
    home.run(&["token", "old"]).code(3);
    let r = home.run(&["doctor"]);
    r.code(3);
    assert!(r.stdout.contains("profile old") && r.stdout.contains("needs a new login"), "{}", r.stdout);
    assert!(r.stderr.contains("doctor found 1 problem"), "{}", r.stderr);
    home.run(&["revoke", "old", "--local-only"]).ok();
    home.run(&["doctor"]).ok();

    let before = store_hashes(&home);
    let wrong = new_key();
    let r = home.run_with(&["doctor"], |c| {
        c.env("TOKCLI_STORE_KEY", &wrong);
    });
    r.code(6);
    assert!(r.stdout.contains("does not match"), "{}", r.stdout);
    let r = home.run_with(&["doctor", "--reset"], |c| {
        c.env("TOKCLI_STORE_KEY", &wrong);
    });
    r.ok();
    assert!(!home.db().exists());
    let moved: Vec<PathBuf> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| p.display().to_string())
        .filter(|p| p.contains(".corrupt-") && !p.ends_with("-wal") && !p.ends_with("-shm"))
        .map(PathBuf::from)
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(sha256(&moved[0]), before[0].1, "moved intact");
    let _ = CLIENT_ID;
}

// ---------------------------------------------------------------------------------------------
// KM-03, KM-06, SC-04 with the OS keyring

/// SC-04 with the keyring, KM-06 on the rotated key, KM-03 through `doctor`: `rekey` leaves one
/// keyring item (the new key under the store's entry); a crash after the keyring write or after
/// the commit leaves a readable store (two items until the next `rekey`); 64 concurrent readers
/// all get the rotated key; with the entry deleted, `doctor` exits 6 without making a key, and
/// `doctor --reset` moves the store aside for a fresh login.
#[test]
fn sc_04_rekey_keyring_crash_at_every_step() {
    let s = KeyringSession::start().without_key_cache();
    let mock = MockAs::start();
    let home = Home::new();
    let run = |args: &[&str]| home.run_with(args, |c| s.apply(c));
    let cached = |args: &[&str]| {
        home.run_with(args, |c| {
            s.apply(c);
            c.env_remove("TOKCLI_KEY_CACHE");
        })
    };
    home.run_with(&["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "kr", "--timeout", "30s"], |c| {
        s.apply(c);
        c.env("BROWSER", mockas::browser_script());
    })
    .ok();
    assert_eq!(s.tokcli_items(), 1);
    let at = cached(&["token", "kr"]).ok().line();
    run(&["rekey"]).ok();
    assert_eq!(s.tokcli_items(), 1, "the new key replaced the old one; nothing staged is left");
    assert_eq!(run(&["token", "kr"]).ok().line(), at);
    assert_eq!(cached(&["token", "kr"]).ok().line(), at, "no stale cached key after a rekey");

    for point in ["rekey:after_keyring_write", "rekey:after_commit"] {
        let r = hooks_run(&home, &["rekey"], |c| {
            s.apply(c);
            c.env("TOKCLI_TEST_FAULT", point);
        });
        assert_eq!(r.code, 134, "{point}: {}", r.stderr);
        assert_eq!(s.tokcli_items(), 2, "{point}: the new key is staged next to the old");
        assert_eq!(run(&["token", "kr"]).ok().line(), at, "{point}: token works");
        assert_eq!(cached(&["token", "kr"]).ok().line(), at, "{point}: token works with the cache");
        let d = run(&["doctor"]);
        d.ok();
        assert!(d.stdout.contains("warn") && d.stdout.contains("rekey"), "{point}: {}", d.stdout);
    }
    run(&["rekey"]).ok();
    assert_eq!(s.tokcli_items(), 1, "the next rekey finished the rotation and removed what was staged");

    let kids: Vec<Child> = (0..64)
        .map(|_| {
            let mut c = home.cmd();
            s.apply(&mut c);
            c.args(["token", "kr"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert!(o.status.success(), "KM-06: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim_end(), at);
    }

    let cleared = s.command("secret-tool").args(["clear", "service", "tokcli"]).status().unwrap();
    assert!(cleared.success());
    let before = store_hashes(&home);
    let d = run(&["doctor"]);
    d.code(6);
    assert!(d.stdout.contains("missing"), "{}", d.stdout);
    assert_eq!(s.tokcli_items(), 0, "KM-03: no new key while the store holds ciphertexts");
    assert_eq!(store_hashes(&home), before);
    run(&["doctor", "--reset"]).ok();
    assert!(!home.db().exists());
    home.run_with(&["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "kr", "--timeout", "30s"], |c| {
        s.apply(c);
        c.env("BROWSER", mockas::browser_script());
    })
    .ok();
    run(&["token", "kr"]).ok();
}

// ---------------------------------------------------------------------------------------------
// KM-04 (d): the explicit insecure plaintext key

/// `--insecure-plaintext-key` keeps the key in `store.key` (0600) beside the database. The store
/// round-trips through login, token, a refresh and a rekey; every use warns on stderr, even with
/// `-q`, unless `TOKCLI_ACK_INSECURE=1`; `list` says so above its table and in its JSON; the flag
/// never overrides another key source; and a lost key file is exit 6, never a new key.
#[test]
fn km_04_insecure_plaintext_key_is_explicit_and_flagged_on_every_use() {
    let mock = MockAs::start();
    let c = canary();
    mock.set_canary(&c);
    let home = Home::new();
    let plain = |cmd: &mut Command| {
        cmd.env_remove("TOKCLI_KEY_SOURCE").env_remove("TOKCLI_STORE_KEY");
    };
    let run = |args: &[&str]| home.run_with(args, plain);
    let warned = |r: &Run| r.stderr.contains("INSECURE: the store key is a plaintext file");

    // The flag never overrides another key source.
    let r = home.run(&["--insecure-plaintext-key", "list"]);
    r.code(2);
    assert!(r.stderr.contains("conflicts with TOKCLI_KEY_SOURCE=env"), "{}", r.stderr);

    let r = home.run_with(
        &[
            "--insecure-plaintext-key",
            "login",
            &mock.issuer(),
            "--client-id",
            CLIENT_ID,
            "--profile",
            "p",
            "--timeout",
            "30s",
        ],
        |cmd| {
            plain(cmd);
            cmd.env("BROWSER", mockas::browser_script());
        },
    );
    r.ok();
    assert!(warned(&r), "login: {}", r.stderr);
    let keyfile = home.path().join("store.key");
    assert_eq!(mode(&keyfile), 0o600);
    let hexkey = std::fs::read_to_string(&keyfile).unwrap();
    assert!(hexkey.len() == 64 && hexkey.bytes().all(|b| b.is_ascii_hexdigit()), "a 32-byte hex key");
    assert_eq!(meta(&home, "key_source").as_deref(), Some("insecure-plaintext"));

    // Later commands need no flag: the source is pinned. Each one warns.
    let at = mock.last_access_token().unwrap();
    for args in [&["token", "p"][..], &["-q", "token", "p"][..]] {
        let r = run(args);
        assert_eq!(r.ok().stdout, format!("{at}\n"), "{args:?}");
        assert!(warned(&r), "{args:?} must warn: {}", r.stderr);
        assert!(!r.stderr.contains(&c), "no token on stderr");
    }
    let r = home.run_with(&["token", "p"], |cmd| {
        plain(cmd);
        cmd.env("TOKCLI_ACK_INSECURE", "1");
    });
    r.ok();
    assert!(r.stderr.is_empty(), "acknowledged: {}", r.stderr);

    let r = run(&["list"]);
    assert!(r.ok().stdout.lines().next().unwrap().contains("INSECURE"), "{}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(&run(&["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(v[0]["insecure_key"], true);
    let d = run(&["doctor"]);
    assert!(d.stdout.contains("warn") && d.stdout.contains("plaintext file"), "{}", d.stdout);
    let other = Home::new();
    mockas::login(&other, &mock, "q");
    let v: serde_json::Value = serde_json::from_str(&other.run(&["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(v[0]["insecure_key"], false, "an env-key store is not flagged");
    assert!(!other.run(&["list"]).stdout.contains("INSECURE"));

    // A refresh and a rekey keep working through the file. `refresh --jobs` opens the store once
    // per worker but warns once.
    home.expire("p");
    let r = run(&["token", "p"]);
    assert_eq!(r.ok().stdout, format!("{}\n", mock.last_access_token().unwrap()));
    home.run_with(&["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "q", "--timeout", "30s"], |cmd| {
        plain(cmd);
        cmd.env("BROWSER", mockas::browser_script());
    })
    .ok();
    let r = run(&["refresh", "--all", "--jobs", "4"]);
    r.ok();
    assert!(r.stderr.contains("2 refreshed"), "{}", r.stderr);
    assert_eq!(r.stderr.matches("INSECURE:").count(), 1, "{}", r.stderr);
    run(&["rekey"]).ok();
    assert_ne!(std::fs::read_to_string(&keyfile).unwrap(), hexkey, "rekey replaced the key file");
    assert_eq!(mode(&keyfile), 0o600);
    run(&["token", "p"]).ok();

    // A lost key file is exit 6; no new key is made.
    std::fs::remove_file(&keyfile).unwrap();
    let r = run(&["token", "p"]);
    r.code(6);
    assert!(r.stdout.is_empty());
    assert!(!keyfile.exists(), "no new key file");
}

// ---------------------------------------------------------------------------------------------
// KM-04 (c): the passphrase key source

/// Runs tokcli in a new session, so it has no controlling terminal to prompt on.
fn no_tty(home: &Home, args: &[&str], f: impl FnOnce(&mut Command)) -> Run {
    let mut c = home.cmd_for("setsid");
    c.arg("-w").arg(bin()).args(args);
    f(&mut c);
    Run::of(&c.output().expect("setsid (util-linux)"))
}

/// The store key derived with Argon2id from a passphrase: it round-trips through login, token in
/// new processes, a refresh and a rekey to a new passphrase, from `TOKCLI_PASSPHRASE_FILE`,
/// `--passphrase-fd` and the terminal; a wrong passphrase, a group-readable passphrase file or no
/// way to ask are exit 6 with nothing changed; the key is written nowhere, and its kernel-keyring
/// copy serves later calls only while caching is on.
#[test]
fn km_04_passphrase_key_source_round_trips() {
    let mock = MockAs::start();
    let c = canary();
    mock.set_canary(&c);
    let home = Home::new();
    let dir = private_dir();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        chmod(&p, 0o600);
        p
    };
    let pass = file("pass", "correct horse battery staple\n");
    let wrong = file("wrong", "not the passphrase\n");
    let newpass = file("new", "a new and longer passphrase\n");
    let short = file("short", "2short\n");
    let env = |cmd: &mut Command, pf: Option<&Path>| {
        cmd.env("TOKCLI_KEY_SOURCE", "passphrase").env_remove("TOKCLI_STORE_KEY").env("TOKCLI_KEY_CACHE", "off");
        if let Some(p) = pf {
            cmd.env("TOKCLI_PASSPHRASE_FILE", p);
        }
    };
    let login = |pf: &Path| {
        no_tty(
            &home,
            &["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "p", "--timeout", "30s"],
            |cmd| {
                env(cmd, Some(pf));
                cmd.env("BROWSER", mockas::browser_script());
            },
        )
    };
    let token = |pf: Option<&Path>| no_tty(&home, &["token", "p"], |cmd| env(cmd, pf));

    // A passphrase shorter than 8 characters makes no store.
    let r = login(&short);
    r.code(2);
    assert!(r.stderr.contains("at least 8 characters"), "{}", r.stderr);
    assert!(!home.db().exists());

    login(&pass).ok();
    assert_eq!(meta(&home, "key_source").as_deref(), Some("passphrase"));
    let at = mock.last_access_token().unwrap();
    assert_eq!(token(Some(&pass)).ok().stdout, format!("{at}\n"));
    let key_like: Vec<String> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("key"))
        .collect();
    assert!(key_like.is_empty(), "no key file: {key_like:?}");

    // Wrong, unreadable-by-policy, or absent passphrases: exit 6, nothing printed or changed.
    let sha = home.sha256_db();
    let r = token(Some(&wrong));
    r.code(6);
    assert!(r.stdout.is_empty() && r.stderr.contains("wrong passphrase"), "{}", r.stderr);
    chmod(&pass, 0o640);
    let r = token(Some(&pass));
    r.code(6);
    assert!(r.stderr.contains("readable by other users"), "{}", r.stderr);
    chmod(&pass, 0o600);
    let r = token(None);
    r.code(6);
    assert!(r.stderr.contains("TOKCLI_PASSPHRASE_FILE") && r.stderr.contains("--passphrase-fd"), "{}", r.stderr);
    assert_eq!(home.sha256_db(), sha);

    // --passphrase-fd, and the terminal (a pty from `script`).
    let mut sh = home.cmd_for("sh");
    env(&mut sh, None);
    let out =
        sh.arg("-c").arg("exec \"$0\" --passphrase-fd 3 token p 3<\"$1\"").arg(bin()).arg(&pass).output().unwrap();
    let r = Run::of(&out);
    assert_eq!(r.ok().stdout, format!("{at}\n"));
    let mut script = home.cmd_for("script");
    env(&mut script, None);
    let cmdline = format!("{} token p", bin().display());
    let mut child = script
        .args(["-qec", &cmdline, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    // Type the passphrase once the prompt is shown, as a person would (input sent earlier would
    // be echoed by the terminal before tokcli turns echo off).
    let mut out = child.stdout.take().unwrap();
    let mut tty = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&tty).contains("passphrase of the tokcli store") {
        let n = std::io::Read::read(&mut out, &mut buf).unwrap();
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&tty));
        tty.extend_from_slice(&buf[..n]);
    }
    // rpassword turns echo off right after printing the prompt; give it that moment.
    std::thread::sleep(Duration::from_millis(300));
    child.stdin.take().unwrap().write_all(b"correct horse battery staple\n").unwrap();
    std::io::Read::read_to_end(&mut out, &mut tty).unwrap();
    let status = child.wait().unwrap();
    let tty = String::from_utf8_lossy(&tty);
    assert!(status.success() && tty.contains(&at), "{tty}");
    assert!(!tty.contains("correct horse"), "the terminal must not echo the passphrase: {tty}");

    // The kernel-keyring copy serves a call that has no passphrase, only while caching is on.
    let cached = |cmd: &mut Command| {
        env(cmd, None);
        cmd.env("TOKCLI_KEY_CACHE", "on").env("TOKCLI_KEY_CACHE_TTL", "60");
    };
    no_tty(&home, &["token", "p"], |cmd| {
        cached(cmd);
        cmd.env("TOKCLI_PASSPHRASE_FILE", &pass);
    })
    .ok();
    assert_eq!(no_tty(&home, &["token", "p"], cached).ok().stdout, format!("{at}\n"));
    token(None).code(6);

    // A refresh, then a rekey to a new passphrase: the old one stops working.
    home.expire("p");
    let r = token(Some(&pass));
    assert_eq!(r.ok().stdout, format!("{}\n", mock.last_access_token().unwrap()));
    let r = no_tty(&home, &["rekey"], |cmd| {
        env(cmd, Some(&pass));
        cmd.env("TOKCLI_NEW_PASSPHRASE_FILE", &short);
    });
    r.code(2);
    let r = no_tty(&home, &["rekey"], |cmd| {
        env(cmd, Some(&pass));
        cmd.env("TOKCLI_NEW_PASSPHRASE_FILE", &newpass);
    });
    r.ok();
    assert!(r.stdout.is_empty(), "a passphrase rekey prints nothing: {}", r.stdout);
    token(Some(&pass)).code(6);
    token(Some(&newpass)).ok();
    // The rekey dropped the cached copy of the old key.
    assert_eq!(no_tty(&home, &["token", "p"], cached).code, 6);
    let r = token(Some(&newpass));
    assert!(!r.stderr.contains(&c) && !r.stderr.contains("passphrase staple"), "{}", r.stderr);
    // Neither passphrase is written anywhere in the home.
    assert_no_files_with(
        &[home.path()],
        &["correct horse battery staple", "a new and longer passphrase"],
        "passphrase",
    );
}

// ---------------------------------------------------------------------------------------------
// CC-06: a home on a network filesystem

/// On NFS (the hooks binary stands in the `statfs` type), a new store uses a rollback journal,
/// not WAL, and says why on stderr; login, token and a refresh (whose commit is then flushed with
/// the database file's fsync) work; `doctor` warns. A local home keeps WAL.
#[test]
fn cc_06_a_store_on_nfs_uses_a_rollback_journal_and_warns() {
    let mock = MockAs::start();
    let home = Home::new();
    let nfs = |cmd: &mut Command| {
        cmd.env("TOKCLI_TEST_FS_MAGIC", "6969");
    };
    let r = hooks_run(
        &home,
        &["login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", "p", "--timeout", "30s"],
        |cmd| {
            nfs(cmd);
            cmd.env("BROWSER", mockas::browser_script());
        },
    );
    r.ok();
    assert!(r.stderr.contains("is on NFS") && r.stderr.contains("rollback journal"), "{}", r.stderr);
    let mode = |home: &Home| {
        rusqlite::Connection::open(home.db())
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |row| row.get::<_, String>(0))
            .unwrap()
    };
    assert_eq!(mode(&home), "delete");
    assert!(!with_suffix(&home.db(), "-wal").exists(), "no WAL file");
    let at = mock.last_access_token().unwrap();
    assert_eq!(hooks_run(&home, &["token", "p"], nfs).ok().stdout, format!("{at}\n"));
    home.expire("p");
    let r = hooks_run(&home, &["token", "p"], nfs);
    assert_eq!(r.ok().stdout, format!("{}\n", mock.last_access_token().unwrap()));
    assert_eq!(hooks_run(&home, &["token", "p"], nfs).ok().stdout, r.stdout, "the rotated grant was kept");
    let d = hooks_run(&home, &["doctor"], nfs);
    assert!(d.stdout.contains("filesystem") && d.stdout.contains("NFS"), "{}", d.stdout);

    let local = Home::new();
    mockas::login(&local, &mock, "p");
    assert_eq!(mode(&local), "wal");
}

// ---------------------------------------------------------------------------------------------
// CR-01: a rotated grant whose flush to disk is not confirmed

/// The rotated grant is committed without its own fsync and then flushed by a checkpoint (see
/// `SqliteStore::flush_committed`). When that flush fails (a failing fsync, forced here), the
/// grant is saved and readable, so the token is printed with a warning that says so and what to
/// do; `--strict` makes it exit 5 with empty stdout. Either way the next call needs no refresh.
#[test]
fn cr_01_an_unconfirmed_flush_is_reported_and_the_grant_kept() {
    let mock = MockAs::start();
    let c = canary();
    mock.set_canary(&c);
    let home = Home::new();
    mockas::login(&home, &mock, "a");
    for strict in [false, true] {
        home.expire("a");
        let refreshes = mock.count_grant("refresh_token");
        let args: &[&str] = if strict { &["token", "a", "--strict"] } else { &["token", "a"] };
        let r = hooks_run(&home, args, |cmd| {
            cmd.env("TOKCLI_TEST_IO_ERROR", "store:flush");
        });
        assert_eq!(mock.count_grant("refresh_token"), refreshes + 1);
        let new_at = mock.last_access_token().unwrap();
        assert!(r.stderr.contains("did not confirm the write"), "{}", r.stderr);
        assert!(r.stderr.contains("forced I/O error") && r.stderr.contains("tokcli login"), "{}", r.stderr);
        assert!(!r.stderr.contains(&c), "a token leaked to stderr: {}", r.stderr);
        if strict {
            r.code(5);
            assert!(r.stdout.is_empty(), "--strict prints nothing: {}", r.stdout);
        } else {
            r.ok();
            assert_eq!(r.stdout, format!("{new_at}\n"));
        }
        let next = home.run(&["token", "a"]);
        assert_eq!(next.ok().line(), new_at, "the rotated grant was kept");
        assert_eq!(mock.count_grant("refresh_token"), refreshes + 1, "no second refresh");
    }
}

// ---------------------------------------------------------------------------------------------
// Fuzzing: the bounded stable run of the cargo-fuzz targets

#[path = "../../fuzz/targets.rs"]
mod fuzz_targets;

/// A small mutational fuzzer: seeds from `fuzz/corpus/<target>`, byte-level mutations and a
/// per-target dictionary, a time box (`TOKCLI_FUZZ_SECS`, default 4 s per target) and a seed
/// (`TOKCLI_FUZZ_SEED`, printed on failure). A failing input is saved under the target dir.
fn fuzz(target: &str, body: fn(&[u8]), dict: &[&[u8]]) {
    use rand::{Rng as _, SeedableRng as _};
    let secs: f64 = std::env::var("TOKCLI_FUZZ_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(4.0);
    let seed: u64 = std::env::var("TOKCLI_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(rand::random);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = repo().join("fuzz/corpus").join(target);
    let mut pool: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(!pool.is_empty(), "no seeds in {}", dir.display());
    let seeds = pool.len();
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut runs: u64 = 0;
    let check = |input: &[u8], runs: u64| {
        if std::panic::catch_unwind(|| body(input)).is_err() {
            let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{target}-{seed}-{runs}"));
            let _ = std::fs::write(&out, input);
            panic!(
                "fuzz target {target} failed on run {runs} (TOKCLI_FUZZ_SEED={seed}); input saved to {} \
(reproduce: `cargo +nightly fuzz run {target} {}`); input bytes: {input:?}",
                out.display(),
                out.display()
            );
        }
    };
    for s in pool.clone() {
        check(&s, runs);
        runs += 1;
    }
    while Instant::now() < until {
        for _ in 0..256 {
            let mut x = pool[rng.gen_range(0..pool.len())].clone();
            for _ in 0..rng.gen_range(1..=4) {
                let len = x.len();
                match rng.gen_range(0..9) {
                    0 if len > 0 => {
                        let i = rng.gen_range(0..len);
                        x[i] ^= 1 << rng.gen_range(0..8);
                    }
                    1 if len > 0 => {
                        let i = rng.gen_range(0..len);
                        x[i] = rng.r#gen();
                    }
                    2 => {
                        let i = rng.gen_range(0..=len);
                        let n = rng.gen_range(1..8);
                        let bytes: Vec<u8> = (0..n).map(|_| rng.r#gen()).collect();
                        x.splice(i..i, bytes);
                    }
                    3 if len > 1 => {
                        let a = rng.gen_range(0..len);
                        let b = rng.gen_range(a..=len.min(a + 16));
                        x.drain(a..b);
                    }
                    4 if len > 1 => {
                        let a = rng.gen_range(0..len);
                        let b = rng.gen_range(a..=len.min(a + 16));
                        let copy = x[a..b].to_vec();
                        let i = rng.gen_range(0..=len);
                        x.splice(i..i, copy);
                    }
                    5 | 6 if !dict.is_empty() => {
                        let w = dict[rng.gen_range(0..dict.len())];
                        let i = rng.gen_range(0..=len);
                        x.splice(i..i, w.iter().copied());
                    }
                    7 => {
                        let other = &pool[rng.gen_range(0..seeds)];
                        let cut = rng.gen_range(0..=len);
                        let from = rng.gen_range(0..=other.len());
                        x.truncate(cut);
                        x.extend_from_slice(&other[from..]);
                    }
                    _ if len > 0 => {
                        const INTERESTING: [u8; 12] =
                            [0, 0xff, 0x7f, 0x80, b'"', b'&', b'=', b'%', b'\\', b'{', b'}', b'\n'];
                        let i = rng.gen_range(0..len);
                        x[i] = INTERESTING[rng.gen_range(0..INTERESTING.len())];
                    }
                    _ => {}
                }
            }
            x.truncate(4096);
            check(&x, runs);
            runs += 1;
            if runs.is_multiple_of(97) && pool.len() < 512 {
                pool.push(x);
            }
        }
    }
    assert!(runs > 2_000, "{target}: only {runs} inputs in {secs}s");
    #[allow(clippy::print_stderr)]
    {
        eprintln!("fuzz {target}: {runs} inputs in {secs}s (TOKCLI_FUZZ_SEED={seed})");
    }
}

/// The fuzzer's first finding (see `fuzz_targets::CHECK_URL_ECHOES_RAW`): an endpoint in a
/// discovery document is echoed raw into the error message, escape sequences included.
#[test]
fn discovery_errors_carry_no_control_characters() {
    // JSON escapes: ESC, BEL and TAB in the decoded endpoint.
    for endpoint in [r"http://as.example/\u001b]52;c;bad\u0007", r"h\u0009ttp://as.example/\u001b[2J"] {
        let doc = format!(r#"{{"issuer":"https://as.example","token_endpoint":"{endpoint}"}}"#);
        let e = tokcli::provider::spec_from_document("https://as.example", "test", &doc).unwrap_err();
        assert!(!e.message.chars().any(char::is_control), "control characters in {:?}", e.message);
    }
}

#[test]
fn fuzz_smoke_callback_query() {
    fuzz(
        "callback_query",
        fuzz_targets::callback_query,
        &[
            b"code=",
            b"state=",
            b"iss=",
            b"error=",
            b"error_description=",
            b"&",
            b"=",
            b"%",
            b"%00",
            b"%ff",
            b"+",
            fuzz_targets::STATE.as_bytes(),
            b"https%3A%2F%2Fas.example",
            fuzz_targets::ISSUER.as_bytes(),
        ],
    );
}

#[test]
fn fuzz_smoke_token_response() {
    fuzz(
        "token_response",
        fuzz_targets::token_response,
        &[
            b"\"access_token\"",
            b"\"refresh_token\"",
            b"\"token_type\"",
            b"\"expires_in\"",
            b"\"scope\"",
            b"\"id_token\"",
            b"\"error\"",
            b"\"error_description\"",
            b"\"ok\"",
            b"\"authed_user\"",
            b"\"Bearer\"",
            b":",
            b",",
            b"{",
            b"}",
            b"[",
            b"]",
            b"null",
            b"true",
            b"false",
            b"-1",
            b"1e308",
            b"\"\\u0000\"",
            b"\"\\ud800\"",
            b"\"\\u001b[31m\"",
            b"invalid_grant",
            b"slow_down",
            b"authorization_pending",
            b"access_token=",
            b"&",
        ],
    );
}

#[test]
fn fuzz_smoke_discovery_document() {
    fuzz(
        "discovery_document",
        fuzz_targets::discovery_document,
        &[
            b"\"issuer\"",
            b"\"token_endpoint\"",
            b"\"authorization_endpoint\"",
            b"\"revocation_endpoint\"",
            b"\"device_authorization_endpoint\"",
            b"\"https://as.example\"",
            b"\"http://127.0.0.1:8080\"",
            b"http://",
            b"https://",
            b"javascript:",
            b"file:///",
            b"\"scopes_supported\"",
            b"[",
            b"]",
            b"{",
            b"}",
            b":",
            b",",
            b"null",
            b"true",
            b"\"authorization_response_iss_parameter_supported\"",
            b"@",
            b"#",
            b"\\u0000",
        ],
    );
}

#[test]
fn fuzz_smoke_id_token_signature() {
    fuzz(
        "id_token_signature",
        fuzz_targets::id_token_signature,
        &[
            b"\"alg\"",
            b"\"RS256\"",
            b"\"ES256\"",
            b"\"none\"",
            b"\"HS256\"",
            b"\"kid\"",
            b"\"kty\"",
            b"\"EC\"",
            b"\"RSA\"",
            b"\"P-256\"",
            b".",
            b"\n",
            b"AQAB",
            b"{",
            b"}",
        ],
    );
}

#[test]
fn fuzz_smoke_sealed_blob() {
    fuzz("sealed_blob", fuzz_targets::sealed_blob, &[&[1u8], &[0u8; 24], &[0xffu8; 16]]);
}

/// TE-10: an ID token must be signed (RS256 or ES256) by a key the issuer publishes at its
/// `jwks_uri`. A token signed with another key, with `alg: none`, or with HS256 keyed by public
/// material fails the login with exit 2, and nothing is stored. (The real oidc-provider's RS256
/// tokens are checked in `real_server`.)
#[test]
fn te_10_id_token_signatures_are_checked() {
    use crate::mockas::Signing;
    let mock = MockAs::start();
    mock.set_signing(Signing::Published);
    let home = Home::new();
    let login = |profile: &str| {
        home.run_with(
            &["-v", "login", &mock.issuer(), "--client-id", CLIENT_ID, "--profile", profile, "--timeout", "30s"],
            |c| {
                c.env("BROWSER", mockas::browser_script());
            },
        )
    };
    let r = login("ok");
    assert!(r.ok().stderr.contains("the ID token's signature verifies against"), "{}", r.stderr);
    home.run(&["token", "ok", "--id-token"]).ok();
    for (mode, why) in [
        (Signing::Unpublished, "its signature does not verify"),
        (Signing::AlgNone, "signed with \"none\"; only RS256 and ES256 are accepted"),
        (Signing::Hs256, "signed with \"HS256\"; only RS256 and ES256 are accepted"),
    ] {
        mock.set_signing(mode);
        let before = home.sha256_db();
        let r = login("bad");
        r.code(2);
        assert!(r.stderr.contains(why), "{mode:?}: {}", r.stderr);
        assert!(r.stderr.contains("hint:") && r.stderr.contains("stored nothing"), "{mode:?}: {}", r.stderr);
        assert_eq!(home.sha256_db(), before, "{mode:?}: the store is unchanged");
        home.run(&["token", "bad"]).code(3);
    }
    // The profile that logged in with a good signature is untouched.
    home.run(&["token", "ok"]).ok();

    // On refresh the refresh token is already spent: a badly signed new ID token is discarded
    // with a warning, and the rotated tokens are kept.
    let id_before = home.run(&["token", "ok", "--id-token"]).ok().line();
    mock.set_signing(Signing::Unpublished);
    let jwks_fetches = mock.count("/jwks");
    let r = home.run(&["refresh", "ok"]);
    assert!(r.ok().stderr.contains("was discarded: its signature does not verify"), "{}", r.stderr);
    assert_eq!(mock.count("/jwks"), jwks_fetches + 1, "the keys were fetched (and cached in the store)");
    assert_eq!(home.run(&["token", "ok", "--id-token"]).ok().line(), id_before, "the old ID token stays");
    let at = home.run(&["token", "ok"]).ok().line();
    assert_eq!(Some(at), mock.last_access_token(), "the rotated access token was stored");
    // A good one replaces it; the keys come from the store's cache, no new fetch.
    mock.set_signing(Signing::Published);
    let fetches = mock.count("/jwks");
    let r = home.run(&["refresh", "ok"]);
    assert!(!r.ok().stderr.contains("discarded"), "{}", r.stderr);
    assert_ne!(home.run(&["token", "ok", "--id-token"]).ok().line(), id_before);
    assert_eq!(mock.count("/jwks"), fetches, "the cached JWK Set verified it");

    // A key server that hangs delays the rotated grant by 5 s at most; the grant is kept.
    mock.set_signing(Signing::Unpublished);
    mock.set_default("/jwks", Reply::Hang);
    let t = Instant::now();
    let r = home.run(&["refresh", "ok"]);
    assert!(r.ok().stderr.contains("was discarded: cannot fetch the issuer's signing keys"), "{}", r.stderr);
    assert!(t.elapsed() < Duration::from_secs(15), "took {:?}", t.elapsed());
    let at = home.run(&["token", "ok"]).ok().line();
    assert_eq!(Some(at), mock.last_access_token(), "the rotated access token was stored");
}
