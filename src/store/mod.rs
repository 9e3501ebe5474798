//! The encrypted local store: SQLite schema and migrations, the per-profile lock, sealing of
//! secrets and the key sources (DESIGN.md §5).
//!
//! Profile rows keep their metadata in plaintext so `list` decrypts nothing; every secret is
//! sealed on its own (see [`crypto`]). Writes use `BEGIN IMMEDIATE` and a generation
//! compare-and-swap; reads are plain deferred transactions under WAL. This module never talks to
//! the network and never prints: warnings go back to the caller.

pub mod crypto;
mod discovery_cache;
pub mod keys;
pub mod lock;
pub mod rekey;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use secrecy::SecretString;

use crate::error::{Error, Result};
use crate::model::{ProfileName, Secrets, now};
use crypto::{Cipher, Field, Place};
use keys::KeySource;
pub use lock::ProfileLock;

/// `PRAGMA application_id`: "TokC".
pub const APPLICATION_ID: i64 = 0x546f_6b43;
/// The newest schema this binary knows.
pub const SCHEMA_VERSION: i64 = 1;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA_V1: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE profiles (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  provider TEXT NOT NULL,
  issuer TEXT,
  authorization_endpoint TEXT,
  token_endpoint TEXT NOT NULL,
  revocation_endpoint TEXT,
  device_endpoint TEXT,
  client_id TEXT NOT NULL,
  client_auth TEXT NOT NULL,
  scopes TEXT NOT NULL DEFAULT '',
  flow TEXT NOT NULL,
  extra TEXT NOT NULL DEFAULT '{}',
  account TEXT,
  token_type TEXT,
  granted_scope TEXT,
  expires_at INTEGER,
  obtained_at INTEGER,
  last_refreshed_at INTEGER,
  refresh_count INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'active',
  last_error TEXT,
  generation INTEGER NOT NULL DEFAULT 1,
  refresh_started_at INTEGER,
  refresh_owner INTEGER,
  created_at INTEGER NOT NULL,
  access_token_ct BLOB,
  refresh_token_ct BLOB,
  id_token_ct BLOB,
  client_secret_ct BLOB
);
CREATE TABLE discovery_cache (issuer TEXT PRIMARY KEY, document TEXT NOT NULL, fetched_at INTEGER NOT NULL);
";

/// Where the store lives.
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
    pub db: PathBuf,
    pub locks: PathBuf,
}

impl Paths {
    #[must_use]
    pub fn new(dir: PathBuf) -> Self {
        Self { db: dir.join("tokcli.db"), locks: dir.join("locks"), dir }
    }
}

/// Profile status values.
pub mod status {
    pub const ACTIVE: &str = "active";
    pub const NEEDS_LOGIN: &str = "needs-login";
    pub const ERROR: &str = "error";
}

/// How a profile talks to its provider: plaintext configuration, stored with the grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileConfig {
    pub provider: String,
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub device_endpoint: Option<String>,
    pub client_id: String,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub client_auth: String,
    /// Space-separated requested scopes.
    pub scopes: String,
    /// `authorization_code`, `device_code`, `client_credentials` or `refresh_token` (imported).
    pub flow: String,
    /// Provider quirks and extra token parameters as JSON.
    pub extra: String,
}

/// One stored profile: configuration, state and sealed secrets.
#[derive(Debug, Clone)]
pub struct Profile {
    pub id: i64,
    pub name: String,
    pub config: ProfileConfig,
    pub account: Option<String>,
    pub token_type: Option<String>,
    pub granted_scope: Option<String>,
    pub expires_at: Option<i64>,
    pub obtained_at: Option<i64>,
    pub last_refreshed_at: Option<i64>,
    pub refresh_count: i64,
    pub status: String,
    pub last_error: Option<String>,
    pub generation: i64,
    pub refresh_started_at: Option<i64>,
    pub refresh_owner: Option<i64>,
    pub created_at: i64,
    sealed: [Option<Vec<u8>>; 4],
}

impl Profile {
    #[must_use]
    pub fn has_refresh_token(&self) -> bool {
        self.sealed[1].is_some()
    }
    #[must_use]
    pub fn has_access_token(&self) -> bool {
        self.sealed[0].is_some()
    }
    #[must_use]
    pub fn has_client_secret(&self) -> bool {
        self.sealed[3].is_some()
    }
    fn place(&self) -> Place {
        Place { profile_id: self.id, generation: self.generation }
    }
}

/// The new state written after a successful token response.
#[derive(Debug)]
pub struct Grant {
    pub secrets: Secrets,
    pub account: Option<String>,
    pub token_type: String,
    pub granted_scope: Option<String>,
    pub expires_at: i64,
    pub obtained_at: i64,
}

/// Outcome of a compare-and-swap write.
#[derive(Debug, PartialEq, Eq)]
pub enum Cas {
    Written,
    /// Another writer changed the row first; nothing was overwritten (CC-03).
    Lost,
    /// Written and visible to every reader, but the disk did not confirm it (the reason): a
    /// power cut could still lose it.
    Unsynced(String),
}

/// CC-06: the network or FUSE filesystem the directory is on, by its `statfs` type. SQLite's WAL
/// needs shared memory on one host ("WAL does not work over a network filesystem", wal.html §1),
/// and neither SQLite's locks nor `flock` are reliable across hosts there (howtocorrupt.html §2.1).
#[must_use]
pub fn network_fs(dir: &Path) -> Option<&'static str> {
    let magic = match crate::hooks::fs_magic() {
        Some(m) => m,
        None => fs_type(dir)?,
    };
    fs_name(magic)
}

#[cfg(target_os = "linux")]
fn fs_type(dir: &Path) -> Option<u64> {
    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
    rustix::fs::statfs(dir).ok().map(|s| s.f_type as u64)
}

#[cfg(not(target_os = "linux"))]
fn fs_type(_: &Path) -> Option<u64> {
    None
}

/// The name of a network or FUSE filesystem type (linux/magic.h), else `None`.
#[must_use]
pub fn fs_name(magic: u64) -> Option<&'static str> {
    match magic & 0xffff_ffff {
        0x6969 => Some("NFS"),
        0x517b => Some("SMB"),
        0xff53_4d42 => Some("CIFS"),
        0xfe53_4d42 => Some("SMB2"),
        0x6573_5546 => Some("FUSE"),
        0x0027_e0eb => Some("CephFS"),
        0x4750_4653 => Some("GlusterFS"),
        0x6b41_4653 => Some("AFS"),
        0x0bd0_0bd0 => Some("Lustre"),
        _ => None,
    }
}

