//! Scripts and CI (issue 5): output formats, `--id-token`, the `--json` listings, `-q`/`-v`,
//! colours, the broken pipe, `exec`, GitHub Actions masking against a fake runner, the generated
//! completions and man pages, and the quickstart.

use std::io::{BufRead as _, Read as _};
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokcli::store::crypto::Field;

use crate::mockas::{self, MockAs};
use crate::support::{Home, Run, bin, repo};

/// A logged-in home on a fresh mock server.
fn setup(profile: &str) -> (Home, MockAs) {
    let home = Home::new();
    let mock = MockAs::start();
    mockas::login(&home, &mock, profile);
    (home, mock)
}

fn access_token(home: &Home, profile: &str) -> String {
    home.secret(profile, Field::AccessToken).expect("stored access token")
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", r.stdout))
}

#[track_caller]
fn keys(v: &Value, want: &[&str]) {
    let mut got: Vec<&str> = v.as_object().expect("a JSON object").keys().map(String::as_str).collect();
    got.sort_unstable();
    let mut want = want.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "JSON keys of {v}");
}

// ---------------------------------------------------------------------------------------------
// token formats

#[test]
fn token_formats() {
    let (home, _mock) = setup("p");
    let at = access_token(&home, "p");
    assert_eq!(home.run(&["token", "p"]).ok().line(), at);
    assert_eq!(home.run(&["token", "p", "--format", "raw"]).ok().line(), at);
    assert_eq!(home.run(&["token", "p", "--format", "header"]).ok().line(), format!("Authorization: Bearer {at}"));
    assert_eq!(home.run(&["token", "p", "--format", "env"]).ok().line(), format!("export TOKCLI_TOKEN={at}"));
    assert_eq!(
        home.run(&["token", "p", "--format", "env", "--env-name", "API_TOKEN"]).ok().line(),
        format!("export API_TOKEN={at}")
    );
    home.run(&["token", "p", "--format", "env", "--env-name", "1-bad"]).code(2);
    let r = home.run(&["token", "p", "--format", "json"]);
    let v = json(r.ok());
    keys(&v, &["access_token", "token_type", "expires_at", "expires_in", "scope", "profile"]);
    assert_eq!(v["access_token"], at.as_str());
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["profile"], "p");
    let (exp, left) = (v["expires_at"].as_i64().expect("expires_at"), v["expires_in"].as_i64().expect("expires_in"));
    assert!((3500..=3600).contains(&left), "expires_in {left}");
    assert!(exp > 1_700_000_000, "expires_at is a Unix time: {exp}");
    assert!(v["scope"].is_string());
    // One line of compact JSON.
    r.line();
    // `eval` of the env format sets the variable to exactly the token.
    let out = Command::new("bash")
        .args(["-c", "eval \"$(\"$TOKCLI\" token p --format env)\" && printf %s \"$TOKCLI_TOKEN\""])
        .env("TOKCLI", bin())
        .env("TOKCLI_HOME", home.path())
        .env("TOKCLI_KEY_SOURCE", "env")
        .env("TOKCLI_STORE_KEY", &home.key)
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&out.stdout), at);
}

#[test]
fn env_format_quotes_unusual_tokens() {
    let home = Home::new();
    let mock = MockAs::start();
    mock.set_canary("x$(touch${IFS}pwned)'q\\");
    mockas::login(&home, &mock, "p");
    let at = access_token(&home, "p");
    let line = home.run(&["token", "p", "--format", "env"]).ok().line();
    assert!(line.starts_with("export TOKCLI_TOKEN='"), "{line}");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("bash")
        .current_dir(dir.path())
        .args(["-c", &format!("eval {}; printf %s \"$TOKCLI_TOKEN\"", shell_words(&line))])
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&out.stdout), at, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.path().join("pwned").exists(), "the token's text was run as code");
}

