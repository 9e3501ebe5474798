//! The OS keyring key source against a real Secret Service: gnome-keyring under
//! `dbus-run-session` (KM-01..KM-06). Each test gets its own session bus and keyring files.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Home, OidcServer, Run};

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

/// A private D-Bus session (from `dbus-run-session`) with an unlocked gnome-keyring.
struct Session {
    bus: Child,
    /// The session's child process; when it exits, dbus-run-session ends the bus daemon too.
    child_pid: String,
    addr: String,
    dir: tempfile::TempDir,
}

impl Session {
    fn start() -> Self {
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
        let s = Self { bus, child_pid: child_pid.trim().to_owned(), addr: addr.trim().to_owned(), dir };
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

    /// A command that talks to this session's bus.
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        self.apply(&mut c);
        // The keyring files live in this session's own directory, not the user's.
        c.env("HOME", self.dir.path()).env("XDG_DATA_HOME", self.dir.path().join("data"));
        c
    }

    fn apply(&self, c: &mut Command) {
        c.env("DBUS_SESSION_BUS_ADDRESS", &self.addr)
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env_remove("TOKCLI_KEY_SOURCE")
            .env_remove("TOKCLI_STORE_KEY");
    }

    /// Items the keyring holds for tokcli (attribute `service=tokcli`).
    fn tokcli_items(&self) -> usize {
        let out =
            self.command("secret-tool").args(["search", "--all", "service", "tokcli"]).output().expect("secret-tool");
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("secret = ")).count()
            + String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.starts_with("secret = ")).count()
    }

    fn lock(&self) {
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

    fn run(&self, home: &Home, args: &[&str]) -> Run {
        home.run_with(args, |c| self.apply(c))
    }
}

impl Drop for Session {
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

fn login(s: &Session, home: &Home, srv: &OidcServer) {
    home.run_with(
        &["login", &srv.issuer, "--client-id", "tokcli-public", "--profile", "kr", "--timeout", "60s"],
        |c| {
            s.apply(c);
            c.env("BROWSER", OidcServer::fakebrowser());
        },
    )
    .ok();
}

#[test]
fn key_lives_in_secret_service_and_locked_keyring_is_exit_6() {
    let s = Session::start();
    let srv = OidcServer::start();
    let home = Home::new();
    login(&s, &home, &srv);
    assert_eq!(s.tokcli_items(), 1, "exactly one keyring item: the 32-byte store key (KM-05)");
    let pinned: Vec<u8> =
        home.sql().query_row("SELECT value FROM meta WHERE key='key_source'", [], |r| r.get(0)).expect("meta");
    assert_eq!(pinned, b"keyring");
    // a new process reads the key back from the Secret Service
    let at = s.run(&home, &["token", "kr"]).ok().line();
    assert_eq!(srv.introspect(&at)["active"], true);

    // KM-06: 64 concurrent readers all get the key.
    let kids: Vec<_> = (0..64)
        .map(|_| {
            let mut c = home.cmd();
            s.apply(&mut c);
            c.args(["token", "kr"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().expect("wait");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    // Locked: the kernel-keyring copy of the key (read from the Secret Service above, scoped to
    // this D-Bus session) keeps the hot path working until it expires — the documented trade-off.
    s.lock();
    assert_eq!(s.run(&home, &["token", "kr"]).ok().line(), at);
    // Without the cache: exit 6 within a few seconds, a message that says how to unlock,
    // nothing changed.
    home.expire("kr");
    let before = home.sha256_db();
    let t = Instant::now();
    let r = home.run_with(&["token", "kr"], |c| {
        s.apply(c);
        c.env("TOKCLI_KEY_CACHE", "off");
    });
    r.code(6);
    assert!(t.elapsed() < Duration::from_secs(6), "took {:?}", t.elapsed());
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("locked") && r.stderr.contains("unlock"), "{}", r.stderr);
    assert!(r.stderr.contains("TOKCLI_KEY_SOURCE"), "names the headless options: {}", r.stderr);
    assert_eq!(home.sha256_db(), before);
    assert_eq!(srv.refresh_count(), 0);
}

#[test]
fn missing_entry_or_bus_never_makes_a_new_key() {
    let s = Session::start();
    let srv = OidcServer::start();
    let home = Home::new();
    login(&s, &home, &srv);
    let before = home.sha256_db();
    // The login's read-back does not populate the kernel cache, but be explicit: this test is
    // about the Secret Service itself.

    // No session bus at all.
    let r = home.run_with(&["token", "kr"], |c| {
        s.apply(c);
        c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    });
    r.code(6);
    assert!(r.stderr.contains("TOKCLI_KEY_SOURCE"), "{}", r.stderr);

    // The entry deleted behind tokcli's back.
    let st = s.command("secret-tool").args(["clear", "service", "tokcli"]).status().expect("secret-tool clear");
    assert!(st.success());
    assert_eq!(s.tokcli_items(), 0);
    let r = home.run_with(&["token", "kr"], |c| {
        s.apply(c);
        c.env("TOKCLI_KEY_CACHE", "off");
    });
    r.code(6);
    assert!(r.stderr.contains("missing"), "{}", r.stderr);
    assert_eq!(s.tokcli_items(), 0, "no new key generated while the store holds ciphertexts (KM-03)");
    assert_eq!(home.sha256_db(), before);

    // A first login with no reachable keyring creates nothing.
    let fresh = Home::new();
    let r = fresh.run_with(&["login", &srv.issuer, "--client-id", "tokcli-public", "--profile", "x"], |c| {
        s.apply(c);
        c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus").env("BROWSER", OidcServer::fakebrowser());
    });
    r.code(6);
    assert!(!fresh.db().exists());
}