/// The journal mode for a new store: WAL, except on a network filesystem (CC-06).
#[must_use]
pub fn journal_mode_for(fs: Option<&str>) -> &'static str {
    if fs.is_some() { "DELETE" } else { "WAL" }
}

/// How [`SqliteStore::flush_committed`] put a commit on disk.
#[derive(Debug, PartialEq, Eq)]
enum Flushed {
    Checkpointed,
    WalSynced,
    DatabaseSynced,
}

/// The WAL file of a database.
fn wal_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// The storage contract. SQLite implements it today; a shared PostgreSQL backend is planned
/// (row or advisory locks in place of the file lock).
pub trait TokenStore {
    /// Looks a profile up by name (a fresh deferred read).
    ///
    /// # Errors
    /// Exit 5 on store failures.
    fn get(&self, name: &ProfileName) -> Result<Option<Profile>>;
    /// All profiles, by name. Decrypts nothing.
    ///
    /// # Errors
    /// Exit 5 on store failures.
    fn list(&self) -> Result<Vec<Profile>>;
    /// Opens a profile's secrets.
    ///
    /// # Errors
    /// Exit 6 for key problems, exit 5 for integrity failures.
    fn secrets(&self, p: &Profile) -> Result<Secrets>;
    /// A cached public document (the issuer's JWK Set) and when it was fetched (Unix seconds).
    ///
    /// # Errors
    /// Exit 5 on store failures.
    fn cached_document(&self, key: &str) -> Result<Option<(String, i64)>>;
    /// Caches a public document, replacing an older copy.
    ///
    /// # Errors
    /// Exit 5 on store failures.
    fn put_document(&self, key: &str, document: &str, fetched_at: i64) -> Result<()>;
    /// Takes the profile's exclusive cross-process lock (CC-01).
    ///
    /// # Errors
    /// Exit 5 when the deadline passes first.
    fn lock(&self, name: &ProfileName, deadline: Instant) -> Result<ProfileLock>;
    /// CR-02: records that a refresh is starting, before any refresh token is spent.
    ///
    /// # Errors
    /// Exit 5 when the store cannot be written (read-only, full): the caller must not spend the token.
    fn begin_refresh(&self, p: &Profile) -> Result<()>;
    /// Stores the result of a refresh with a generation compare-and-swap (CC-03, RF-02).
    ///
    /// # Errors
    /// Exit 5 when the commit fails.
    fn commit_refresh(&self, p: &Profile, grant: &Grant) -> Result<Cas>;
    /// RF-04: marks the profile needs-login and wipes its tokens, keeping its configuration.
    ///
    /// # Errors
    /// Exit 5 on store failures.
    fn mark_needs_login(&self, p: &Profile, reason: &str) -> Result<()>;
    /// Records a transient failure (`status=error`, `last_error`); `spent` keeps the
    /// interrupted-refresh marker when the outcome at the provider is unknown.
    ///
    /// # Errors
    /// Exit 5 on store failures.
    fn record_error(&self, p: &Profile, reason: &str, spent: bool) -> Result<()>;
    /// Creates or replaces a profile after a login (CC-08: bumps the generation).
    ///
    /// # Errors
    /// Exit 5/6 on store or key failures.
    fn save_login(&self, name: &ProfileName, config: &ProfileConfig, grant: &Grant) -> Result<Profile>;
    /// Deletes a profile and its secrets.
    ///
    /// # Errors
    /// Exit 5 on store failures.
    fn delete(&self, p: &Profile) -> Result<()>;
}

/// Options that affect how the store is opened.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The key source requested by `TOKCLI_KEY_SOURCE`; `None` uses the pinned one.
    pub key_source: Option<KeySource>,
    /// `--fix-permissions`: repair group/world-accessible files instead of refusing (SC-05).
    pub fix_permissions: bool,
}

/// The SQLite implementation of [`TokenStore`].
pub struct SqliteStore {
    conn: Connection,
    paths: Paths,
    store_id: String,
    pinned_source: String,
    key_id: String,
    key_check: Vec<u8>,
    requested_source: Option<KeySource>,
    cipher: OnceCell<Cipher>,
    /// Set when this handle created the store on a network filesystem (CC-06).
    pub created_on_network_fs: Option<&'static str>,
}

impl SqliteStore {
    /// Ends the store right before the process exits. A connection that changed nothing holds no
    /// WAL frames to checkpoint, so closing it (finalizing statements, tearing down its locks and
    /// the shared-memory index: about 15 system calls and 80,000 instructions, a twentieth of a
    /// cached `tokcli token`) is left to the exit, which SQLite handles like any reader that went
    /// away. A connection that wrote is closed normally: its checkpoint empties the WAL, so the
    /// next reader opens without recovery. The key is wiped either way.
    pub fn close_at_exit(self) {
        if self.conn.total_changes() == 0 && self.conn.is_autocommit() {
            let Self { conn, cipher, .. } = self;
            drop(cipher);
            std::mem::forget(conn);
        }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("db", &self.paths.db).finish_non_exhaustive()
    }
}

fn sql_err(e: &rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    let code = match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    };
    match code {
        Some(C::DiskFull) => {
            Error::store("the disk is full; the store was not changed").hint("free some space and retry")
        }
        Some(C::ReadOnly) | Some(C::CannotOpen) | Some(C::PermissionDenied) => {
            Error::store(format!("the store cannot be written: {e}"))
                .hint("check that the tokcli data directory is writable (see `tokcli --help` for TOKCLI_HOME)")
        }
        Some(C::DatabaseBusy) | Some(C::DatabaseLocked) => Error::store(format!("the store is busy: {e}"))
            .hint("another process held the database for more than 10s; retry"),
        Some(C::DatabaseCorrupt) | Some(C::NotADatabase) => {
            Error::store(format!("the store is corrupt: {e}")).hint("run `tokcli doctor`; your data was not modified")
        }
        _ => Error::store(format!("store error: {e}")).hint("run `tokcli doctor`"),
    }
}

