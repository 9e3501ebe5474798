//! One use case per subcommand; the only place that combines the store, the provider and the
//! loopback adapters. Commands take resolved settings, never raw arguments from the environment.

mod doctor;
mod exec;
mod fresh;
mod generate;
mod list;
mod login;
mod providers;
mod refresh;
mod rekey;
mod revoke;
mod token;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::model::{ProfileName, parse_duration};
use crate::output::Printer;
use crate::provider::http::Http;
use crate::settings::Settings;
use crate::store::{SqliteStore, TokenStore};

pub use fresh::{Fresh, Policy, get_fresh};

/// What every command gets: settings, the printer, and a lazily built HTTP client.
#[derive(Debug)]
pub struct Ctx {
    pub settings: Settings,
    pub printer: Printer,
    http: OnceLock<Http>,
}

impl Ctx {
    #[must_use]
    pub fn new(settings: Settings, printer: Printer) -> Self {
        Self { settings, printer, http: OnceLock::new() }
    }

    /// A context for a worker thread: the same settings and printer, and an HTTP client of its
    /// own, because an [`Http`] drives its requests on the thread that calls it.
    #[must_use]
    pub fn worker(&self) -> Self {
        Self::new(self.settings.clone(), self.printer.clone())
    }

    /// The HTTP client, built on first use so the cached-token path never pays for TLS set-up.
    ///
    /// # Errors
    /// When `TOKCLI_CA_FILE` is unreadable.
    pub fn http(&self) -> Result<&Http, Error> {
        if let Some(h) = self.http.get() {
            return Ok(h);
        }
        let h = Http::new()?;
        Ok(self.http.get_or_init(|| h))
    }

    /// Opens the existing store, or `None` when nothing was ever stored.
    ///
    /// # Errors
    /// Exit 5 when the store is unreadable.
    pub fn store(&self) -> Result<Option<SqliteStore>, Error> {
        let store = SqliteStore::open_existing(&self.settings.paths, &self.settings.open)?;
        self.printer.debug(3, "store opened");
        if let Some(s) = &store {
            self.warn_if_insecure(s);
        }
        Ok(store)
    }

    /// KM-04 (d): a store whose key is a plaintext file says so on every use, unless
    /// `TOKCLI_ACK_INSECURE=1`; `-q` does not silence it. Once per run, however many workers open
    /// the store.
    fn warn_if_insecure(&self, store: &SqliteStore) {
        static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if store.key_is_insecure()
            && std::env::var("TOKCLI_ACK_INSECURE").map_or(true, |v| v != "1")
            && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            self.printer.warn_always(&format!(
                "INSECURE: the store key is a plaintext file ({}); anyone who can read it can decrypt every \
token (set TOKCLI_ACK_INSECURE=1 to acknowledge and silence this)",
                store.paths().dir.join(crate::store::keys::PLAINTEXT_KEY_FILE).display()
            ));
        }
    }

    /// Opens the store or creates it (only for commands that store a new grant).
    ///
    /// # Errors
    /// Exit 5/6 when it cannot be created.
    pub fn store_or_create(&self) -> Result<SqliteStore, Error> {
        let store = SqliteStore::open_or_create(&self.settings.paths, &self.settings.open)?;
        self.warn_if_insecure(&store);
        if let Some(fs) = store.created_on_network_fs {
            self.printer.warn(&format!(
                "{} is on {fs}: the store uses a rollback journal instead of WAL, and locking is not \
guaranteed across hosts; run tokcli against this directory from one host at a time, or set TOKCLI_HOME \
to a local disk",
                self.settings.paths.dir.display()
            ));
        }
        Ok(store)
    }
}

/// Turns a `--timeout` value into an absolute deadline.
///
/// # Errors
/// A usage error for malformed durations.
pub fn deadline(timeout: &str) -> Result<Instant, Error> {
    let d = parse_duration(timeout)?;
    Ok(Instant::now() + d.max(Duration::from_millis(1)))
}

/// The error for a profile that does not exist.
#[must_use]
pub fn no_such_profile(name: &ProfileName) -> Error {
    Error::relogin(format!("no profile named {name}"))
        .hint(format!("run `tokcli login <provider> --profile {name}`, or `tokcli list` to see the stored profiles"))
}

/// Looks a profile up, failing with exit 3 when it does not exist.
///
/// # Errors
/// Exit 3 for unknown profiles; store errors as they are.
pub fn require(store: Option<&SqliteStore>, name: &ProfileName) -> Result<crate::store::Profile, Error> {
    store.map(|s| s.get(name)).transpose()?.flatten().ok_or_else(|| no_such_profile(name))
}

/// Runs the parsed command.
///
/// # Errors
/// Any classified error; `main` maps it to the exit code.
pub fn run(cli: Cli, printer: Printer) -> anyhow::Result<()> {
    if let Command::Generate(a) = &cli.command {
        return generate::run(&printer, a);
    }
    let settings =
        Settings::resolve(cli.home.clone(), cli.fix_permissions, cli.insecure_plaintext_key, cli.passphrase_fd)?;
    let ctx = Ctx::new(settings, printer);
    let result = match cli.command {
        Command::Login(a) => login::run(&ctx, &a),
        Command::Token(a) => token::run(&ctx, &a),
        Command::Refresh(a) => refresh::run(&ctx, &a),
        Command::List(a) => list::run(&ctx, &a),
        Command::Revoke(a) => revoke::run(&ctx, &a),
        Command::Providers(a) => providers::run(&ctx, &a),
        Command::Doctor(a) => doctor::run(&ctx, &a),
        Command::Rekey(a) => rekey::run(&ctx, &a),
        Command::Exec(a) => exec::run(&ctx, &a),
        Command::Generate(a) => generate::run(&ctx.printer, &a),
    };
    ctx.printer.debug(3, "command finished");
    result
}
