//! Key rotation (`tokcli rekey`, SC-04) and the read-only inspection behind `tokcli doctor`
//! (ST-01, ST-02, SC-05).
//!
//! Rotation is crash-safe at every step:
//! 1. a new key K2 is drawn and staged in the key source under a name that includes its key id
//!    (`store-key:<store_id>:<key_id>`, `PATH.<key_id>`; for `env` it is handed to the caller, who
//!    prints it), then read back;
//! 2. under every profile lock, taken in name order, and one `BEGIN IMMEDIATE` transaction, every
//!    secret is opened with K1 and sealed again with K2 at the next generation (the key id is part
//!    of the associated data), `meta.key_id` and `meta.key_check` are replaced, and the
//!    transaction commits;
//! 3. K2 is promoted over K1 in the key source, which deletes K1, and the staged copy is dropped.
//!
//! A crash before the commit leaves K1 current and the store untouched (the staged K2 is unused);
//! a crash after it leaves K2 staged, where [`KeySource::load_for`] finds it. The inspection
//! opens the database read-only and never writes a byte.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use secrecy::{ExposeSecret as _, SecretString};

use super::crypto::{Cipher, Field, Place};
use super::keys::KeySource;
use super::{APPLICATION_ID, Paths, SCHEMA_VERSION, SqliteStore, TokenStore, sql_err};
use crate::error::{Error, Result};
use crate::model::{ProfileName, now};

const PUT_META: &str =
    "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
/// `meta` key naming the key id a rotation staged and has not committed yet.
const PENDING: &str = "rekey_pending";
const FIELDS: [Field; 4] = [Field::AccessToken, Field::RefreshToken, Field::IdToken, Field::ClientSecret];

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rekeyed {
    pub old_key_id: String,
    pub new_key_id: String,
    /// Profiles whose secrets were sealed again.
    pub profiles: usize,
    /// Set when the store committed the new key but the key source could not promote it; the
    /// store is readable (the staged key is found) and a rerun of `rekey` finishes the job.
    pub promote_error: Option<Error>,
}

/// How the store's key was found.
#[derive(Debug, Clone)]
pub struct KeyStatus {
    pub key_id: String,
    /// The pinned key source (`keyring`, `env`, `file:PATH`).
    pub source: String,
    /// False when the key came from the staging place of an interrupted rotation.
    pub promoted: bool,
    /// The id of a key staged by a rotation that crashed before its commit (never used).
    pub unused_staged: Option<String>,
}

impl SqliteStore {
    /// The random id that binds ciphertexts to this store.
    #[must_use]
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// The id of the key this store expects (`meta.key_id`).
    #[must_use]
    pub fn expected_key_id(&self) -> &str {
        &self.key_id
    }

    /// The key source in use: the pinned one, or the requested one when it is of the same kind
    /// (a `file:` source may point at a moved key file).
    fn active_source(&self) -> Result<KeySource> {
        let pinned = KeySource::parse(&self.pinned_source, &self.paths.dir)
            .map_err(|_| super::unreadable(&self.paths.db, "pins an unknown key source"))?;
        Ok(match &self.requested_source {
            Some(req) if std::mem::discriminant(req) == std::mem::discriminant(&pinned) => req.clone(),
            _ => pinned,
        })
    }

    /// Loads and checks the store key (SC-03, KM-01..KM-03) and says where it was found.
    ///
    /// # Errors
    /// Exit 6 when the key is unavailable or does not match the store.
    pub fn key_status(&self) -> Result<KeyStatus> {
        self.cipher()?;
        let source = self.active_source()?;
        let promoted = match &source {
            KeySource::Env | KeySource::Passphrase(_) => true,
            KeySource::File(p) | KeySource::InsecurePlaintext(p) => {
                !super::keys::staged_key_path(p, &self.key_id).exists()
            }
            KeySource::Keyring => source.load(&self.store_id).is_ok_and(|k| super::crypto::key_id(&k) == self.key_id),
        };
        let unused_staged = self.pending_rekey().filter(|k| *k != self.key_id);
        Ok(KeyStatus { key_id: self.key_id.clone(), source: self.pinned_source.clone(), promoted, unused_staged })
    }