fn check_private(path: &Path, fix: bool) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
    // SAFETY-free: getuid via libc is a plain syscall wrapper exposed by std on unix.
    let uid = crate::sys::uid();
    if meta.uid() != uid {
        return Err(Error::store(format!("{} is owned by another user (uid {})", path.display(), meta.uid()))
            .hint("point TOKCLI_HOME at a directory you own"));
    }
    if meta.mode() & 0o077 != 0 {
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        if fix {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(want))
                .map_err(|e| Error::store(format!("cannot chmod {}: {e}", path.display())))?;
        } else {
            return Err(Error::store(format!(
                "{} is accessible by other users (mode {:o})",
                path.display(),
                meta.mode() & 0o777
            ))
            .hint(format!("run `chmod {want:o} {}` or rerun with --fix-permissions", path.display())));
        }
    }
    Ok(())
}

/// Keeps the `-wal` file (truncated, not deleted) when the last connection closes, so each
/// `tokcli token` does not delete and recreate the WAL and its index: the read path then writes
/// nothing to disk.
#[allow(unsafe_code)]
fn persist_wal(conn: &Connection) {
    let mut on: std::ffi::c_int = 1;
    // SAFETY: the handle is valid while `conn` lives; SQLITE_FCNTL_PERSIST_WAL reads and writes
    // exactly one int through the pointer, which outlives the call.
    unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&raw mut on).cast(),
        );
    }
}

fn configure(conn: &Connection) -> Result<()> {
    persist_wal(conn);
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| sql_err(&e))?;
    conn.execute_batch(
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON; PRAGMA journal_size_limit=0;",
    )
    .map_err(|e| sql_err(&e))
}

/// Opens the database read-write. When that cannot even read (ST-04: in a read-only directory
/// the WAL index `-shm` cannot be created, SQLITE_READONLY_DIRECTORY; on a full disk it cannot be
/// sized, SQLITE_IOERR_SHMSIZE), falls back to a read-only `immutable=1` connection that reads the
/// committed database without a WAL index. Writes on it fail with SQLITE_READONLY, so a refresh
/// stops at the CR-02 pre-flight (exit 5) before any request.
fn open_connection(db: &Path) -> Result<Connection> {
    use rusqlite::ErrorCode as C;
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| unreadable(db, &format!("({e})")))?;
    // A plain PRAGMA takes the read lock (and so opens the WAL index) without the cost of
    // preparing a SELECT.
    match conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)) {
        Ok(_) => Ok(conn),
        Err(rusqlite::Error::SqliteFailure(f, _))
            if matches!(f.code, C::ReadOnly | C::CannotOpen | C::SystemIoFailure | C::DiskFull) =>
        {
            drop(conn);
            let mut uri = url::Url::from_file_path(db).map_err(|()| unreadable(db, "(not an absolute path)"))?;
            uri.set_query(Some("immutable=1"));
            Connection::open_with_flags(
                uri.as_str(),
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| unreadable(db, &format!("({e})")))
        }
        Err(e) => Err(unreadable(db, &format!("({e})"))),
    }
}

fn unreadable(db: &Path, why: &str) -> Error {
    Error::store(format!("store unreadable: {} {why}", db.display())).hint(
        "the file was left untouched; run `tokcli doctor`, or `tokcli doctor --reset` to move it aside and start over",
    )
}

const PROFILE_COLUMNS: &str = "id, name, provider, issuer, authorization_endpoint, token_endpoint, \
revocation_endpoint, device_endpoint, client_id, client_auth, scopes, flow, extra, account, token_type, \
granted_scope, expires_at, obtained_at, last_refreshed_at, refresh_count, status, last_error, generation, \
refresh_started_at, refresh_owner, created_at, access_token_ct, refresh_token_ct, id_token_ct, client_secret_ct";

fn row_to_profile(r: &rusqlite::Row<'_>) -> rusqlite::Result<Profile> {
    Ok(Profile {
        id: r.get(0)?,
        name: r.get(1)?,
        config: ProfileConfig {
            provider: r.get(2)?,
            issuer: r.get(3)?,
            authorization_endpoint: r.get(4)?,
            token_endpoint: r.get(5)?,
            revocation_endpoint: r.get(6)?,
            device_endpoint: r.get(7)?,
            client_id: r.get(8)?,
            client_auth: r.get(9)?,
            scopes: r.get(10)?,
            flow: r.get(11)?,
            extra: r.get(12)?,
        },
        account: r.get(13)?,
        token_type: r.get(14)?,
        granted_scope: r.get(15)?,
        expires_at: r.get(16)?,
        obtained_at: r.get(17)?,
        last_refreshed_at: r.get(18)?,
        refresh_count: r.get(19)?,
        status: r.get(20)?,
        last_error: r.get(21)?,
        generation: r.get(22)?,
        refresh_started_at: r.get(23)?,
        refresh_owner: r.get(24)?,
        created_at: r.get(25)?,
        sealed: [r.get(26)?, r.get(27)?, r.get(28)?, r.get(29)?],
    })
}