/// `s` single-quoted for bash.
fn shell_words(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn id_token() {
    let (home, mock) = setup("p");
    let id = home.secret("p", Field::IdToken).expect("stored ID token");
    let r = home.run(&["token", "p", "--id-token"]);
    assert_eq!(r.ok().line(), id);
    assert_eq!(
        home.run(&["token", "p", "--id-token", "--format", "header"]).ok().line(),
        format!("Authorization: Bearer {id}")
    );
    let v = json(home.run(&["token", "p", "--id-token", "--format", "json"]).ok());
    keys(&v, &["id_token", "expires_at", "expires_in", "profile"]);
    assert_eq!(v["id_token"], id.as_str());
    assert!(v["expires_in"].as_i64().is_some_and(|s| s > 3000), "{v}");
    assert_eq!(mock.count_grant("refresh_token"), 0, "a valid ID token needs no refresh");

    // An ID token about to expire is refreshed once for a new one.
    let home2 = Home::new();
    mock.set_id_claims(serde_json::json!({ "exp": unix_now() + 30 }));
    mockas::login(&home2, &mock, "q");
    let old = home2.secret("q", Field::IdToken).expect("id token");
    mock.set_id_claims(serde_json::json!({}));
    let new = home2.run(&["token", "q", "--id-token"]).ok().line();
    assert_ne!(new, old);
    assert_eq!(mock.count_grant("refresh_token"), 1);

    // No ID token at all: exit 3 with a hint, nothing on stdout.
    let home3 = Home::new();
    mock.set_issue_id_token(false);
    mockas::login(&home3, &mock, "noid");
    let r = home3.run(&["token", "noid", "--id-token"]);
    r.code(3);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("has no ID token") && r.stderr.contains("hint:"), "{}", r.stderr);
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

// ---------------------------------------------------------------------------------------------
// --json listings, -q, -v

const PROFILE_KEYS: &[&str] = &[
    "profile",
    "provider",
    "issuer",
    "client_id",
    "flow",
    "account",
    "scopes",
    "expires_at",
    "expires_in",
    "status",
    "last_error",
    "last_refreshed_at",
    "refresh_count",
    "has_refresh_token",
    "insecure_key",
];

#[test]
fn json_listings_are_stable_and_secret_free() {
    let home = Home::new();
    let mock = MockAs::start();
    mock.set_canary("CANARYx");
    let r = home.run_with(
        &["login", &mock.issuer(), "--client-id", mockas::CLIENT_ID, "--profile", "p", "--json", "--timeout", "30s"],
        |c| {
            c.env("BROWSER", mockas::browser_script());
        },
    );
    let v = json(r.ok());
    keys(&v, PROFILE_KEYS);
    assert_eq!(v["profile"], "p");
    assert_eq!(v["status"], "active");
    assert_eq!(v["has_refresh_token"], true);
    assert!(r.stderr.contains("Logged in to p"), "{}", r.stderr);

    let list = json(home.run(&["list", "--json"]).ok());
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    keys(&list[0], PROFILE_KEYS);

    let r = home.run(&["refresh", "p", "--json"]);
    let v = json(r.ok());
    keys(&v, &["refreshed", "failed", "skipped", "results"]);
    assert_eq!(v["refreshed"], 1);
    keys(&v["results"][0], &["profile", "status", "error", "expires_at"]);
    assert_eq!(v["results"][0]["status"], "refreshed");

    let v = json(home.run(&["providers", "--json"]).ok());
    let first = &v.as_array().expect("array")[0];
    for k in ["name", "source", "default_scopes", "token_endpoint", "default_flow"] {
        assert!(first.get(k).is_some(), "providers --json lacks {k}: {first}");
    }

    for args in [&["list", "--json"][..], &["refresh", "p", "--json"], &["list"]] {
        let r = home.run(args);
        assert!(!r.stdout.contains("CANARYx") && !r.stderr.contains("CANARYx"), "{args:?} showed a secret");
    }
}

#[test]
fn quiet_and_verbose() {
    let home = Home::new();
    let mock = MockAs::start();
    mock.set_canary("CANARYq");
    let r = home.run_with(
        &["-q", "login", &mock.issuer(), "--client-id", mockas::CLIENT_ID, "--profile", "p", "--timeout", "30s"],
        |c| {
            c.env("BROWSER", mockas::browser_script());
        },
    );
    r.ok();
    assert!(r.stderr.is_empty() && r.stdout.is_empty(), "-q login printed {:?} {:?}", r.stdout, r.stderr);
    let r = home.run(&["-q", "refresh", "p"]);
    assert!(r.ok().stderr.is_empty(), "-q refresh: {}", r.stderr);
    let r = home.run(&["-q", "token", "p"]);
    assert!(r.ok().stderr.is_empty());
    assert!(r.stdout.starts_with("CANARYq"));
    let r = home.run(&["-q", "list"]);
    assert!(r.ok().stderr.is_empty() && !r.stdout.is_empty());
    // Errors are never silenced.
    let r = home.run(&["-q", "token", "nope"]);
    assert!(r.code(3).stderr.contains("tokcli: error:"));

    // -vvv: every diagnostic line carries the time since start-up, to show where a call waits.
    let r = home.run(&["-vvv", "refresh", "p"]);
    let timed = r.ok().stderr.lines().filter(|l| l.starts_with("tokcli: debug: [") && l.contains(" ms] ")).count();
    assert!(timed >= 5, "-vvv lines without timestamps: {}", r.stderr);
    assert!(
        r.stderr.contains("token endpoint answered") && r.stderr.contains("rotated grant committed"),
        "{}",
        r.stderr
    );

    // -vv: diagnostics, with fingerprints but never a secret.
    let r = home.run(&["-vv", "token", "p", "--force-refresh"]);
    let token = r.ok().line();
    assert!(r.stderr.contains("tokcli: debug:"), "{}", r.stderr);
    assert!(r.stderr.contains("sha256 "), "{}", r.stderr);
    assert!(!r.stderr.contains("CANARYq"), "-vv printed a secret: {}", r.stderr);
    assert!(!r.stderr.contains(&token));
    let r = home.run_with(&["-vv", "exec", "p", "--", "true"], |_| {});
    assert!(r.ok().stderr.contains("exec: $TOKCLI_TOKEN"), "{}", r.stderr);
    assert!(!r.stderr.contains("CANARYq"), "{}", r.stderr);
}

#[test]
fn colours() {
    let home = Home::new();
    let esc = "\x1b[";
    assert!(home.run(&["--color", "always", "token", "nope"]).code(3).stderr.contains(esc));
    assert!(!home.run(&["--color", "never", "token", "nope"]).code(3).stderr.contains(esc));
    // auto: not a terminal, so no colour.
    assert!(!home.run(&["token", "nope"]).code(3).stderr.contains(esc));
    // auto on a terminal: colour, unless NO_COLOR is set (non-empty).
    let on_tty = |no_color: Option<&str>| -> String {
        let cmdline = format!("{} token nope", bin().display());
        let mut c = Command::new("script");
        c.args(["-qec", &cmdline, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TOKCLI_HOME", home.path())
            .env("TOKCLI_KEY_SOURCE", "env")
            .env("TOKCLI_STORE_KEY", &home.key)
            .env("TERM", "xterm")
            .stdin(Stdio::null());
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let o = c.output().expect("script(1) from util-linux");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let tty = on_tty(None);
    assert!(tty.contains("no profile named nope"), "{tty:?}");
    assert!(tty.contains(esc), "no colour on a terminal: {tty:?}");
    let tty = on_tty(Some("1"));
    assert!(tty.contains("no profile named nope") && !tty.contains(esc), "NO_COLOR ignored: {tty:?}");
    let tty = on_tty(Some(""));
    assert!(tty.contains(esc), "an empty NO_COLOR does not count: {tty:?}");
}

// ---------------------------------------------------------------------------------------------
// broken pipe

/// Runs tokcli with stdout a pipe whose reader is already closed: every write fails with EPIPE.
fn with_closed_stdout(home: &Home, args: &[&str]) -> Run {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut c = home.cmd();
    c.args(args).stdout(writer).stderr(Stdio::piped());
    let o = c.output().expect("run tokcli");
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

#[test]
fn broken_pipe_exits_quietly() {
    let (home, _mock) = setup("p");
    for args in [&["list"][..], &["list", "--json"], &["providers"], &["providers", "--json"], &["token", "p"]] {
        let r = with_closed_stdout(&home, args);
        assert_eq!(r.code, 0, "{args:?} exit code; stderr: {}", r.stderr);
        // `providers` adds a hint for people on stderr after its table; nothing else may appear.
        assert!(!r.stderr.contains("error") && !r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    }
    // The shell way: the reader quits after one byte.
    let out = Command::new("bash")
        .args(["-c", "set -o pipefail; \"$TOKCLI\" -q providers | head -c1 >/dev/null; echo \"${PIPESTATUS[0]}\""])
        .env("TOKCLI", bin())
        .env("TOKCLI_HOME", home.path())
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A parent that closes stdin, stdout and stderr must not turn a store or lock file into
/// "stdout": the token would be written into it in plain text. Two guards stand in the way:
/// tokcli opens /dev/null on closed descriptors at start-up (`sys::runtime_init`, since main skips
/// std's start-up, which did it before), and SQLite never keeps a database on descriptors 0-2.
/// Either alone passes this test.
#[test]
fn closed_standard_descriptors_never_receive_a_token() {
    let (home, _mock) = setup("p");
    let before = access_token(&home, "p");
    let out = home
        .cmd_for("bash")
        .args(["-c", "\"$TOKCLI\" token p --force-refresh <&- >&- 2>&-; echo \"$?\""])
        .env("TOKCLI", bin())
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0", "{}", String::from_utf8_lossy(&out.stderr));
    let after = access_token(&home, "p");
    assert_ne!(before, after, "the forced refresh ran and stored a new token");
    for entry in walk(home.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes.windows(after.len()).any(|w| w == after.as_bytes()),
            "{} holds the access token in plain text",
            entry.display()
        );
    }
    home.run(&["token", "p"]).ok();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() { files.extend(walk(&p)) } else { files.push(p) }
    }
    files
}

// ---------------------------------------------------------------------------------------------
// exec

#[test]
fn exec_passes_the_token_and_the_exit_code() {
    let (home, mock) = setup("p");
    let at = access_token(&home, "p");
    let r = home.run(&["exec", "p", "--", "sh", "-c", "printf %s \"$TOKCLI_TOKEN\""]);
    assert_eq!(r.ok().stdout, at);
    assert!(!r.stderr.contains("::add-mask::"), "no masking outside GitHub Actions");
    let r = home.run(&["exec", "p", "--", "sh", "-c", "exit 7"]);
    r.code(7);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    // Killed by a signal: 128+N.
    home.run(&["exec", "p", "--", "sh", "-c", "kill -TERM $$"]).code(143);
    // stdin, stdout and stderr pass through.
    let r = home.run_stdin(&["exec", "p", "--", "sh", "-c", "cat; echo to-stderr >&2"], "hello\n", |_| {});
    assert_eq!(r.ok().stdout, "hello\n");
    assert_eq!(r.stderr, "to-stderr\n");
    // --env-name, several PROFILE=NAME pairs.
    mockas::login(&home, &mock, "q");
    let bt = access_token(&home, "q");
    let r = home.run(&["exec", "p", "--env-name", "API", "--", "sh", "-c", "printf %s \"$API\""]);
    assert_eq!(r.ok().stdout, at);
    let r = home.run(&["exec", "p=A_TOKEN", "q=B_TOKEN", "--", "sh", "-c", "printf '%s %s' \"$A_TOKEN\" \"$B_TOKEN\""]);
    assert_eq!(r.ok().stdout, format!("{at} {bt}"));
    let r = home.run(&["exec", "p", "q", "--", "true"]);
    assert!(r.code(2).stderr.contains("both set $TOKCLI_TOKEN"), "{}", r.stderr);
    // The command cannot be found or run: 127 / 126, like a shell.
    assert!(home.run(&["exec", "p", "--", "no-such-command-xyz"]).code(127).stderr.contains("cannot run"));
    home.run(&["exec", "p", "--", "/"]).code(126);
    // No such profile: exit 3, and the command never runs.
    let marker = home.path().join("ran");
    let r = home.run(&["exec", "nope", "--", "touch", marker.to_str().expect("utf8")]);
    r.code(3);
    assert!(!marker.exists());
}

#[test]
fn exec_refreshes_for_min_valid() {
    let (home, mock) = setup("p");
    let before = access_token(&home, "p");
    let r = home.run(&["exec", "p", "--min-valid", "2h", "--", "sh", "-c", "printf %s \"$TOKCLI_TOKEN\""]);
    assert_ne!(r.ok().stdout, before, "a 1h token is not valid for 2h: refreshed");
    assert_eq!(r.stdout, access_token(&home, "p"), "the refreshed token was stored first");
    assert_eq!(mock.count_grant("refresh_token"), 1);
}

#[test]
fn exec_requires_double_dash() {
    let (home, _mock) = setup("p");
    let r = home.run(&["exec", "p", "env"]);
    r.code(2);
    assert!(r.stderr.contains("-- <COMMAND>"), "{}", r.stderr);
    home.run(&["exec", "p", "--"]).code(2);
    home.run(&["exec", "--", "env"]).code(2);
    // Everything after `--` belongs to the command, flags included.
    let r = home.run(&["exec", "p", "--", "sh", "-c", "echo \"$0 $1\"", "--version", "-q"]);
    assert_eq!(r.ok().stdout, "--version -q\n");
}

#[test]
fn exec_scrubs_the_environment() {
    let (home, _mock) = setup("p");
    let r = home.run_with(&["exec", "p", "--", "env"], |c| {
        c.env("TOKCLI_CLIENT_SECRET", "client-secret-value")
            .env("TOKCLI_PASSPHRASE", "passphrase-value")
            .env("TOKCLI_PASSPHRASE_FILE", "/some/file")
            .env("TOKCLI_CA_FILE", "/etc/ssl/extra.pem")
            .env("UNRELATED", "kept");
    });
    let env = r.ok().stdout.clone();
    let vars: Vec<&str> = env.lines().filter_map(|l| l.split_once('=').map(|(k, _)| k)).collect();
    for gone in ["TOKCLI_STORE_KEY", "TOKCLI_CLIENT_SECRET", "TOKCLI_PASSPHRASE", "TOKCLI_PASSPHRASE_FILE"] {
        assert!(!vars.contains(&gone), "{gone} reached the child");
    }
    assert!(!env.contains(&home.key), "the store key reached the child");
    for kept in ["TOKCLI_HOME", "TOKCLI_KEY_SOURCE", "TOKCLI_CA_FILE", "UNRELATED", "PATH", "TOKCLI_TOKEN"] {
        assert!(vars.contains(&kept), "{kept} was removed");
    }
    assert!(env.lines().any(|l| l == "TOKCLI_EXEC_DEPTH=1"), "{env}");
    // Variables that tokcli removes or sets cannot carry a token.
    home.run(&["exec", "p=TOKCLI_STORE_KEY", "--", "true"]).code(2);
    home.run(&["exec", "p=TOKCLI_EXEC_DEPTH", "--", "true"]).code(2);
}

#[test]
fn exec_refuses_to_nest() {
    let (home, _mock) = setup("p");
    let marker = home.path().join("inner-ran");
    let inner = format!("\"$TOKCLI\" exec p -- touch {}", marker.display());
    let r = home.run_with(&["exec", "p", "--", "sh", "-c", &inner], |c| {
        c.env("TOKCLI", bin());
    });
    r.code(2);
    assert!(r.stderr.contains("refusing to run inside another `tokcli exec`"), "{}", r.stderr);
    assert!(r.stderr.contains("--allow-nested"), "{}", r.stderr);
    assert!(!marker.exists());
    // On purpose: --allow-nested, and the depth goes up.
    let r = home.run_with(&["exec", "p", "--allow-nested", "--", "sh", "-c", "echo $TOKCLI_EXEC_DEPTH"], |c| {
        c.env("TOKCLI_EXEC_DEPTH", "1");
    });
    assert_eq!(r.ok().stdout, "2\n");
}

/// Spawns `tokcli exec p -- sh -c 'echo ready; exec sleep 30'`, waits for "ready", sends `sig`.
fn exec_and_signal(home: &Home, sig: &str, child_script: &str) -> (i32, String) {
    let mut c = home.cmd();
    c.args(["exec", "p", "--", "sh", "-c", child_script]).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("ready line");
    assert_eq!(line, "ready\n");
    let started = Instant::now();
    let st = Command::new("kill").args([sig, &child.id().to_string()]).status().expect("kill");
    assert!(st.success());
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("rest of stdout");
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("stderr");
    let status = child.wait().expect("wait");
    assert!(started.elapsed() < Duration::from_secs(20), "the signal was not forwarded");
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(status.signal(), None, "tokcli itself was killed: {err}");
    (status.code().expect("exit code"), rest)
}

#[test]
fn exec_forwards_signals() {
    let (home, _mock) = setup("p");
    let (code, _) = exec_and_signal(&home, "-INT", "echo ready; exec sleep 30");
    assert_eq!(code, 130, "SIGINT reached the child, which died of it");
    let (code, _) = exec_and_signal(&home, "-TERM", "echo ready; exec sleep 30");
    assert_eq!(code, 143);
    // A child that handles the signal decides the exit code.
    let (code, rest) = exec_and_signal(
        &home,
        "-TERM",
        "trap 'echo cleaned up; exit 5' TERM; echo ready; while :; do sleep 0.05; done",
    );
    assert_eq!(code, 5);
    assert_eq!(rest, "cleaned up\n");
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions masking, against a fake runner

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

/// What a GitHub Actions runner makes of one `run:` step (actions/runner): the step's stdout and
/// stderr are separate pipes, both parsed for workflow commands (`ScriptHandler` hands both to
/// `OutputManager` → `ActionCommandManager`); `::add-mask::V` registers V with the secret masker,
/// which masks every line logged after it. Lines are taken in the order they become readable,
/// stderr first when both are (as `ProcessInvoker.ProcessOutput` drains stderr before stdout), so
/// a line written before another is never seen after it.
struct Step {
    code: i32,
    /// Lines as read, before masking.
    raw: Vec<(Stream, String)>,
    /// The job log the runner would show.
    log: Vec<String>,
    masks: Vec<String>,
}

fn run_step(home: &Home, script: &str, env: &[(&str, &str)]) -> Step {
    use rustix::event::{PollFd, PollFlags, poll};
    let bin_dir = bin().parent().expect("bin dir").to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut c = Command::new("bash");
    c.args(["-e", "-o", "pipefail", "-c", script])
        .env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        .env("TOKCLI_HOME", home.path())
        .env("TOKCLI_KEY_SOURCE", "env")
        .env("TOKCLI_STORE_KEY", &home.key)
        .env("GITHUB_ACTIONS", "true")
        .env("CI", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("bash");
    let mut pipes: [(Stream, Box<dyn std::io::Read>, Option<std::os::fd::OwnedFd>); 2] = {
        let err = child.stderr.take().expect("stderr");
        let out = child.stdout.take().expect("stdout");
        let (efd, ofd) =
            (err.as_fd().try_clone_to_owned().expect("dup"), out.as_fd().try_clone_to_owned().expect("dup"));
        [(Stream::Err, Box::new(err), Some(efd)), (Stream::Out, Box::new(out), Some(ofd))]
    };
    let mut partial = [Vec::new(), Vec::new()];
    let mut raw = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while pipes.iter().any(|p| p.2.is_some()) {
        assert!(Instant::now() < deadline, "the step hung");
        let ready: Vec<usize> = {
            let open: Vec<usize> = (0..2).filter(|i| pipes[*i].2.is_some()).collect();
            let mut fds: Vec<PollFd<'_>> =
                open.iter().map(|i| PollFd::new(pipes[*i].2.as_ref().expect("open"), PollFlags::IN)).collect();
            poll(&mut fds, None).expect("poll");
            open.iter().zip(&fds).filter(|(_, f)| !f.revents().is_empty()).map(|(i, _)| *i).collect()
        };
        // Index 0 is stderr: drained first.
        for i in ready {
            let mut buf = [0u8; 65536];
            let n = pipes[i].1.read(&mut buf).expect("read");
            if n == 0 {
                pipes[i].2 = None;
                if !partial[i].is_empty() {
                    raw.push((pipes[i].0, String::from_utf8_lossy(&std::mem::take(&mut partial[i])).into_owned()));
                }
                continue;
            }
            partial[i].extend_from_slice(&buf[..n]);
            while let Some(pos) = partial[i].iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = partial[i].drain(..=pos).collect();
                raw.push((pipes[i].0, String::from_utf8_lossy(&line[..line.len() - 1]).into_owned()));
            }
        }
    }
    let code = child.wait().expect("wait").code().unwrap_or(-1);
    let mut masks: Vec<String> = Vec::new();
    let mut log = Vec::new();
    for (_, line) in &raw {
        if let Some(v) = line.trim_start().strip_prefix("::add-mask::") {
            masks.push(v.to_owned());
            continue;
        }
        let mut l = line.clone();
        for m in &masks {
            l = l.replace(m.as_str(), "***");
        }
        log.push(l);
    }
    Step { code, raw, log, masks }
}

impl Step {
    #[track_caller]
    fn assert_masked(&self, token: &str) {
        assert_eq!(self.code, 0, "step failed: {:#?}", self.raw);
        assert!(self.masks.iter().any(|m| m == token), "no ::add-mask:: for the token: {:#?}", self.raw);
        for l in &self.log {
            assert!(!l.contains(token), "the token reached the job log unmasked: {l:?}\n{:#?}", self.raw);
        }
        let mask = self.raw.iter().position(|(_, l)| l.starts_with("::add-mask::")).expect("mask line");
        assert_eq!(self.raw[mask].0, Stream::Err, "the mask command must go to stderr");
        if let Some(used) = self.raw.iter().position(|(_, l)| l.contains(token) && !l.starts_with("::add-mask::")) {
            assert!(mask < used, "the token was used before it was masked: {:#?}", self.raw);
        }
        assert!(
            !self.raw.iter().any(|(s, l)| *s == Stream::Out && l.contains("::add-mask::")),
            "a mask command on stdout would corrupt $(…) captures"
        );
    }
}

#[test]
fn github_actions_masks_tokens_outside_captures() {
    let (home, _mock) = setup("ci");
    let at = access_token(&home, "ci");
    let dir = tempfile::tempdir().expect("tempdir");
    let captured = dir.path().join("captured");
    // The common case: a command substitution, then the token used on both streams.
    let script = r#"
        T=$(tokcli token ci)
        printf '%s' "$T" > "$OUT/captured"
        echo "curl -H 'Authorization: Bearer $T'"
        echo "debug: $T" >&2
        H=$(tokcli token ci --format header)
        echo "$H"
        J=$(tokcli token ci --format json)
        echo "$J"
        printf '%s' "$J" > "$OUT/json"
    "#;
    let out = dir.path().to_str().expect("utf8");
    let step = run_step(&home, script, &[("OUT", out)]);
    step.assert_masked(&at);
    assert_eq!(std::fs::read_to_string(&captured).expect("captured"), at, "$(tokcli token) holds the token alone");
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("json")).expect("json")).expect("JSON");
    assert_eq!(j["access_token"], at.as_str());
    assert!(step.log.iter().any(|l| l == "curl -H 'Authorization: Bearer ***'"), "{:#?}", step.log);
    assert!(step.log.iter().any(|l| l == "debug: ***"), "{:#?}", step.log);
    // Not captured: the token goes straight to the step's stdout, after its mask.
    let step = run_step(&home, "tokcli token ci", &[]);
    step.assert_masked(&at);
    assert_eq!(step.log, vec!["***".to_owned()]);
    // -q does not drop the mask.
    run_step(&home, "echo \"$(tokcli -q token ci)\"", &[]).assert_masked(&at);
    // The ID token is masked too.
    let id = home.secret("ci", Field::IdToken).expect("id token");
    run_step(&home, "echo \"$(tokcli token ci --id-token)\"", &[]).assert_masked(&id);
    // Outside GitHub Actions nothing is added.
    let r = home.run(&["token", "ci"]);
    assert!(r.ok().stderr.is_empty());
    let r = home.run_with(&["token", "ci"], |c| {
        c.env("GITHUB_ACTIONS", "false");
    });
    assert!(r.ok().stderr.is_empty());
}

#[test]
fn github_actions_mask_survives_percent_unescaping() {
    let home = Home::new();
    let mock = MockAs::start();
    mock.set_canary("p%25q%");
    mockas::login(&home, &mock, "ci");
    let at = access_token(&home, "ci");
    let step = run_step(&home, "echo \"token: $(tokcli token ci)\"", &[]);
    step.assert_masked(&at);
    // Runners that unescape `%25` in command data get the second form back to the raw token.
    assert!(step.masks.contains(&at.replace('%', "%25")), "{:?}", step.masks);
}

#[test]
fn github_actions_masks_exec_and_github_env() {
    let (home, _mock) = setup("ci");
    let at = access_token(&home, "ci");
    let script = r#"tokcli exec ci -- sh -c 'echo "child: $TOKCLI_TOKEN"; echo "child err: $TOKCLI_TOKEN" >&2'"#;
    let step = run_step(&home, script, &[]);
    step.assert_masked(&at);
    assert!(
        step.log.contains(&"child: ***".to_owned()) && step.log.contains(&"child err: ***".to_owned()),
        "{:#?}",
        step.log
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let env_file = dir.path().join("github_env");
    std::fs::write(&env_file, "EARLIER=1\n").expect("write");
    let step = run_step(
        &home,
        "tokcli token ci --format github-env --env-name API_TOKEN",
        &[("GITHUB_ENV", env_file.to_str().expect("utf8"))],
    );
    step.assert_masked(&at);
    assert!(!step.raw.iter().any(|(s, _)| *s == Stream::Out), "github-env prints nothing on stdout: {:#?}", step.raw);
    assert_eq!(std::fs::read_to_string(&env_file).expect("read"), format!("EARLIER=1\nAPI_TOKEN={at}\n"));
    // Without $GITHUB_ENV: a usage error, and the token goes nowhere.
    let r = home.run(&["token", "ci", "--format", "github-env"]);
    r.code(2);
    assert!(!r.stderr.contains(&at) && r.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------------
// completions, manual, help

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let home = Home::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let r = home.run(&["generate", "--out", tmp.path().to_str().expect("utf8")]);
    r.ok();
    let mut stale = Vec::new();
    for sub in ["completions", "man"] {
        let (fresh, committed) = (tmp.path().join(sub), repo().join(sub));
        let names = |d: &Path| -> Vec<String> {
            if !d.is_dir() {
                return Vec::new();
            }
            files_under(d).iter().map(|p| p.file_name().expect("name").to_string_lossy().into_owned()).collect()
        };
        let (fresh_names, committed_names) = (names(&fresh), names(&committed));
        if fresh_names != committed_names {
            stale.push(format!("{sub}/: generated {fresh_names:?}, committed {committed_names:?}"));
        }
        for n in &fresh_names {
            if std::fs::read(fresh.join(n)).ok() != std::fs::read(committed.join(n)).ok() {
                stale.push(format!("{sub}/{n}"));
            }
        }
    }
    assert!(stale.is_empty(), "stale generated files (run `cargo run -- generate --out .`): {stale:#?}");
    for shell in ["tokcli.bash", "_tokcli", "tokcli.fish", "_tokcli.ps1", "tokcli.elv"] {
        assert!(tmp.path().join("completions").join(shell).is_file(), "{shell}");
    }
    let man = std::fs::read_to_string(tmp.path().join("man/tokcli.1")).expect("tokcli.1");
    for section in ["SH EXAMPLES", "SH \"EXIT STATUS\"", "SH ENVIRONMENT", "SH FILES", "TOKCLI_STORE_KEY"] {
        assert!(man.contains(section), "tokcli.1 lacks {section}");
    }
    for sub in ["login", "token", "refresh", "list", "revoke", "providers", "exec"] {
        let page = std::fs::read_to_string(tmp.path().join(format!("man/tokcli-{sub}.1"))).expect("page");
        assert!(page.contains("SH EXAMPLES") && page.contains("EXIT STATUS"), "tokcli-{sub}.1");
    }
    assert!(!tmp.path().join("man/tokcli-generate.1").exists(), "the hidden generate command has no page");
}

#[test]
fn every_subcommand_help_has_examples() {
    use clap::CommandFactory as _;
    let home = Home::new();
    let subs: Vec<String> = tokcli::cli::Cli::command().get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for must in ["login", "token", "refresh", "list", "revoke", "providers", "exec", "generate"] {
        assert!(subs.iter().any(|s| s == must), "no {must} subcommand");
    }
    for sub in &subs {
        let r = home.run(&[sub, "--help"]);
        assert!(r.ok().stdout.contains("\nExamples:\n"), "`tokcli {sub} --help` has no Examples section");
    }
    let r = home.run(&["--help"]);
    assert!(r.ok().stdout.contains("exec") && !r.stdout.contains("generate"), "generate is hidden");
}

// ---------------------------------------------------------------------------------------------
// quickstart

/// Runs the real, unmodified `scripts/quickstart.sh` against the binary under test: a scratch
/// tree holds a copy of the script, links to tests/oidc and to the test binary as
/// target/release/tokcli, and a `cargo` on PATH that does nothing. Only the release build is
/// skipped (CI runs the script as is, build included).
#[test]
fn quickstart_runs_every_step() {
    let tree = tempfile::tempdir().expect("tempdir");
    let root = tree.path();
    std::fs::create_dir_all(root.join("scripts")).expect("mkdir");
    std::fs::create_dir_all(root.join("tests")).expect("mkdir");
    std::fs::create_dir_all(root.join("target/release")).expect("mkdir");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    std::fs::copy(repo().join("scripts/quickstart.sh"), root.join("scripts/quickstart.sh")).expect("copy");
    std::os::unix::fs::symlink(repo().join("tests/oidc"), root.join("tests/oidc")).expect("link oidc");
    std::os::unix::fs::symlink(bin(), root.join("target/release/tokcli")).expect("link bin");
    std::fs::write(root.join("bin/cargo"), "#!/bin/sh\nexit 0\n").expect("cargo stub");
    std::fs::set_permissions(root.join("bin/cargo"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let path = format!("{}:{}", root.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let o = Command::new("bash")
        .arg(root.join("scripts/quickstart.sh"))
        .env_clear()
        .env("PATH", path)
        .env("HOME", root)
        .stdin(Stdio::null())
        .output()
        .expect("run quickstart");
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "quickstart failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    for step in [
        "$ tokcli login http://127.0.0.1:",
        "$ tokcli token demo",
        "$ curl -H \"Authorization: Bearer $(tokcli token demo)\"",
        "$ tokcli list",
        "$ tokcli refresh demo",
        "$ tokcli revoke demo",
        "exit code: 3",
        "quickstart complete.",
    ] {
        assert!(stderr.contains(step), "the quickstart's stderr does not show {step:?}:\n{stderr}");
    }
    assert!(stderr.contains("Logged in to demo"), "{stderr}");
    assert!(stdout.contains("PROFILE") && stdout.contains("demo"), "the list is shown:\n{stdout}");
}

/// bench/spawn.c, the interleaved timer behind the benchmark ratios: one line per command with
/// its median and quartiles, and a failing command stops it.
#[test]
fn bench_timer_reports_each_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = dir.path().join("spawn");
    let cc = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(repo().join("bench/spawn.c"))
        .output()
        .expect("cc (a C compiler is needed to build SQLite anyway)");
    assert!(cc.status.success(), "{}", String::from_utf8_lossy(&cc.stderr));
    let out = Command::new(&exe).args(["25", "true", ";", "sleep", "0.01"]).output().expect("spawn");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Vec<f64>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(|v| v.parse().expect("a number")).collect())
        .collect();
    assert_eq!(lines.len(), 2, "one line per command");
    for l in &lines {
        assert!(l.len() == 3 && l[1] <= l[0] && l[0] <= l[2], "median between the quartiles: {l:?}");
    }
    assert!(lines[1][0] >= 10_000.0 && lines[1][0] > lines[0][0], "sleep 0.01 takes >= 10 ms: {lines:?}");
    let out = Command::new(&exe).args(["5", "true", ";", "false"]).output().expect("spawn");
    assert!(!out.status.success(), "a failing command fails the benchmark");
}