    fn pending_rekey(&self) -> Option<String> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [PENDING], |r| r.get::<_, Vec<u8>>(0))
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
    }

    /// Rotates the store key (SC-04; see the module docs for the steps). For an `env` store the
    /// new key is passed to `hand_out` before the store depends on it; an error from `hand_out`
    /// stops the rotation with nothing changed. Consumes the handle: its cached key is stale
    /// afterwards.
    ///
    /// # Errors
    /// Exit 6 when the current key is unavailable or the new one cannot be stored; exit 5 when the
    /// store is not writable, a profile does not decrypt, or the commit fails. In every error case
    /// the store still opens with the old key.
    pub fn rekey(self, deadline: Instant, hand_out: &mut dyn FnMut(&SecretString) -> Result<()>) -> Result<Rekeyed> {
        let old = self.cipher()?;
        let old_key_id = old.key_id().to_owned();
        let source = self.active_source()?;
        self.preflight()?;
        // A key staged by a rotation that crashed before its commit was never used: drop it.
        if let Some(unused) = self.pending_rekey().filter(|k| *k != old_key_id) {
            source.unstage(&self.store_id, &unused);
        }
        let key = source.new_key(&self.store_id)?;
        let new = Cipher::new(&key, &self.store_id);
        let new_key_id = new.key_id().to_owned();
        if new_key_id == old_key_id {
            return Err(Error::usage("the new passphrase is the current one").hint("rekey needs a different one"));
        }
        // Record the key id about to be staged, so a crash before the commit can be cleaned up.
        // This write is also the pre-flight: a read-only or full store fails here, before anything
        // is written to the key source.
        self.conn.execute(PUT_META, params![PENDING, new_key_id.as_bytes()]).map_err(|e| {
            let e = sql_err(&e);
            Error::store(format!("cannot rotate the key: {}", e.message)).hint(e.hint.unwrap_or_default())
        })?;
        if source == KeySource::Env {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            // Exactly sized, so it never reallocates and leaves a copy behind (PH-04).
            let mut text = String::with_capacity(64);
            for b in key.expose_secret() {
                text.push(char::from(DIGITS[usize::from(b >> 4)]));
                text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
            }
            if let Err(e) = hand_out(&SecretString::from(text)) {
                let _ = self.conn.execute("DELETE FROM meta WHERE key = ?1", [PENDING]);
                return Err(e);
            }
        } else if let Err(e) = source.stage(&self.store_id, &key) {
            source.unstage(&self.store_id, &new_key_id);
            let _ = self.conn.execute("DELETE FROM meta WHERE key = ?1", [PENDING]);
            return Err(e);
        }
        crate::hooks::point("rekey:after_keyring_write");

        let profiles = match self.reencrypt(old, &new, deadline) {
            Ok(n) => n,
            Err(e) => {
                source.unstage(&self.store_id, &new_key_id);
                let _ = self.conn.execute("DELETE FROM meta WHERE key = ?1", [PENDING]);
                let e = if source == KeySource::Env {
                    let hint = e.hint.clone().unwrap_or_default();
                    e.hint(format!("{hint}; the key printed above was NOT applied: keep using the current key"))
                } else {
                    e
                };
                return Err(e);
            }
        };
        crate::hooks::point("rekey:after_commit");
        // Old ciphertexts may still sit in the WAL; they are useless without K1, but move them out.
        let _ = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));

        let promote_error = source.promote(&self.store_id, &key).err();
        if promote_error.is_none() && old_key_id != new_key_id {
            // K1 may itself have been staged by an earlier interrupted rotation.
            source.unstage(&self.store_id, &old_key_id);
        }
        Ok(Rekeyed { old_key_id, new_key_id, profiles, promote_error })
    }

    /// Before anything is written anywhere: the store must pass `PRAGMA quick_check` (a rotation
    /// never writes into a damaged file) and every profile must decrypt (so an `env` key is never
    /// handed out for a rotation that cannot finish).
    fn preflight(&self) -> Result<()> {
        let check: Vec<String> = self
            .conn
            .prepare("PRAGMA quick_check(5)")
            .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
            .map_err(|e| sql_err(&e))?;
        if check.iter().any(|l| l != "ok") {
            return Err(Error::store(format!("cannot rotate the key: the store is damaged ({})", check.join("; ")))
                .hint("nothing was changed; run `tokcli doctor`"));
        }
        for p in self.list()? {
            self.secrets(&p).map_err(|e| blocked(&p.name, &e))?;
        }
        Ok(())
    }

    /// SC-04 step 3: seals every secret again with `new`, under all profile locks and one
    /// `BEGIN IMMEDIATE`. Returns the number of profiles rewritten.
    fn reencrypt(&self, old: &Cipher, new: &Cipher, deadline: Instant) -> Result<usize> {
        let mut names = self.list()?.iter().map(|p| ProfileName::parse(&p.name)).collect::<Result<Vec<_>>>()?;
        names.sort();
        names.dedup();
        let _locks = names.iter().map(|n| self.lock(n, deadline)).collect::<Result<Vec<_>>>()?;

        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| sql_err(&e))?;
        let current: Vec<u8> =
            tx.query_row("SELECT value FROM meta WHERE key = 'key_id'", [], |r| r.get(0)).map_err(|e| sql_err(&e))?;
        if current != old.key_id().as_bytes() {
            return Err(Error::store(
                "another tokcli rotated the store key at the same time; nothing was changed here",
            )
            .hint("rerun `tokcli rekey` if you still want a new key"));
        }
        type Row = (i64, String, i64, [Option<Vec<u8>>; 4]);
        let rows: Vec<Row> = {
            let mut stmt = tx
                .prepare(
                    "SELECT id, name, generation, access_token_ct, refresh_token_ct, id_token_ct, client_secret_ct
                     FROM profiles ORDER BY name",
                )
                .map_err(|e| sql_err(&e))?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, [r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?])))
                .map_err(|e| sql_err(&e))?
                .collect::<rusqlite::Result<_>>()
                .map_err(|e| sql_err(&e))?
        };
        for (id, name, generation, sealed) in &rows {
            let from = Place { profile_id: *id, generation: *generation };
            let to = Place { profile_id: *id, generation: generation + 1 };
            let mut out: [Option<Vec<u8>>; 4] = Default::default();
            for (i, field) in FIELDS.iter().enumerate() {
                if let Some(blob) = &sealed[i] {
                    let plain = old.open(*field, from, blob, name).map_err(|e| blocked(name, &e))?;
                    out[i] = Some(new.seal(*field, to, &plain));
                }
            }
            let n = tx
                .execute(
                    "UPDATE profiles SET access_token_ct = ?1, refresh_token_ct = ?2, id_token_ct = ?3,
                       client_secret_ct = ?4, generation = generation + 1
                     WHERE id = ?5 AND generation = ?6",
                    params![out[0], out[1], out[2], out[3], id, generation],
                )
                .map_err(|e| sql_err(&e))?;
            if n != 1 {
                return Err(Error::store(format!("profile {name} changed during the key rotation"))
                    .hint("rerun `tokcli rekey`"));
            }
        }
        let meta = || -> rusqlite::Result<()> {
            tx.execute(PUT_META, params!["key_id", new.key_id().as_bytes()])?;
            tx.execute(PUT_META, params!["key_check", new.make_key_check()])?;
            tx.execute(PUT_META, params!["rekeyed_at", now().to_string().as_bytes()])?;
            tx.execute("DELETE FROM meta WHERE key = ?1", [PENDING])?;
            Ok(())
        };
        meta().map_err(|e| sql_err(&e))?;
        tx.commit().map_err(|e| sql_err(&e))?;
        Ok(rows.len())
    }
}