impl SqliteStore {
    /// Opens an existing store; `Ok(None)` when there is none yet. Never creates or modifies a file.
    ///
    /// # Errors
    /// Exit 5 for unreadable, foreign, newer or badly-permissioned stores.
    pub fn open_existing(paths: &Paths, opts: &OpenOptions) -> Result<Option<Self>> {
        let meta = match std::fs::metadata(&paths.db) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(&paths.db, &format!("({e})"))),
        };
        check_private(&paths.dir, opts.fix_permissions)?;
        check_private(&paths.db, opts.fix_permissions)?;
        for suffix in ["-wal", "-shm"] {
            check_private(&PathBuf::from(format!("{}{suffix}", paths.db.display())), opts.fix_permissions)?;
        }
        if meta.len() < 512 {
            return Err(unreadable(&paths.db, &format!("is truncated ({} bytes)", meta.len())));
        }
        let conn = open_connection(&paths.db)?;
        configure(&conn).map_err(|e| unreadable(&paths.db, &format!("({})", e.message)))?;
        let pragma = |name: &str| conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0));
        let (app_id, version) = pragma("application_id")
            .and_then(|a| pragma("user_version").map(|v| (a, v)))
            .map_err(|e| unreadable(&paths.db, &format!("({e})")))?;
        if app_id != APPLICATION_ID {
            return Err(unreadable(&paths.db, "is not a tokcli store (wrong application_id)"));
        }
        if version > SCHEMA_VERSION {
            return Err(Error::store(format!(
                "the store was created by a newer tokcli (schema {version}; this tokcli knows {SCHEMA_VERSION})"
            ))
            .hint("upgrade tokcli; the store was not modified"));
        }
        let mut store_id = None;
        let mut pinned = None;
        let mut key_id = None;
        let mut key_check = None;
        {
            let mut stmt =
                conn.prepare("SELECT key, value FROM meta").map_err(|e| unreadable(&paths.db, &format!("({e})")))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))
                .map_err(|e| unreadable(&paths.db, &format!("({e})")))?;
            for row in rows {
                let (k, v) = row.map_err(|e| unreadable(&paths.db, &format!("({e})")))?;
                match k.as_str() {
                    "store_id" => store_id = String::from_utf8(v).ok(),
                    "key_source" => pinned = String::from_utf8(v).ok(),
                    "key_id" => key_id = String::from_utf8(v).ok(),
                    "key_check" => key_check = Some(v),
                    _ => {}
                }
            }
        }
        let (Some(store_id), Some(pinned_source), Some(key_id), Some(key_check)) =
            (store_id, pinned, key_id, key_check)
        else {
            return Err(unreadable(&paths.db, "has no key metadata"));
        };
        Ok(Some(Self {
            conn,
            paths: paths.clone(),
            store_id,
            pinned_source,
            key_id,
            key_check,
            requested_source: opts.key_source.clone(),
            cipher: OnceCell::new(),
            created_on_network_fs: None,
        }))
    }

    /// Opens the store, creating it (and its key) when it does not exist yet. Only commands that
    /// store a new grant call this (KM-03).
    ///
    /// # Errors
    /// Exit 5/6 when the directory, database or key cannot be created.
    pub fn open_or_create(paths: &Paths, opts: &OpenOptions) -> Result<Self> {
        if let Some(s) = Self::open_existing(paths, opts)? {
            return Ok(s);
        }
        ensure_private_dir(&paths.dir)?;
        ensure_private_dir(&paths.locks)?;
        let _init =
            lock::acquire(&paths.locks.join(".store.lock"), "the store", Instant::now() + Duration::from_secs(30))?;
        if let Some(s) = Self::open_existing(paths, opts)? {
            return Ok(s);
        }
        let source = opts.key_source.clone().unwrap_or(KeySource::Keyring);
        let store_id = random_id();
        let key = source.create(&store_id)?;
        let cipher = Cipher::new(&key, &store_id);
        let tmp = paths.dir.join(format!(".tokcli.db.new-{}", std::process::id()));
        // Create the file 0600 before SQLite opens it: SQLite gives -wal and -shm the same mode.
        {
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::remove_file(&tmp);
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(|e| {
                source.discard(&store_id);
                Error::store(format!("cannot create {}: {e}", tmp.display()))
                    .hint("check that the tokcli data directory is writable")
            })?;
        }
        let fs = network_fs(&paths.dir);
        let journal = journal_mode_for(fs);
        let built = (|| -> rusqlite::Result<()> {
            let conn = Connection::open(&tmp)?;
            conn.execute_batch(&format!(
                "PRAGMA application_id={APPLICATION_ID}; PRAGMA journal_mode={journal}; BEGIN; {SCHEMA_V1} PRAGMA user_version={SCHEMA_VERSION};"
            ))?;
            let put = "INSERT INTO meta(key, value) VALUES (?1, ?2)";
            conn.execute(put, params!["store_id", store_id.as_bytes()])?;
            conn.execute(put, params!["key_source", source.pin().as_bytes()])?;
            conn.execute(put, params!["key_id", cipher.key_id().as_bytes()])?;
            conn.execute(put, params!["key_check", cipher.make_key_check()])?;
            conn.execute(put, params!["created_at", now().to_string().as_bytes()])?;
            conn.execute(put, params!["min_reader_version", b"1".as_slice()])?;
            conn.execute_batch("COMMIT;")?;
            conn.close().map_err(|(_, e)| e)
        })();
        if let Err(e) = built {
            let _ = std::fs::remove_file(&tmp);
            source.discard(&store_id);
            return Err(sql_err(&e));
        }
        std::fs::rename(&tmp, &paths.db).map_err(|e| {
            source.discard(&store_id);
            Error::store(format!("cannot create {}: {e}", paths.db.display()))
        })?;
        let mut store = Self::open_existing(paths, opts)?
            .ok_or_else(|| Error::internal("the store vanished right after it was created"))?;
        let _ = store.cipher.set(cipher);
        store.created_on_network_fs = fs;
        Ok(store)
    }

    #[must_use]
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    #[must_use]
    pub fn key_source_pin(&self) -> &str {
        &self.pinned_source
    }

    /// The key is a plaintext file beside the database (KM-04 d).
    #[must_use]
    pub fn key_is_insecure(&self) -> bool {
        self.pinned_source == keys::INSECURE_PLAINTEXT
    }

    /// Loads and checks the store key (SC-03, KM-01). Cached for the life of this handle.
    fn cipher(&self) -> Result<&Cipher> {
        if let Some(c) = self.cipher.get() {
            return Ok(c);
        }
        let pinned = KeySource::parse(&self.pinned_source, &self.paths.dir)
            .map_err(|_| unreadable(&self.paths.db, "pins an unknown key source"))?;
        let source = match &self.requested_source {
            None => pinned,
            Some(req) => {
                let same_kind = std::mem::discriminant(req) == std::mem::discriminant(&pinned);
                if !same_kind {
                    return Err(Error::key(format!(
                        "this store is pinned to the key source `{}`, but TOKCLI_KEY_SOURCE asks for `{}`",
                        self.pinned_source,
                        req.pin()
                    ))
                    .hint(format!(
                        "unset TOKCLI_KEY_SOURCE or set it to `{}`; tokcli never switches key sources silently",
                        self.pinned_source
                    )));
                }
                req.clone()
            }
        };
        let mut cipher = Cipher::new(&source.load_for(&self.store_id, &self.key_id)?, &self.store_id);
        if source == KeySource::Keyring && (cipher.key_id() != self.key_id || !cipher.verify_key_check(&self.key_check))
        {
            // A stale cached copy (e.g. after a rekey elsewhere): ask the keyring itself.
            keys::forget_cached(&self.store_id);
            cipher = Cipher::new(&source.load_for(&self.store_id, &self.key_id)?, &self.store_id);
        }
        if cipher.key_id() != self.key_id || !cipher.verify_key_check(&self.key_check) {
            if matches!(source, KeySource::Passphrase(_)) {
                return Err(Error::key("wrong passphrase for this store")
                    .hint("check TOKCLI_PASSPHRASE_FILE (or --passphrase-fd) and try again; nothing was changed"));
            }
            return Err(Error::key(format!(
                "the key does not match this store (key id {}, store expects {})",
                cipher.key_id(),
                self.key_id
            ))
            .hint(format!("supply the key this store was created with (source: {})", self.pinned_source)));
        }
        Ok(self.cipher.get_or_init(|| cipher))
    }

    /// Proves the store can take a write, without changing it: a write inside a transaction
    /// that is rolled back. Used before spending a one-time credential (a code, an imported
    /// refresh token) at the provider.
    ///
    /// # Errors
    /// Exit 5 when the store is read-only or otherwise cannot be written.
    pub fn check_writable(&self) -> Result<()> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&e))?;
        tx.execute("UPDATE meta SET value = value WHERE key = 'store_id'", []).map_err(|e| sql_err(&e))?;
        tx.rollback().map_err(|e| sql_err(&e))
    }

    /// Runs `f` with `synchronous=NORMAL`: in WAL mode a commit then skips its fsync (a process
    /// crash cannot lose it; a power cut can). The connection is back at FULL (CR-01) afterwards.
    fn without_commit_fsync<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.conn.execute_batch("PRAGMA synchronous=NORMAL").map_err(|e| sql_err(&e))?;
        let out = f();
        self.conn.execute_batch("PRAGMA synchronous=FULL").map_err(|e| sql_err(&e))?;
        out
    }

    /// Puts every committed transaction on disk, after a commit made by
    /// [`Self::without_commit_fsync`].
    ///
    /// A checkpoint normally does it: SQLite syncs the WAL before copying it into the database,
    /// and the database after a checkpoint that completes ("the WAL file is synchronized before
    /// each checkpoint and the database file is synchronized after each completed checkpoint",
    /// SQLite pragma.html, synchronous). It also leaves the WAL empty, which closing the
    /// connection would otherwise do, so the grant costs one fsync fewer than a FULL commit
    /// followed by that checkpoint. When the checkpoint cannot complete (another connection
    /// still reads an older snapshot, or is checkpointing itself), the WAL file is fsynced
    /// directly, which is what a FULL commit does; a store not in WAL mode (CC-06) gets its
    /// database file fsynced.
    fn flush_committed(&self) -> std::io::Result<Flushed> {
        crate::hooks::io_point("store:flush")?;
        let ckpt = self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        if let Ok((0, log, done)) = ckpt
            && log >= 0
            && log == done
        {
            return Ok(Flushed::Checkpointed);
        }
        // Not confirmed (busy, pinned, failed, or not in WAL mode; a busy checkpoint also reports
        // -1 frames): fsync the file the commit went to, by the journal mode in force.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let (file, how) = if mode.eq_ignore_ascii_case("wal") {
            (wal_file(&self.paths.db), Flushed::WalSynced)
        } else {
            (self.paths.db.clone(), Flushed::DatabaseSynced)
        };
        std::fs::File::open(file)?.sync_all()?;
        Ok(how)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction (CC-04); rolled back unless it succeeds.
    ///
    /// Writers in one process (the `refresh --jobs` threads) queue on a mutex first: SQLite's busy
    /// handler waits by sleeping 1, 2, 5, 10… ms, which wastes most of a batch's time when the
    /// contention is local. Other processes still meet the busy timeout as usual.
    fn immediate<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>) -> Result<T> {
        static LOCAL_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _gate = LOCAL_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&e))?;
        let out = f(&tx).map_err(|e| sql_err(&e))?;
        tx.commit().map_err(|e| sql_err(&e))?;
        Ok(out)
    }
}

