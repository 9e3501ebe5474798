//! Shared helpers: an isolated tokcli home, running the binary, and the real oidc-provider.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tokcli"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A finished tokcli run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The exit code (128 + signal when killed) and the output as text.
    pub fn of(o: &Output) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Self {
            code: o.status.code().unwrap_or_else(|| 128 + o.status.signal().unwrap_or(0)),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }
    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(self.code, want, "wrong exit code\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }
    /// The single line of stdout, without the newline (asserts there is exactly one).
    #[track_caller]
    pub fn line(&self) -> String {
        assert!(
            self.stdout.ends_with('\n') && self.stdout.matches('\n').count() == 1,
            "stdout is not one line: {:?}",
            self.stdout
        );
        self.stdout.trim_end_matches('\n').to_owned()
    }
}

/// An isolated tokcli home with an `env` store key (SECURITY-RELIABILITY §0.3.3).
pub struct Home {
    pub dir: tempfile::TempDir,
    pub key: String,
}

impl Home {
    pub fn new() -> Self {
        let key: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut perms = std::fs::metadata(dir.path()).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
        std::fs::set_permissions(dir.path(), perms).expect("chmod 700");
        Self { dir, key }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn db(&self) -> PathBuf {
        self.path().join("tokcli.db")
    }
    /// A command with a scrubbed environment: only PATH, HOME and tokcli's own variables.
    pub fn cmd(&self) -> Command {
        self.cmd_for(bin())
    }
    /// [`Home::cmd`] for another program (a test build of tokcli, or a shell or wrapper that
    /// runs tokcli), with the same scrubbed environment.
    pub fn cmd_for(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("TOKCLI_HOME", self.path())
            .env("TOKCLI_KEY_SOURCE", "env")
            .env("TOKCLI_STORE_KEY", &self.key)
            .stdin(Stdio::null());
        c
    }
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, |_| {})
    }
    pub fn run_with(&self, args: &[&str], f: impl FnOnce(&mut Command)) -> Run {
        let mut c = self.cmd();
        c.args(args);
        f(&mut c);
        Run::of(&c.output().expect("run tokcli"))
    }
    pub fn run_stdin(&self, args: &[&str], input: &str, f: impl FnOnce(&mut Command)) -> Run {
        let mut c = self.cmd();
        c.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        f(&mut c);
        let mut child = c.spawn().expect("spawn tokcli");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
        Run::of(&child.wait_with_output().expect("wait"))
    }
    /// Opens the store with rusqlite, as an outside party would (plaintext columns only).
    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db()).expect("open db")
    }
    /// Makes a profile's cached token look expired, without touching its secrets.
    pub fn expire(&self, profile: &str) {
        let n = self
            .sql()
            .execute("UPDATE profiles SET expires_at = strftime('%s','now') - 10 WHERE name = ?1", [profile])
            .expect("expire");
        assert_eq!(n, 1, "no profile {profile}");
    }
    pub fn sha256_db(&self) -> String {
        use sha2::Digest as _;
        let d = sha2::Sha256::digest(std::fs::read(self.db()).expect("read db"));
        d.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Makes sure the oidc-provider npm packages are installed; fails (never skips) when they are not.
fn ensure_node_modules() -> PathBuf {
    let dir = repo().join("tests/oidc");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "oidc-provider is not installed: run `npm ci --prefix tests/oidc` (.ci/run does this)"
    );
    dir
}

/// panva's oidc-provider on 127.0.0.1, killed on drop.
pub struct OidcServer {
    child: Child,
    pub issuer: String,
    pub port: u16,
}