/// A profile that does not decrypt stops the rotation.
fn blocked(name: &str, e: &Error) -> Error {
    Error::new(e.class, format!("cannot rotate the key: {}", e.message)).hint(format!(
        "nothing was changed; repair or remove profile {name} first (`tokcli login … --profile {name}` or \
`tokcli revoke {name} --local-only`), then rerun `tokcli rekey`"
    ))
}

/// What a read-only look at the database file found (for `tokcli doctor`).
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    pub db: PathBuf,
    pub exists: bool,
    pub size: u64,
    /// The file starts with the SQLite magic `SQLite format 3\0`.
    pub sqlite_header: bool,
    /// The database could not be opened or read at all.
    pub open_error: Option<String>,
    pub application_id: Option<i64>,
    pub user_version: Option<i64>,
    /// `PRAGMA integrity_check` messages; empty when it answered `ok`.
    pub integrity: Vec<String>,
    /// Required meta keys that are missing.
    pub missing_meta: Vec<&'static str>,
    /// The read used `immutable=1` (no WAL index could be made: read-only directory or full disk),
    /// so changes still in the `-wal` file were not seen.
    pub immutable: bool,
}

impl Inspection {
    /// True when the file is a tokcli store of a schema this binary knows, internally consistent.
    #[must_use]
    pub fn is_sound(&self) -> bool {
        self.exists
            && self.open_error.is_none()
            && self.application_id == Some(APPLICATION_ID)
            && self.user_version.is_some_and(|v| (1..=SCHEMA_VERSION).contains(&v))
            && self.integrity.is_empty()
            && self.missing_meta.is_empty()
    }
}

