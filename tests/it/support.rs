//! Shared helpers: an isolated tokcli home, running the binary, and the real oidc-provider.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

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
    fn from(o: Output) -> Self {
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
        let mut c = Command::new(bin());
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
        Run::from(c.output().expect("run tokcli"))
    }
    pub fn run_stdin(&self, args: &[&str], input: &str, f: impl FnOnce(&mut Command)) -> Run {
        let mut c = self.cmd();
        c.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        f(&mut c);
        let mut child = c.spawn().expect("spawn tokcli");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
        Run::from(child.wait_with_output().expect("wait"))
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