impl OidcServer {
    pub fn start() -> Self {
        Self::start_with(&[], &[])
    }
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = ensure_node_modules();
        let mut c = Command::new("node");
        c.arg(dir.join("server.mjs")).args(args).stdout(Stdio::piped()).stderr(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("node must be installed to run the real-server tests");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read server banner");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad banner {line:?}: {e}"));
        Self {
            child,
            issuer: v["issuer"].as_str().expect("issuer").to_owned(),
            port: u16::try_from(v["port"].as_u64().expect("port")).expect("port"),
        }
    }
    pub fn stats(&self) -> serde_json::Value {
        get_json(&format!("{}/__test/stats", self.issuer))
    }
    pub fn reset(&self) {
        let _ = reqwest::blocking::Client::new().post(format!("{}/__test/reset", self.issuer)).send().expect("reset");
    }
    pub fn refresh_count(&self) -> u64 {
        self.stats()["token"]["refresh_token"].as_u64().unwrap_or(0)
    }
    /// RFC 7662 introspection with the confidential client's credentials.
    pub fn introspect(&self, token: &str) -> serde_json::Value {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/token/introspection", self.issuer))
            .basic_auth("tokcli-confidential", Some("tokcli-confidential-secret"))
            .form(&[("token", token)])
            .send()
            .expect("introspect");
        r.json().expect("introspection json")
    }
    pub fn fakebrowser() -> PathBuf {
        repo().join("tests/oidc/fakebrowser")
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn get_json(url: &str) -> serde_json::Value {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
        .get(url)
        .send()
        .expect("get")
        .json()
        .expect("json")
}

impl Home {
    /// Decrypts one stored secret with the test's key, as a forensic check (RF-02, PH-01).
    pub fn secret(&self, profile: &str, field: tokcli::store::crypto::Field) -> Option<String> {
        use secrecy::ExposeSecret as _;
        use tokcli::store::crypto::{Cipher, Field, Place};
        let conn = self.sql();
        let store_id: Vec<u8> =
            conn.query_row("SELECT value FROM meta WHERE key = 'store_id'", [], |r| r.get(0)).expect("store_id");
        let col = match field {
            Field::AccessToken => "access_token_ct",
            Field::RefreshToken => "refresh_token_ct",
            Field::IdToken => "id_token_ct",
            Field::ClientSecret => "client_secret_ct",
        };
        let (id, generation, blob): (i64, i64, Option<Vec<u8>>) = conn
            .query_row(&format!("SELECT id, generation, {col} FROM profiles WHERE name = ?1"), [profile], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("profile row");
        let key = tokcli::store::keys::decode_key(&self.key).expect("key");
        let c = Cipher::new(&key, std::str::from_utf8(&store_id).expect("utf8"));
        blob.map(|b| {
            c.open(field, Place { profile_id: id, generation }, &b, profile).expect("open").expose_secret().to_owned()
        })
    }
}

/// A home on its own 1 MiB tmpfs, for disk-full faults. Unmounted on drop.
pub struct TmpfsHome {
    pub home: Home,
}

impl TmpfsHome {
    pub fn new() -> Self {
        let home = Home::new();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"])
            .arg(home.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "the disk-full rows need a 1 MiB tmpfs: `mount -t tmpfs` failed ({}); run the suite as root \
with CAP_SYS_ADMIN",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Self { home }
    }

    /// Fills the file system to 100 %.
    pub fn fill(&self) -> PathBuf {
        let p = self.home.path().join("filler");
        let mut f = std::fs::File::create(&p).expect("create the filler file");
        for size in [64 * 1024, 4096, 512, 1] {
            let buf = vec![0u8; size];
            while f.write(&buf).is_ok_and(|n| n > 0) {}
        }
        let _ = f.sync_all();
        p
    }
}

impl Drop for TmpfsHome {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.home.path()).status();
    }
}

trait WaitTimeout {
    fn wait_timeout_secs(&mut self, secs: u64) -> Option<std::process::ExitStatus>;
}

impl WaitTimeout for Child {
    fn wait_timeout_secs(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if let Ok(Some(st)) = self.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// A private D-Bus session (from `dbus-run-session`) with an unlocked gnome-keyring, for the tests
/// of the keyring key source. Each gets its own bus and keyring files.
pub struct KeyringSession {
    bus: Child,
    /// The session's child process; when it exits, dbus-run-session ends the bus daemon too.
    child_pid: String,
    addr: String,
    dir: tempfile::TempDir,
    /// Keep the kernel-keyring copy of the key out of the way (`TOKCLI_KEY_CACHE=off`).
    no_key_cache: bool,
}

impl KeyringSession {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = dir.path().join("run");
        std::fs::create_dir_all(&run).expect("runtime dir");
        let mut perms = std::fs::metadata(&run).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
        std::fs::set_permissions(&run, perms).expect("chmod");
        let mut bus = Command::new("dbus-run-session")
            .args(["--", "sh", "-c", "echo \"$DBUS_SESSION_BUS_ADDRESS\"; echo $$; exec sleep 600"])
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", &run)
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-run-session must be installed (apt: dbus)");
        let (mut addr, mut child_pid) = (String::new(), String::new());
        let mut out = BufReader::new(bus.stdout.take().expect("stdout"));
        out.read_line(&mut addr).expect("bus address");
        out.read_line(&mut child_pid).expect("child pid");
        let s = Self {
            bus,
            child_pid: child_pid.trim().to_owned(),
            addr: addr.trim().to_owned(),
            dir,
            no_key_cache: false,
        };
        assert!(s.addr.starts_with("unix:"), "no session bus address: {:?}", s.addr);
        let mut daemon = s
            .command("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon must be installed (apt: gnome-keyring)");
        daemon.stdin.take().expect("stdin").write_all(b"pw").expect("password");
        assert!(daemon.wait().expect("wait").success(), "gnome-keyring-daemon --unlock failed");
        s
    }

    /// The same session, with `TOKCLI_KEY_CACHE=off` on every tokcli command, so each run asks
    /// the Secret Service.
    pub fn without_key_cache(mut self) -> Self {
        self.no_key_cache = true;
        self
    }

    /// A command that talks to this session's bus.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        self.apply(&mut c);
        // The keyring files live in this session's own directory, not the user's.
        c.env("HOME", self.dir.path()).env("XDG_DATA_HOME", self.dir.path().join("data"));
        c
    }

    /// Points a command at this session's bus, with the default (keyring) key source.
    pub fn apply(&self, c: &mut Command) {
        c.env("DBUS_SESSION_BUS_ADDRESS", &self.addr)
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env_remove("TOKCLI_KEY_SOURCE")
            .env_remove("TOKCLI_STORE_KEY");
        if self.no_key_cache {
            c.env("TOKCLI_KEY_CACHE", "off");
        }
    }

    /// Items the keyring holds for tokcli (attribute `service=tokcli`).
    pub fn tokcli_items(&self) -> usize {
        let out =
            self.command("secret-tool").args(["search", "--all", "service", "tokcli"]).output().expect("secret-tool");
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("secret = ")).count()
            + String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.starts_with("secret = ")).count()
    }

    /// Locks the login collection, as a screen lock would.
    pub fn lock(&self) {
        let st = self
            .command("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                "array:objpath:/org/freedesktop/secrets/collection/login",
            ])
            .stdout(Stdio::null())
            .status()
            .expect("dbus-send");
        assert!(st.success(), "locking the collection failed");
    }

    pub fn run(&self, home: &Home, args: &[&str]) -> Run {
        home.run_with(args, |c| self.apply(c))
    }
}

impl Drop for KeyringSession {
    fn drop(&mut self) {
        // Ending the session's child makes dbus-run-session stop the bus daemon, and with the bus
        // gone gnome-keyring-daemon exits; killing dbus-run-session itself would leak both.
        let _ = Command::new("kill").arg(&self.child_pid).status();
        if self.bus.wait_timeout_secs(5).is_none() {
            let _ = self.bus.kill();
        }
        let _ = self.bus.wait();
    }
}