fn random_id() -> String {
    let b: [u8; 16] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Checks, before a first login spends anything, that the store's directory can be created and
/// written (a read-only home). Leaves at most the empty 0700 directory behind.
///
/// # Errors
/// Exit 5 naming the path.
pub fn check_dir_writable(paths: &Paths) -> Result<()> {
    ensure_private_dir(&paths.dir)?;
    let probe = paths.dir.join(format!(".tokcli-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| {
        Error::store(format!("cannot write in {}: {e}", paths.dir.display()))
            .hint("the store could not be saved; make the tokcli data directory writable (or set TOKCLI_HOME) and log in again")
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Creates a directory with mode 0700 (and its parents), or checks an existing one.
///
/// # Errors
/// Exit 5 naming the path.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| {
        Error::store(format!("cannot create {}: {e}", dir.display()))
            .hint("check TOKCLI_HOME and the permissions of its parent")
    })
}

fn seal_all(c: &Cipher, place: Place, s: &Secrets) -> [Option<Vec<u8>>; 4] {
    let f = |field, v: &Option<SecretString>| v.as_ref().map(|v| c.seal(field, place, v));
    [
        f(Field::AccessToken, &s.access_token),
        f(Field::RefreshToken, &s.refresh_token),
        f(Field::IdToken, &s.id_token),
        f(Field::ClientSecret, &s.client_secret),
    ]
}

impl TokenStore for SqliteStore {
    fn get(&self, name: &ProfileName) -> Result<Option<Profile>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE name = ?1"))
            .map_err(|e| sql_err(&e))?;
        stmt.query_row([name.as_str()], row_to_profile).optional().map_err(|e| sql_err(&e))
    }

    fn list(&self) -> Result<Vec<Profile>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {PROFILE_COLUMNS} FROM profiles ORDER BY name"))
            .map_err(|e| sql_err(&e))?;
        let rows = stmt.query_map([], row_to_profile).map_err(|e| sql_err(&e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| sql_err(&e))
    }

    fn secrets(&self, p: &Profile) -> Result<Secrets> {
        let c = self.cipher()?;
        let place = p.place();
        let open = |field, blob: &Option<Vec<u8>>| -> Result<Option<SecretString>> {
            blob.as_ref().map(|b| c.open(field, place, b, &p.name)).transpose()
        };
        Ok(Secrets {
            access_token: open(Field::AccessToken, &p.sealed[0])?,
            refresh_token: open(Field::RefreshToken, &p.sealed[1])?,
            id_token: open(Field::IdToken, &p.sealed[2])?,
            client_secret: open(Field::ClientSecret, &p.sealed[3])?,
        })
    }

    fn cached_document(&self, key: &str) -> Result<Option<(String, i64)>> {
        self.cached_discovery(key)
    }

    fn put_document(&self, key: &str, document: &str, fetched_at: i64) -> Result<()> {
        self.put_discovery(key, document, fetched_at)
    }

    fn lock(&self, name: &ProfileName, deadline: Instant) -> Result<ProfileLock> {
        ensure_private_dir(&self.paths.locks)?;
        lock::acquire(&self.paths.locks.join(format!("{name}.lock")), name.as_str(), deadline)
    }

    fn begin_refresh(&self, p: &Profile) -> Result<()> {
        // The pre-flight proves the store is writable; its marker is a diagnostic (CR-03), so it
        // is committed without the fsync that the rotated token's commit gets (CR-01).
        let n = self.without_commit_fsync(|| {
            self.immediate(|tx| {
                tx.execute(
                    "UPDATE profiles SET refresh_started_at = ?1, refresh_owner = ?2 WHERE id = ?3 AND generation = ?4",
                    params![now(), i64::from(std::process::id()), p.id, p.generation],
                )
            })
        })?;
        if n == 0 {
            return Err(Error::store(format!("profile {} changed while it was being refreshed", p.name)).hint("retry"));
        }
        Ok(())
    }

    fn commit_refresh(&self, p: &Profile, g: &Grant) -> Result<Cas> {
        let c = self.cipher()?;
        let next = Place { profile_id: p.id, generation: p.generation + 1 };
        let [at, rt, it, cs] = seal_all(c, next, &g.secrets);
        // CR-01: the rotated grant must be on disk before anything is printed. A FULL commit
        // fsyncs the WAL, and the checkpoint that then empties the WAL for the next reader
        // fsyncs the WAL and the database again. So the commit skips its own fsync, and
        // `flush_committed` checkpoints at once, which confirms the grant reached the disk.
        let n = self.without_commit_fsync(|| {
            self.immediate(|tx| {
                tx.execute(
                    "UPDATE profiles SET access_token_ct = ?1, refresh_token_ct = ?2, id_token_ct = ?3, client_secret_ct = ?4,
                       account = COALESCE(?5, account), token_type = ?6, granted_scope = ?7, expires_at = ?8, obtained_at = ?9,
                       last_refreshed_at = ?10, refresh_count = refresh_count + 1, status = 'active', last_error = NULL,
                       refresh_started_at = NULL, refresh_owner = NULL, generation = generation + 1
                     WHERE id = ?11 AND generation = ?12",
                    params![at, rt, it, cs, g.account, g.token_type, g.granted_scope, g.expires_at, g.obtained_at, now(), p.id, p.generation],
                )
            })
        })?;
        if n == 0 {
            return Ok(Cas::Lost);
        }
        Ok(match self.flush_committed() {
            Ok(_) => Cas::Written,
            Err(e) => Cas::Unsynced(e.to_string()),
        })
    }

    fn mark_needs_login(&self, p: &Profile, reason: &str) -> Result<()> {
        self.immediate(|tx| {
            tx.execute(
                "UPDATE profiles SET status = 'needs-login', last_error = ?1, access_token_ct = NULL, refresh_token_ct = NULL,
                   id_token_ct = NULL, refresh_started_at = NULL, refresh_owner = NULL, generation = generation + 1,
                   client_secret_ct = NULL
                 WHERE id = ?2 AND generation = ?3",
                params![reason, p.id, p.generation],
            )
        })?;
        Ok(())
    }

    fn record_error(&self, p: &Profile, reason: &str, spent: bool) -> Result<()> {
        self.immediate(|tx| {
            tx.execute(
                "UPDATE profiles SET status = 'error', last_error = ?1,
                   refresh_started_at = CASE WHEN ?2 THEN refresh_started_at ELSE NULL END,
                   refresh_owner = CASE WHEN ?2 THEN refresh_owner ELSE NULL END
                 WHERE id = ?3 AND generation = ?4",
                params![reason, spent, p.id, p.generation],
            )
        })?;
        Ok(())
    }

    fn save_login(&self, name: &ProfileName, cfg: &ProfileConfig, g: &Grant) -> Result<Profile> {
        let c = self.cipher()?;
        let mut rotated = false;
        let (id, generation) = self.immediate(|tx| {
            // A `rekey` may have rotated the key since this handle loaded it; it does not hold the
            // lock of a profile that does not exist yet, so check inside the write transaction.
            let current: Vec<u8> = tx.query_row("SELECT value FROM meta WHERE key = 'key_id'", [], |r| r.get(0))?;
            if current != c.key_id().as_bytes() {
                rotated = true;
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            let existing: Option<(i64, i64)> = tx
                .query_row("SELECT id, generation FROM profiles WHERE name = ?1", [name.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (id, generation) = match existing {
                Some((id, g0)) => (id, g0 + 1),
                None => {
                    tx.execute(
                        "INSERT INTO profiles(name, provider, token_endpoint, client_id, client_auth, flow, created_at, generation)
                         VALUES (?1, '', '', '', '', '', ?2, 0)",
                        params![name.as_str(), now()],
                    )?;
                    (tx.last_insert_rowid(), 1)
                }
            };
            let [at, rt, it, cs] = seal_all(c, Place { profile_id: id, generation }, &g.secrets);
            tx.execute(
                "UPDATE profiles SET provider = ?1, issuer = ?2, authorization_endpoint = ?3, token_endpoint = ?4,
                   revocation_endpoint = ?5, device_endpoint = ?6, client_id = ?7, client_auth = ?8, scopes = ?9, flow = ?10,
                   extra = ?11, account = ?12, token_type = ?13, granted_scope = ?14, expires_at = ?15, obtained_at = ?16,
                   last_refreshed_at = NULL, refresh_count = 0, status = 'active', last_error = NULL,
                   refresh_started_at = NULL, refresh_owner = NULL, generation = ?17,
                   access_token_ct = ?18, refresh_token_ct = ?19, id_token_ct = ?20, client_secret_ct = ?21
                 WHERE id = ?22",
                params![
                    cfg.provider, cfg.issuer, cfg.authorization_endpoint, cfg.token_endpoint, cfg.revocation_endpoint,
                    cfg.device_endpoint, cfg.client_id, cfg.client_auth, cfg.scopes, cfg.flow, cfg.extra, g.account,
                    g.token_type, g.granted_scope, g.expires_at, g.obtained_at, generation, at, rt, it, cs, id
                ],
            )?;
            Ok((id, generation))
        })
        .map_err(|e| {
            if rotated {
                Error::store("the store key was rotated (tokcli rekey) while logging in; nothing was stored")
                    .hint("run the login again")
            } else {
                e
            }
        })?;
        let p = self.get(name)?.ok_or_else(|| Error::internal("profile vanished after login"))?;
        debug_assert_eq!((p.id, p.generation), (id, generation));
        Ok(p)
    }

    fn delete(&self, p: &Profile) -> Result<()> {
        self.immediate(|tx| tx.execute("DELETE FROM profiles WHERE id = ?1", [p.id]))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::secret;
    use secrecy::ExposeSecret;

    fn opts() -> OpenOptions {
        OpenOptions { key_source: Some(KeySource::File(PathBuf::from("/nonexistent"))), fix_permissions: false }
    }

    fn new_store(dir: &Path) -> (SqliteStore, OpenOptions) {
        let keyfile = dir.join("key");
        let o = OpenOptions { key_source: Some(KeySource::File(keyfile)), fix_permissions: false };
        let s = SqliteStore::open_or_create(&Paths::new(dir.join("home")), &o).unwrap();
        (s, o)
    }

    fn grant(at: &str, rt: Option<&str>) -> Grant {
        Grant {
            secrets: Secrets { access_token: Some(secret(at)), refresh_token: rt.map(secret), ..Secrets::default() },
            account: Some("alice".into()),
            token_type: "Bearer".into(),
            granted_scope: None,
            expires_at: now() + 3600,
            obtained_at: now(),
        }
    }

    fn cfg() -> ProfileConfig {
        ProfileConfig {
            provider: "p".into(),
            token_endpoint: "https://x/token".into(),
            client_id: "c".into(),
            client_auth: "none".into(),
            flow: "authorization_code".into(),
            extra: "{}".into(),
            ..ProfileConfig::default()
        }
    }

    /// CR-01 with one fsync fewer: a commit without its own fsync is flushed by a completed
    /// checkpoint (the grant is then in the database file itself), or, when a reader pins the
    /// WAL, by fsyncing the WAL; the connection is back at synchronous=FULL either way.
    #[test]
    fn cr_01_a_rotated_grant_is_flushed_by_a_checkpoint_or_a_wal_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = new_store(dir.path());
        let name = ProfileName::parse("work").unwrap();
        let p = s.save_login(&name, &cfg(), &grant("at1", Some("rt1"))).unwrap();
        // What the database file alone holds, without the WAL.
        let in_db_file = || {
            let mut uri = url::Url::from_file_path(&s.paths().db).unwrap();
            uri.set_query(Some("immutable=1"));
            let c = Connection::open_with_flags(
                uri.as_str(),
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
            )
            .unwrap();
            c.query_row("SELECT refresh_count FROM profiles WHERE name = 'work'", [], |r| r.get::<_, i64>(0)).unwrap()
        };
        let sync = |s: &SqliteStore| s.conn.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0)).unwrap();
        // The login itself is still in the WAL; start from a checkpointed store.
        s.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();

        s.begin_refresh(&p).unwrap();
        let update = |s: &SqliteStore| {
            s.without_commit_fsync(|| {
                s.immediate(|tx| tx.execute("UPDATE profiles SET refresh_count = refresh_count + 1", []))
            })
            .unwrap()
        };
        update(&s);
        assert_eq!(sync(&s), 2, "back at synchronous=FULL");
        assert_eq!(in_db_file(), 0, "a commit alone stays in the WAL");
        assert_eq!(s.flush_committed().unwrap(), Flushed::Checkpointed);
        assert_eq!(in_db_file(), 1, "the checkpoint copied the commit into the database file");

        // Another connection in a read transaction keeps the checkpoint from completing.
        let reader = Connection::open(&s.paths().db).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader.query_row("SELECT count(*) FROM profiles", [], |r| r.get(0)).unwrap();
        update(&s);
        assert_eq!(s.flush_committed().unwrap(), Flushed::WalSynced);
        assert_eq!(in_db_file(), 1, "still only in the WAL, which was fsynced");
        // Another checkpointer holds the checkpoint lock (a RESTART waiting for that reader): the
        // PASSIVE checkpoint is busy and reports -1 frames, and the WAL is still what gets synced.
        update(&s);
        let db = s.paths().db.clone();
        let restart = std::thread::spawn(move || {
            let c = Connection::open(db).unwrap();
            c.busy_timeout(Duration::from_secs(5)).unwrap();
            c.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)).unwrap()
        });
        let until = std::time::Instant::now() + Duration::from_secs(5);
        let busy = loop {
            let r: (i64, i64) =
                s.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            if r.0 == 1 || std::time::Instant::now() > until {
                break r;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(busy, (1, -1), "the RESTART holds the checkpoint lock");
        assert_eq!(s.flush_committed().unwrap(), Flushed::WalSynced);
        reader.execute_batch("COMMIT").unwrap();
        drop(reader);
        assert_eq!(restart.join().unwrap(), 0, "the RESTART completed once the reader left");

        let p = s.get(&name).unwrap().unwrap();
        assert_eq!(s.commit_refresh(&p, &grant("at2", Some("rt2"))).unwrap(), Cas::Written);
        assert_eq!(sync(&s), 2);
        assert_eq!(in_db_file(), 4, "the rotated grant reached the database file");

        // A store in rollback-journal mode (CC-06) has no WAL: the database file is fsynced.
        s.conn.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(())).unwrap();
        update(&s);
        assert_eq!(s.flush_committed().unwrap(), Flushed::DatabaseSynced);
        assert_eq!(in_db_file(), 5);
    }

    /// CC-06: network and FUSE filesystems by their statfs type, and the journal mode they get.
    #[test]
    fn cc_06_network_filesystems_get_a_rollback_journal() {
        assert_eq!(fs_name(0x6969), Some("NFS"));
        assert_eq!(fs_name(0xff53_4d42), Some("CIFS"));
        assert_eq!(fs_name(0x6573_5546), Some("FUSE"));
        assert_eq!(fs_name(0xef53), None, "ext4");
        assert_eq!(fs_name(0x0102_1994), None, "tmpfs");
        assert_eq!(journal_mode_for(fs_name(0x6969)), "DELETE");
        assert_eq!(journal_mode_for(fs_name(0xef53)), "WAL");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(network_fs(dir.path()), None, "the test's temporary directory is local");
    }

    #[test]
    fn missing_store_is_none_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path().join("home"));
        assert!(SqliteStore::open_existing(&paths, &opts()).unwrap().is_none());
        assert!(!paths.dir.exists());
    }

    #[test]
    fn login_refresh_cas_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (s, o) = new_store(dir.path());
        let name = ProfileName::parse("work").unwrap();
        let p = s.save_login(&name, &cfg(), &grant("at1", Some("rt1"))).unwrap();
        assert_eq!(p.generation, 1);
        let sec = s.secrets(&p).unwrap();
        assert_eq!(sec.refresh_token.unwrap().expose_secret(), "rt1");

        s.begin_refresh(&p).unwrap();
        assert!(s.get(&name).unwrap().unwrap().refresh_started_at.is_some());
        assert_eq!(s.commit_refresh(&p, &grant("at2", Some("rt2"))).unwrap(), Cas::Written);
        // a second commit from the stale generation loses (CC-03)
        assert_eq!(s.commit_refresh(&p, &grant("at3", Some("rt3"))).unwrap(), Cas::Lost);

        let s2 = SqliteStore::open_existing(s.paths(), &o).unwrap().unwrap();
        let p2 = s2.get(&name).unwrap().unwrap();
        assert_eq!(p2.generation, 2);
        assert_eq!(p2.refresh_count, 1);
        assert!(p2.refresh_started_at.is_none());
        assert_eq!(s2.secrets(&p2).unwrap().access_token.unwrap().expose_secret(), "at2");
        let mode =
            |p: &Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777;
        assert_eq!(mode(&s.paths().dir), 0o700);
        assert_eq!(mode(&s.paths().db), 0o600);
        let sync: i64 = s2.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "synchronous=FULL (CR-01)");
        let jm: String = s2.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(jm, "wal");
    }

    #[test]
    fn login_racing_a_rekey_stores_nothing_under_the_old_key() {
        let dir = tempfile::tempdir().unwrap();
        let (s, o) = new_store(dir.path());
        s.save_login(&ProfileName::parse("a").unwrap(), &cfg(), &grant("at", Some("rt"))).unwrap();
        // A second handle loads the key, then another process rotates it.
        let late = SqliteStore::open_existing(s.paths(), &o).unwrap().unwrap();
        late.secrets(&late.get(&ProfileName::parse("a").unwrap()).unwrap().unwrap()).unwrap();
        s.rekey(Instant::now() + Duration::from_secs(10), &mut |_| Ok(())).unwrap();
        let e = late.save_login(&ProfileName::parse("b").unwrap(), &cfg(), &grant("at", None)).unwrap_err();
        assert_eq!(e.class, crate::error::Class::Store);
        assert!(e.message.contains("rotated"), "{}", e.message);
        let fresh = SqliteStore::open_existing(late.paths(), &o).unwrap().unwrap();
        assert!(fresh.get(&ProfileName::parse("b").unwrap()).unwrap().is_none());
    }

    #[test]
    fn needs_login_wipes_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = new_store(dir.path());
        let name = ProfileName::parse("w").unwrap();
        let p = s.save_login(&name, &cfg(), &grant("at", Some("rt"))).unwrap();
        s.mark_needs_login(&p, "invalid_grant").unwrap();
        let p = s.get(&name).unwrap().unwrap();
        assert_eq!(p.status, status::NEEDS_LOGIN);
        assert!(!p.has_refresh_token() && !p.has_access_token());
        assert_eq!(p.config, cfg());
    }

    #[test]
    fn wrong_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = new_store(dir.path());
        let name = ProfileName::parse("w").unwrap();
        s.save_login(&name, &cfg(), &grant("at", None)).unwrap();
        let other = dir.path().join("other");
        KeySource::File(other.clone()).create("x").unwrap();
        let o = OpenOptions { key_source: Some(KeySource::File(other)), fix_permissions: false };
        let s2 = SqliteStore::open_existing(s.paths(), &o).unwrap().unwrap();
        let p = s2.get(&name).unwrap().unwrap();
        let e = s2.secrets(&p).unwrap_err();
        assert_eq!(e.class, crate::error::Class::Key);
        assert!(e.message.contains("does not match"));
    }

    #[test]
    fn source_switch_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = new_store(dir.path());
        let name = ProfileName::parse("w").unwrap();
        s.save_login(&name, &cfg(), &grant("at", None)).unwrap();
        let o = OpenOptions { key_source: Some(KeySource::Env), fix_permissions: false };
        let s2 = SqliteStore::open_existing(s.paths(), &o).unwrap().unwrap();
        let e = s2.secrets(&s2.get(&name).unwrap().unwrap()).unwrap_err();
        assert_eq!(e.class, crate::error::Class::Key);
        assert!(e.message.contains("pinned"));
    }

    #[test]
    fn hostile_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path().join("home"));
        ensure_private_dir(&paths.dir).unwrap();
        for content in [vec![], vec![0xAB; 4096], b"SQLite format 3\0".repeat(40)] {
            std::fs::write(&paths.db, &content).unwrap();
            std::os::unix::fs::PermissionsExt::set_mode(
                &mut std::fs::metadata(&paths.db).unwrap().permissions(),
                0o600,
            );
            let e = SqliteStore::open_existing(&paths, &opts()).unwrap_err();
            assert_eq!(e.class, crate::error::Class::Store, "{}", e.message);
            assert_eq!(std::fs::read(&paths.db).unwrap(), content);
        }
    }
}