fn open_read_only(db: &Path, immutable: bool) -> rusqlite::Result<Connection> {
    let mut uri = url::Url::from_file_path(db).map_err(|()| rusqlite::Error::InvalidPath(db.to_owned()))?;
    uri.set_query(Some(if immutable { "mode=ro&immutable=1" } else { "mode=ro" }));
    let conn = Connection::open_with_flags(
        uri.as_str(),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0))?;
    Ok(conn)
}

/// Looks at the store file without changing a byte of it (ST-01, ST-02): the header, the
/// application id, the schema version, `PRAGMA integrity_check` and the key metadata.
#[must_use]
pub fn inspect(paths: &Paths) -> Inspection {
    use std::io::Read as _;
    let mut out = Inspection { db: paths.db.clone(), ..Inspection::default() };
    let Ok(meta) = std::fs::metadata(&paths.db) else { return out };
    out.exists = true;
    out.size = meta.len();
    let mut magic = [0u8; 16];
    out.sqlite_header = std::fs::File::open(&paths.db).and_then(|mut f| f.read_exact(&mut magic)).is_ok()
        && &magic == b"SQLite format 3\0";
    if !out.sqlite_header {
        out.open_error = Some(if out.size < 16 {
            format!("the file is truncated ({} bytes)", out.size)
        } else {
            "not an SQLite database".into()
        });
        return out;
    }
    let conn = match open_read_only(&paths.db, false) {
        Ok(c) => c,
        Err(first) => match open_read_only(&paths.db, true) {
            Ok(c) => {
                out.immutable = true;
                c
            }
            Err(_) => {
                out.open_error = Some(first.to_string());
                return out;
            }
        },
    };
    let _ = conn.busy_timeout(std::time::Duration::from_secs(10));
    match conn.query_row("SELECT * FROM pragma_application_id, pragma_user_version", [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    }) {
        Ok((a, v)) => {
            out.application_id = Some(a);
            out.user_version = Some(v);
        }
        Err(e) => {
            out.open_error = Some(e.to_string());
            return out;
        }
    }
    let check = conn
        .prepare("PRAGMA integrity_check(50)")
        .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<String>>>());
    match check {
        Ok(lines) => out.integrity = lines.into_iter().filter(|l| l != "ok").collect(),
        Err(e) => out.integrity = vec![e.to_string()],
    }
    if out.application_id == Some(APPLICATION_ID) {
        let present: Vec<String> = conn
            .prepare("SELECT key FROM meta")
            .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
            .unwrap_or_default();
        out.missing_meta = ["store_id", "key_source", "key_id", "key_check"]
            .into_iter()
            .filter(|k| !present.iter().any(|p| p == k))
            .collect();
    }
    out
}

/// `tokcli doctor --reset`: moves the store aside as `tokcli.db.corrupt-<unix time>` (with its
/// `-wal` and `-shm` files renamed to match, so `sqlite3` still opens the pair), never deleting
/// anything. Returns the new path of the database and of every file moved.
///
/// # Errors
/// Exit 5 when a file cannot be renamed; files already moved stay where they went (reported).
pub fn move_aside(paths: &Paths) -> Result<Vec<PathBuf>> {
    let base = paths.db.display().to_string();
    let stamp = now();
    let mut target = format!("{base}.corrupt-{stamp}");
    let mut n = 1;
    while Path::new(&target).exists() {
        target = format!("{base}.corrupt-{stamp}-{n}");
        n += 1;
    }
    // The WAL and its index go first: a -wal left next to a future store could be replayed into it.
    let mut moved = Vec::new();
    for (from, to) in [
        (format!("{base}-wal"), format!("{target}-wal")),
        (format!("{base}-shm"), format!("{target}-shm")),
        (base.clone(), target.clone()),
    ] {
        if !Path::new(&from).exists() {
            continue;
        }
        std::fs::rename(&from, &to).map_err(|e| {
            Error::store(format!("cannot move {from} to {to}: {e}")).hint(if moved.is_empty() {
                "nothing was moved; check that the tokcli data directory is writable".to_owned()
            } else {
                format!(
                    "already moved: {}",
                    moved.iter().map(|p: &PathBuf| p.display().to_string()).collect::<Vec<_>>().join(", ")
                )
            })
        })?;
        moved.push(PathBuf::from(to));
    }
    if let Ok(d) = std::fs::File::open(&paths.dir) {
        let _ = d.sync_all();
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Secrets, secret};
    use crate::store::crypto::generate_key;
    use crate::store::{Grant, OpenOptions, ProfileConfig};

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

    fn grant(at: &str) -> Grant {
        Grant {
            secrets: Secrets {
                access_token: Some(secret(at)),
                refresh_token: Some(secret("rt")),
                ..Secrets::default()
            },
            account: None,
            token_type: "Bearer".into(),
            granted_scope: None,
            expires_at: now() + 3600,
            obtained_at: now(),
        }
    }

    fn deadline() -> Instant {
        Instant::now() + std::time::Duration::from_secs(10)
    }

    #[test]
    fn file_rekey_rotates_and_old_key_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let keyfile = dir.path().join("key");
        let o = OpenOptions { key_source: Some(KeySource::File(keyfile.clone())), fix_permissions: false };
        let paths = Paths::new(dir.path().join("home"));
        let s = SqliteStore::open_or_create(&paths, &o).unwrap();
        for n in ["a", "b"] {
            s.save_login(&ProfileName::parse(n).unwrap(), &cfg(), &grant(&format!("at-{n}"))).unwrap();
        }
        let old_key = std::fs::read(&keyfile).unwrap();
        let r = s.rekey(deadline(), &mut |_| panic!("not env")).unwrap();
        assert_eq!(r.profiles, 2);
        assert!(r.promote_error.is_none());
        assert_ne!(r.old_key_id, r.new_key_id);
        assert_ne!(std::fs::read(&keyfile).unwrap(), old_key, "K1 was replaced");
        assert!(!super::super::keys::staged_key_path(&keyfile, &r.new_key_id).exists(), "no staged copy left");
        let s = SqliteStore::open_existing(&paths, &o).unwrap().unwrap();
        assert_eq!(s.expected_key_id(), r.new_key_id);
        let p = s.get(&ProfileName::parse("b").unwrap()).unwrap().unwrap();
        assert_eq!(p.generation, 2);
        assert_eq!(s.secrets(&p).unwrap().access_token.unwrap().expose_secret(), "at-b");
        assert!(s.key_status().unwrap().promoted);
    }

    #[test]
    fn committed_but_unpromoted_key_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let keyfile = dir.path().join("key");
        let src = KeySource::File(keyfile.clone());
        let o = OpenOptions { key_source: Some(src.clone()), fix_permissions: false };
        let paths = Paths::new(dir.path().join("home"));
        let s = SqliteStore::open_or_create(&paths, &o).unwrap();
        s.save_login(&ProfileName::parse("a").unwrap(), &cfg(), &grant("at")).unwrap();
        // Steps 1–3 by hand, without step 4.
        let k2 = generate_key();
        src.stage(s.store_id(), &k2).unwrap();
        let new = Cipher::new(&k2, s.store_id());
        s.reencrypt(s.cipher().unwrap(), &new, deadline()).unwrap();
        drop(s);
        let s = SqliteStore::open_existing(&paths, &o).unwrap().unwrap();
        let p = s.get(&ProfileName::parse("a").unwrap()).unwrap().unwrap();
        assert_eq!(s.secrets(&p).unwrap().access_token.unwrap().expose_secret(), "at");
        assert!(!s.key_status().unwrap().promoted);
        // A second rotation finishes the job and removes the stale staged key.
        let r = s.rekey(deadline(), &mut |_| Ok(())).unwrap();
        assert!(!super::super::keys::staged_key_path(&keyfile, new.key_id()).exists());
        assert!(!super::super::keys::staged_key_path(&keyfile, &r.new_key_id).exists());
        let s = SqliteStore::open_existing(&paths, &o).unwrap().unwrap();
        assert!(s.key_status().unwrap().promoted);
        let p = s.get(&ProfileName::parse("a").unwrap()).unwrap().unwrap();
        assert_eq!(s.secrets(&p).unwrap().access_token.unwrap().expose_secret(), "at");
    }

    #[test]
    fn a_tampered_row_stops_the_rotation_with_nothing_changed() {
        let dir = tempfile::tempdir().unwrap();
        let keyfile = dir.path().join("key");
        let o = OpenOptions { key_source: Some(KeySource::File(keyfile.clone())), fix_permissions: false };
        let paths = Paths::new(dir.path().join("home"));
        let s = SqliteStore::open_or_create(&paths, &o).unwrap();
        s.save_login(&ProfileName::parse("a").unwrap(), &cfg(), &grant("at")).unwrap();
        s.conn.execute("UPDATE profiles SET access_token_ct = refresh_token_ct", []).unwrap();
        let before = std::fs::read(&keyfile).unwrap();
        let e = s.rekey(deadline(), &mut |_| Ok(())).unwrap_err();
        assert_eq!(e.class, crate::error::Class::Store);
        assert!(e.message.contains("integrity failure"), "{}", e.message);
        assert_eq!(std::fs::read(&keyfile).unwrap(), before);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.starts_with("key."))
            .collect();
        assert!(leftovers.is_empty(), "staged key removed: {leftovers:?}");
    }

    #[test]
    fn inspection_is_read_only_and_finds_damage() {
        let dir = tempfile::tempdir().unwrap();
        let o = OpenOptions { key_source: Some(KeySource::File(dir.path().join("key"))), fix_permissions: false };
        let paths = Paths::new(dir.path().join("home"));
        let s = SqliteStore::open_or_create(&paths, &o).unwrap();
        s.save_login(&ProfileName::parse("a").unwrap(), &cfg(), &grant("at")).unwrap();
        drop(s);
        let i = inspect(&paths);
        assert!(i.is_sound(), "{i:?}");
        std::fs::write(&paths.db, b"garbage").unwrap();
        let i = inspect(&paths);
        assert!(!i.is_sound() && i.open_error.is_some());
        assert_eq!(std::fs::read(&paths.db).unwrap(), b"garbage");
        let moved = move_aside(&paths).unwrap();
        assert!(!paths.db.exists());
        assert_eq!(std::fs::read(moved.last().unwrap()).unwrap(), b"garbage");
        assert!(moved.iter().all(|p| p.display().to_string().contains(".corrupt-")));
    }
}
