//! Key sources for the 32-byte store key (KM-01..KM-06).
//!
//! `keyring` (the OS keyring: Secret Service, Keychain, Credential Manager), `env`
//! (`TOKCLI_STORE_KEY`), `file:PATH`, `passphrase` (KM-04 c: Argon2id from a passphrase), and
//! `insecure-plaintext` (KM-04 d: a key file next to the database, chosen explicitly and flagged
//! on every use). The source is pinned in the store's meta table by the caller; this module never
//! falls back from one source to another. Every keyring call runs with a timeout, transient D-Bus
//! failures are retried, and each failure class gets its own message.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroizing;

use super::crypto::StoreKey;
use crate::error::Error;

/// Keyring service name (KM-05: the keyring holds only the key).
pub const KEYRING_SERVICE: &str = "tokcli";
const KEYRING_TIMEOUT: Duration = Duration::from_secs(5);
const HEADLESS_HINT: &str = "on a headless machine choose a key source explicitly: \
TOKCLI_KEY_SOURCE=env with TOKCLI_STORE_KEY=<64 hex chars>, or TOKCLI_KEY_SOURCE=file:/path/to/keyfile";

/// Where the store key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Keyring,
    Env,
    File(PathBuf),
    /// KM-04 (d): the key in a 0600 file beside the database ([`PLAINTEXT_KEY_FILE`]), which
    /// protects the tokens from nothing that can read the home directory. Never chosen
    /// implicitly; every use warns.
    InsecurePlaintext(PathBuf),
    /// KM-04 (c): derived from a passphrase (see [`passphrase`]); the value is the file
    /// descriptor given with `--passphrase-fd`, if any.
    Passphrase(Option<i32>),
}

/// The key file of the `insecure-plaintext` source, in the data directory.
pub const PLAINTEXT_KEY_FILE: &str = "store.key";
/// The pinned name of the `insecure-plaintext` source.
pub const INSECURE_PLAINTEXT: &str = "insecure-plaintext";

impl KeySource {
    /// Parses `keyring`, `env`, `file:PATH`, `passphrase` or `insecure-plaintext` (whose file is
    /// in `data_dir`).
    ///
    /// # Errors
    /// A usage error listing the accepted values.
    pub fn parse(s: &str, data_dir: &Path) -> Result<Self, Error> {
        match s {
            "keyring" => Ok(Self::Keyring),
            "env" => Ok(Self::Env),
            INSECURE_PLAINTEXT => Ok(Self::InsecurePlaintext(data_dir.join(PLAINTEXT_KEY_FILE))),
            "passphrase" => Ok(Self::Passphrase(None)),
            _ => match s.strip_prefix("file:") {
                Some(p) if !p.is_empty() => Ok(Self::File(PathBuf::from(p))),
                _ => Err(Error::usage(format!("invalid TOKCLI_KEY_SOURCE {s:?}"))
                    .hint("use keyring, env, file:/absolute/path, passphrase or insecure-plaintext")),
            },
        }
    }

    /// True for the `insecure-plaintext` source (KM-04 d).
    #[must_use]
    pub fn is_insecure(&self) -> bool {
        matches!(self, Self::InsecurePlaintext(_))
    }

    /// The value pinned in the store (`meta.key_source`).
    #[must_use]
    pub fn pin(&self) -> String {
        match self {
            Self::Keyring => "keyring".into(),
            Self::Env => "env".into(),
            Self::File(p) => format!("file:{}", p.display()),
            Self::InsecurePlaintext(_) => INSECURE_PLAINTEXT.into(),
            Self::Passphrase(_) => "passphrase".into(),
        }
    }

    /// Loads the key of an existing store.
    ///
    /// # Errors
    /// Exit 6 with a hint for every way the key can be unavailable.
    pub fn load(&self, store_id: &str) -> Result<StoreKey, Error> {
        match self {
            Self::Env => {
                let v = Zeroizing::new(std::env::var("TOKCLI_STORE_KEY").map_err(|_| {
                    Error::key("TOKCLI_KEY_SOURCE=env but TOKCLI_STORE_KEY is not set")
                        .hint("export TOKCLI_STORE_KEY with the store's key (64 hex chars or base64 of 32 bytes)")
                })?);
                decode_key(&v).ok_or_else(|| {
                    Error::key("TOKCLI_STORE_KEY is not 64 hex chars or base64 of 32 bytes")
                        .hint("generate one with `head -c32 /dev/urandom | base64`")
                })
            }
            Self::File(p) | Self::InsecurePlaintext(p) => read_key_file(p),
            Self::Keyring => keyring_load(store_id),
            Self::Passphrase(fd) => passphrase::unlock(store_id, *fd, None),
        }
    }

    /// A new key for `rekey`: random, or for `passphrase` derived from a new passphrase.
    ///
    /// # Errors
    /// Exit 6 when no new passphrase can be read; exit 2 when it is too short or unchanged.
    pub fn new_key(&self, store_id: &str) -> Result<StoreKey, Error> {
        match self {
            Self::Passphrase(_) => passphrase::choose(store_id, passphrase::Purpose::Rekey),
            _ => Ok(super::crypto::generate_key()),
        }
    }

    /// Makes the key for a brand-new store (KM-03: only ever called when the store does not exist
    /// yet). `env` never generates: the caller must supply the key.
    ///
    /// # Errors
    /// Exit 6 when the key cannot be made durable in the source.
    pub fn create(&self, store_id: &str) -> Result<StoreKey, Error> {
        match self {
            Self::Env => self.load(store_id),
            Self::Passphrase(fd) => passphrase::choose(store_id, passphrase::Purpose::Create(*fd)),
            Self::File(p) | Self::InsecurePlaintext(p) => {
                if p.exists() {
                    return read_key_file(p);
                }
                let key = super::crypto::generate_key();
                let text = Zeroizing::new(hex(key.expose_secret()));
                write_private(p, text.as_bytes()).map_err(|e| {
                    Error::key(format!("cannot create key file {}: {e}", p.display()))
                        .hint("check that the directory exists and is writable")
                })?;
                Ok(key)
            }
            Self::Keyring => {
                let key = super::crypto::generate_key();
                let text = Zeroizing::new(hex(key.expose_secret()));
                keyring_call(store_id, KeyringOp::Set(text))?;
                // Read it back: a store that accepted the write but cannot return it is useless.
                let back = keyring_load_uncached(store_id)?;
                if back.expose_secret() != key.expose_secret() {
                    return Err(
                        Error::key("the keyring returned a different key than was just written").hint(HEADLESS_HINT)
                    );
                }
                Ok(key)
            }
        }
    }

    /// Removes a key that was created for a store that lost the creation race.
    pub fn discard(&self, store_id: &str) {
        if *self == Self::Keyring {
            let _ = keyring_call(store_id, KeyringOp::Delete);
        }
    }
}

/// Lower-case hex in one exactly-sized allocation: no growth, so no partial copy of a key is ever
/// freed without being zeroized (PH-04).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Accepts 64 hex characters or base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
#[must_use]
pub fn decode_key(s: &str) -> Option<StoreKey> {
    let s = s.trim();
    let mut out = Box::new([0u8; 32]);
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            out[i] = u8::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
        }
        return Some(SecretBox::new(out));
    }
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    for e in engines {
        if let Ok(v) = e.decode(s) {
            let v = Zeroizing::new(v);
            if v.len() == 32 {
                out.copy_from_slice(&v);
                return Some(SecretBox::new(out));
            }
        }
    }
    None
}

fn read_key_file(p: &Path) -> Result<StoreKey, Error> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(p).map_err(|e| {
        Error::key(format!("cannot read key file {}: {e}", p.display()))
            .hint("check TOKCLI_KEY_SOURCE=file:PATH points at the store's key file")
    })?;
    if meta.mode() & 0o077 != 0 {
        return Err(Error::key(format!("key file {} is readable by other users", p.display()))
            .hint(format!("run `chmod 600 {}`", p.display())));
    }
    let raw =
        Zeroizing::new(std::fs::read(p).map_err(|e| Error::key(format!("cannot read key file {}: {e}", p.display())))?);
    if raw.len() == 32 {
        let mut k = Box::new([0u8; 32]);
        k.copy_from_slice(&raw);
        return Ok(SecretBox::new(k));
    }
    std::str::from_utf8(&raw).ok().and_then(decode_key).ok_or_else(|| {
        Error::key(format!("key file {} does not hold a 32-byte key", p.display()))
            .hint("it must contain 32 raw bytes, 64 hex chars or base64 of 32 bytes")
    })
}

/// Writes a new file with mode 0600, failing if it exists.
fn write_private(p: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(p)?;
    f.write_all(data)?;
    f.sync_all()
}

enum KeyringOp {
    Get,
    Set(Zeroizing<String>),
    Delete,
}

fn keyring_user(store_id: &str) -> String {
    format!("store-key:{store_id}")
}

fn keyring_load(store_id: &str) -> Result<StoreKey, Error> {
    if let Some(k) = kernel_cache::get(store_id) {
        return Ok(k);
    }
    let key = keyring_load_uncached(store_id)?;
    kernel_cache::put(store_id, &key);
    Ok(key)
}

/// Drops a cached copy of a store key (after a key mismatch, or before a rekey).
pub fn forget_cached(store_id: &str) {
    kernel_cache::forget(store_id);
}

fn keyring_load_uncached(store_id: &str) -> Result<StoreKey, Error> {
    let text = keyring_call(store_id, KeyringOp::Get)?.unwrap_or_default();
    decode_key(&text).ok_or_else(|| {
        Error::key(format!("the keyring entry {KEYRING_SERVICE}/{} is not a 32-byte key", keyring_user(store_id)))
            .hint("the entry was changed by another program; restore it or run `tokcli doctor`")
    })
}

/// Runs one keyring operation on a worker thread with a timeout, retrying transient RPC
/// failures up to 3 times with jitter (KM-03, KM-06).
fn keyring_call(store_id: &str, op: KeyringOp) -> Result<Option<Zeroizing<String>>, Error> {
    let user = keyring_user(store_id);
    let op = std::sync::Arc::new(op);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (tx, rx) = mpsc::channel();
        let (u, o) = (user.clone(), op.clone());
        std::thread::spawn(move || {
            let r = keyring::Entry::new(KEYRING_SERVICE, &u).and_then(|e| match &*o {
                KeyringOp::Get => e.get_password().map(|p| Some(Zeroizing::new(p))),
                KeyringOp::Set(v) => e.set_password(v).map(|()| None),
                KeyringOp::Delete => e.delete_credential().map(|()| None),
            });
            let _ = tx.send(r);
        });
        let result = match rx.recv_timeout(KEYRING_TIMEOUT) {
            Ok(r) => r,
            Err(_) => {
                return Err(Error::key(format!("the OS keyring did not answer within {}s", KEYRING_TIMEOUT.as_secs()))
                    .hint(format!(
                        "unlock your keyring (e.g. log in to the desktop session) and retry; {HEADLESS_HINT}"
                    )));
            }
        };
        match result {
            Ok(v) => return Ok(v),
            Err(e) => {
                let class = classify_keyring(&e);
                if class == KeyringFailure::Transient && attempt < 3 {
                    let jitter = 50 + rand::random::<u64>() % 150;
                    std::thread::sleep(Duration::from_millis(jitter));
                    continue;
                }
                return Err(keyring_error(class, &user, &e));
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum KeyringFailure {
    Missing,
    Locked,
    NoService,
    Transient,
    Other,
}

fn classify_keyring(e: &keyring::Error) -> KeyringFailure {
    let text = e.to_string().to_ascii_lowercase();
    match e {
        keyring::Error::NoEntry => KeyringFailure::Missing,
        keyring::Error::NoDefaultStore => KeyringFailure::NoService,
        keyring::Error::NoStorageAccess(_) => KeyringFailure::Locked,
        _ if text.contains("prompt") || text.contains("locked") || text.contains("dismissed") => KeyringFailure::Locked,
        _ if text.contains("serviceunknown")
            || text.contains("no such file")
            || text.contains("connection refused")
            || text.contains("dbus") && text.contains("address") =>
        {
            KeyringFailure::NoService
        }
        keyring::Error::PlatformFailure(_) => KeyringFailure::Transient,
        _ => KeyringFailure::Other,
    }
}

fn keyring_error(class: KeyringFailure, user: &str, e: &keyring::Error) -> Error {
    match class {
        KeyringFailure::Missing => Error::key(format!(
            "the store key ({KEYRING_SERVICE}/{user}) is missing from the OS keyring"
        ))
        .hint("tokcli will not make a new key while the store holds secrets; restore the keyring entry, \
or move the store aside with `tokcli doctor --reset` and log in again"),
        KeyringFailure::Locked => Error::key("the OS keyring is locked")
            .hint(format!("unlock it (e.g. `gnome-keyring-daemon --unlock` or your desktop's keyring prompt) and retry; {HEADLESS_HINT}")),
        KeyringFailure::NoService => Error::key("no OS keyring is reachable (no Secret Service on the D-Bus session bus)")
            .hint(HEADLESS_HINT),
        KeyringFailure::Transient | KeyringFailure::Other => {
            Error::key(format!("the OS keyring failed: {}", crate::error::sanitize_provider_text(&e.to_string())))
                .hint(HEADLESS_HINT)
        }
    }
}

/// A short-lived copy of the keyring's store key in the Linux kernel keyring (`keyctl`), so
/// `tokcli token` does not pay a D-Bus round trip to the Secret Service (~10 ms) on every call.
///
/// Why this is as safe as the Secret Service itself: the copy lives in kernel memory (never on
/// disk, never swapped), in the user's keyring with permissions that let only this uid read it —
/// exactly the processes that can already ask the unlocked Secret Service for the key over the
/// session bus without a prompt. It is scoped to the store and to the D-Bus session it was read
/// from, and expires after `TOKCLI_KEY_CACHE_TTL` seconds (default 300) from the Secret Service
/// read. The trade-off: locking the desktop keyring takes effect for tokcli only when the copy
/// expires; `TOKCLI_KEY_CACHE=off` disables the cache, and `keyctl purge user tokcli:` drops it.
mod kernel_cache {
    use super::StoreKey;

    const DEFAULT_TTL: usize = 300;

    fn ttl() -> Option<usize> {
        if std::env::var("TOKCLI_KEY_CACHE").is_ok_and(|v| v == "off" || v == "0") {
            return None;
        }
        let t = std::env::var("TOKCLI_KEY_CACHE_TTL").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_TTL);
        (t > 0).then_some(t)
    }

    fn description(store_id: &str) -> String {
        use sha2::Digest as _;
        let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_default();
        let h = sha2::Sha256::digest(bus.as_bytes());
        let bus_id: String = h.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("tokcli:store-key:{store_id}:{bus_id}")
    }

    pub fn get(store_id: &str) -> Option<StoreKey> {
        get_named(&description(store_id))
    }

    pub fn put(store_id: &str, key: &StoreKey) {
        put_named(&description(store_id), key);
    }

    pub fn forget(store_id: &str) {
        forget_named(&description(store_id));
    }

    #[cfg(target_os = "linux")]
    pub fn get_named(name: &str) -> Option<StoreKey> {
        use linux_keyutils::{KeyRing, KeyRingIdentifier};
        ttl()?;
        let ring = KeyRing::from_special_id(KeyRingIdentifier::User, false).ok()?;
        let key = ring.search(name).ok()?;
        let mut buf = zeroize::Zeroizing::new([0u8; 33]);
        let n = key.read(&mut *buf).ok()?;
        if n != 32 {
            return None;
        }
        let mut k = Box::new([0u8; 32]);
        k.copy_from_slice(&buf[..32]);
        Some(secrecy::SecretBox::new(k))
    }

    #[cfg(target_os = "linux")]
    pub fn put_named(name: &str, key: &StoreKey) {
        use linux_keyutils::{KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};
        use secrecy::ExposeSecret as _;
        let Some(ttl) = ttl() else { return };
        let Ok(ring) = KeyRing::from_special_id(KeyRingIdentifier::User, true) else { return };
        let Ok(k) = ring.add_key(name, key.expose_secret().as_slice()) else { return };
        let perms = KeyPermissionsBuilder::builder()
            .posessor(Permission::ALL)
            .user(Permission::VIEW | Permission::READ | Permission::SEARCH)
            .build();
        // Without the timeout the copy must not stay: revoke it at once.
        if k.set_timeout(ttl).is_err() || k.set_perms(perms).is_err() {
            let _ = k.invalidate();
        }
    }

    #[cfg(target_os = "linux")]
    pub fn forget_named(name: &str) {
        use linux_keyutils::{KeyRing, KeyRingIdentifier};
        if let Ok(ring) = KeyRing::from_special_id(KeyRingIdentifier::User, false)
            && let Ok(k) = ring.search(name)
        {
            let _ = k.invalidate();
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn get_named(_: &str) -> Option<StoreKey> {
        None
    }
    #[cfg(not(target_os = "linux"))]
    pub fn put_named(_: &str, _: &StoreKey) {}
    #[cfg(not(target_os = "linux"))]
    pub fn forget_named(_: &str) {}
}

/// KM-04 (c): the store key derived from a passphrase.
///
/// Argon2id with m = 64 MiB, t = 3, p = 4 (RFC 9106 §4, the second recommended option), a 32-byte
/// output, and the store's id as the salt: 16 random bytes made when the store is created and
/// kept in its `meta` table. The passphrase is read from `--passphrase-fd N`, else the file named
/// by `TOKCLI_PASSPHRASE_FILE` (0600, one line), else the terminal; never from argv or the
/// environment itself. A derivation takes a few hundred milliseconds, so on Linux the derived key
/// is kept in the kernel keyring for `TOKCLI_KEY_CACHE_TTL` seconds from the moment the
/// passphrase was given, as for the keyring source (`TOKCLI_KEY_CACHE=off` disables it); a
/// cached key is used only when it is the store's key.
pub mod passphrase {
    use std::sync::Mutex;

    use secrecy::{ExposeSecret as _, SecretBox};
    use zeroize::Zeroizing;

    use super::kernel_cache;
    use crate::error::Error;
    use crate::store::crypto::{StoreKey, key_id};

    /// Argon2id memory in KiB (64 MiB), passes and lanes.
    pub const M_KIB: u32 = 64 * 1024;
    pub const T: u32 = 3;
    pub const P: u32 = 4;
    /// A new passphrase must have at least this many characters.
    pub const MIN_CHARS: usize = 8;
    const NO_SOURCE_HINT: &str = "set TOKCLI_PASSPHRASE_FILE to a 0600 file holding the passphrase, \
or pass --passphrase-fd N";

    /// Why a passphrase is asked for.
    #[derive(Debug, Clone, Copy)]
    pub enum Purpose {
        /// A new store (with the `--passphrase-fd` descriptor, if any).
        Create(Option<i32>),
        /// `rekey`: the new passphrase (`TOKCLI_NEW_PASSPHRASE_FILE`, else the terminal).
        Rekey,
    }

    /// One derivation per process: `refresh --jobs N` opens the store N times, and N parallel
    /// derivations would need N × 64 MiB.
    static DERIVED: Mutex<Option<(String, StoreKey)>> = Mutex::new(None);

    fn cache_name(store_id: &str) -> String {
        format!("tokcli:passphrase-key:{store_id}")
    }

    fn copy(k: &StoreKey) -> StoreKey {
        let mut b = Box::new([0u8; 32]);
        b.copy_from_slice(k.expose_secret());
        SecretBox::new(b)
    }

    /// Derives the key of `store_id` from `passphrase`.
    ///
    /// # Errors
    /// Exit 5 for a store id that is not 32 hex characters.
    pub fn derive(passphrase: &str, store_id: &str) -> Result<StoreKey, Error> {
        let salt: Vec<u8> = (0..store_id.len() / 2)
            .map(|i| u8::from_str_radix(store_id.get(2 * i..2 * i + 2).unwrap_or("x"), 16))
            .collect::<Result<_, _>>()
            .ok()
            .filter(|s: &Vec<u8>| s.len() == 16)
            .ok_or_else(|| Error::store("the store id is not 16 bytes of hex; cannot derive its key"))?;
        let params = argon2::Params::new(M_KIB, T, P, Some(32))
            .map_err(|e| Error::internal(format!("Argon2 parameters: {e}")))?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Box::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.as_bytes(), &salt, &mut out[..])
            .map_err(|e| Error::internal(format!("Argon2id failed: {e}")))?;
        Ok(SecretBox::new(out))
    }

    /// The key of an existing store. With `want` (its key id), a cached key must match it, and
    /// only a matching derived key is cached.
    ///
    /// # Errors
    /// Exit 6 when no passphrase can be read.
    pub fn unlock(store_id: &str, fd: Option<i32>, want: Option<&str>) -> Result<StoreKey, Error> {
        let mut memo = DERIVED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((id, k)) = memo.as_ref()
            && id == store_id
            && want.is_none_or(|w| key_id(k) == w)
        {
            return Ok(copy(k));
        }
        if let Some(k) = kernel_cache::get_named(&cache_name(store_id)) {
            if want.is_none_or(|w| key_id(&k) == w) {
                return Ok(k);
            }
            kernel_cache::forget_named(&cache_name(store_id));
        }
        let pass = read(fd, "TOKCLI_PASSPHRASE_FILE", "passphrase of the tokcli store", false)?;
        let k = derive(&pass, store_id)?;
        if want.is_some_and(|w| key_id(&k) == w) {
            kernel_cache::put_named(&cache_name(store_id), &k);
            *memo = Some((store_id.to_owned(), copy(&k)));
        }
        Ok(k)
    }

    /// A new passphrase (asked twice on a terminal) and its key.
    ///
    /// # Errors
    /// Exit 6 when none can be read; exit 2 when it is too short or the two entries differ.
    pub fn choose(store_id: &str, purpose: Purpose) -> Result<StoreKey, Error> {
        let pass = match purpose {
            Purpose::Create(fd) => read(fd, "TOKCLI_PASSPHRASE_FILE", "passphrase for the store", true)?,
            Purpose::Rekey => read(None, "TOKCLI_NEW_PASSPHRASE_FILE", "new passphrase for the store", true)?,
        };
        if pass.chars().count() < MIN_CHARS {
            return Err(Error::usage(format!("the passphrase must have at least {MIN_CHARS} characters"))
                .hint("choose a longer one (a few random words)"));
        }
        let k = derive(&pass, store_id)?;
        forget(store_id);
        Ok(k)
    }

    /// Drops the cached copies of the store's key (after a rekey).
    pub fn forget(store_id: &str) {
        kernel_cache::forget_named(&cache_name(store_id));
        *DERIVED.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The passphrase from the descriptor, else from the file named by the environment variable
    /// `var`, else from the terminal (asked twice when `twice`).
    fn read(fd: Option<i32>, var: &str, what: &str, twice: bool) -> Result<Zeroizing<String>, Error> {
        if let Some(fd) = fd {
            return from_file(std::path::Path::new(&format!("/dev/fd/{fd}")), &format!("--passphrase-fd {fd}"), false);
        }
        if let Some(path) = std::env::var_os(var) {
            return from_file(std::path::Path::new(&path), var, true);
        }
        let first = prompt(&format!("tokcli: {what}: "))?;
        if twice && *first != *prompt(&format!("tokcli: {what} again: "))? {
            return Err(Error::usage("the two passphrases differ").hint("nothing was changed; try again"));
        }
        Ok(first)
    }

    fn prompt(text: &str) -> Result<Zeroizing<String>, Error> {
        rpassword::prompt_password(text).map(Zeroizing::new).map_err(|e| {
            Error::key(format!("the store's key comes from a passphrase, and no terminal can be asked for it ({e})"))
                .hint(NO_SOURCE_HINT)
        })
    }

    /// The first line of a file (or descriptor), without its line ending.
    fn from_file(path: &std::path::Path, name: &str, private: bool) -> Result<Zeroizing<String>, Error> {
        use std::os::unix::fs::MetadataExt as _;
        if private
            && let Ok(meta) = std::fs::metadata(path)
            && meta.mode() & 0o077 != 0
        {
            return Err(Error::key(format!("{name} {} is readable by other users", path.display()))
                .hint(format!("run `chmod 600 {}`", path.display())));
        }
        let raw = Zeroizing::new(
            std::fs::read(path).map_err(|e| Error::key(format!("cannot read {name}: {e}")).hint(NO_SOURCE_HINT))?,
        );
        let text = std::str::from_utf8(&raw).map_err(|_| Error::key(format!("{name} is not UTF-8 text")))?;
        let line = text.split(['\n', '\r']).next().unwrap_or("");
        if line.is_empty() {
            return Err(Error::key(format!("{name} holds an empty passphrase")).hint(NO_SOURCE_HINT));
        }
        Ok(Zeroizing::new(line.to_owned()))
    }
}

// Key rotation (`tokcli rekey`, SC-04). A store's current keyring key is the entry
// `store-key:<store_id>`. `rekey` first stages the new key under `store-key:<store_id>:<key_id>`
// (for `file:PATH`, the file `PATH.<key_id>`), then commits the re-encrypted store, then promotes
// the new key over the old one and drops the staged copy. `load_for` finds the store's key after a
// crash at any of those steps.

/// The staged key file of `file:PATH` for key id `key_id`: `PATH.<key_id>`.
#[must_use]
pub fn staged_key_path(p: &Path, key_id: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(format!(".{key_id}"));
    PathBuf::from(s)
}

/// `keyring_user` prefixes `store-key:`, so this names the entry `store-key:<store_id>:<key_id>`.
fn staged_entry(store_id: &str, key_id: &str) -> String {
    format!("{store_id}:{key_id}")
}

impl KeySource {
    /// Loads the key with id `key_id`: the source's current key, or the key staged by a
    /// `tokcli rekey` that committed the store but was interrupted before promoting the key.
    ///
    /// # Errors
    /// As [`KeySource::load`]; a current key with another id is returned as is (the caller
    /// reports the mismatch).
    pub fn load_for(&self, store_id: &str, key_id: &str) -> Result<StoreKey, Error> {
        if let Self::Passphrase(fd) = self {
            return passphrase::unlock(store_id, *fd, Some(key_id));
        }
        let current = self.load(store_id)?;
        if super::crypto::key_id(&current) == key_id {
            return Ok(current);
        }
        let staged = match self {
            Self::Env => None,
            Self::Passphrase(_) => None,
            Self::File(p) | Self::InsecurePlaintext(p) => read_key_file(&staged_key_path(p, key_id)).ok(),
            Self::Keyring => keyring_load_uncached(&staged_entry(store_id, key_id)).ok(),
        };
        Ok(staged.filter(|k| super::crypto::key_id(k) == key_id).unwrap_or(current))
    }

    /// SC-04 steps 1–2: writes a new key next to the current one and reads it back. `env` holds
    /// no second key; the caller hands the key to the user instead.
    ///
    /// # Errors
    /// Exit 6 when the key cannot be written or does not read back identical.
    pub fn stage(&self, store_id: &str, key: &StoreKey) -> Result<(), Error> {
        let kid = super::crypto::key_id(key);
        let text = Zeroizing::new(hex(key.expose_secret()));
        let back = match self {
            // `env` holds no second key; a new passphrase is its key's only copy.
            Self::Env | Self::Passphrase(_) => return Ok(()),
            Self::File(p) | Self::InsecurePlaintext(p) => {
                let staged = staged_key_path(p, &kid);
                write_private_atomic(&staged, text.as_bytes()).map_err(|e| {
                    Error::key(format!("cannot write the new key file {}: {e}", staged.display())).hint(
                        "rekey writes the new key next to the current one; make that directory writable, \
or rotate a read-only key file yourself (new store + login)",
                    )
                })?;
                read_key_file(&staged)?
            }
            Self::Keyring => {
                let entry = staged_entry(store_id, &kid);
                keyring_call(&entry, KeyringOp::Set(text))?;
                keyring_load_uncached(&entry)?
            }
        };
        if back.expose_secret() != key.expose_secret() {
            return Err(Error::key("the key source returned a different key than was just written").hint(HEADLESS_HINT));
        }
        Ok(())
    }

    /// SC-04 step 4, after the store committed the new key: makes the staged key the current one,
    /// which overwrites (deletes) the old key, and removes the staged copy.
    ///
    /// # Errors
    /// Exit 6 when the promotion fails; the staged key stays, and [`KeySource::load_for`] still
    /// finds it.
    pub fn promote(&self, store_id: &str, key: &StoreKey) -> Result<(), Error> {
        let kid = super::crypto::key_id(key);
        match self {
            Self::Env => Ok(()),
            Self::Passphrase(_) => {
                passphrase::forget(store_id);
                Ok(())
            }
            Self::File(p) | Self::InsecurePlaintext(p) => {
                let staged = staged_key_path(p, &kid);
                std::fs::rename(&staged, p).map_err(|e| {
                    Error::key(format!("cannot move the new key file {} over {}: {e}", staged.display(), p.display()))
                        .hint(format!("move it yourself: `mv {} {}`", staged.display(), p.display()))
                })?;
                if let Some(dir) = p.parent() {
                    let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
                }
                Ok(())
            }
            Self::Keyring => {
                let text = Zeroizing::new(hex(key.expose_secret()));
                keyring_call(store_id, KeyringOp::Set(text))?;
                forget_cached(store_id);
                let back = keyring_load_uncached(store_id)?;
                if back.expose_secret() != key.expose_secret() {
                    return Err(Error::key("the keyring returned a different key than was just written")
                        .hint("the new key is still staged; rerun `tokcli rekey`"));
                }
                let _ = keyring_call(&staged_entry(store_id, &kid), KeyringOp::Delete);
                Ok(())
            }
        }
    }

    /// Removes a staged key with id `key_id`, if any: one that was never committed, or one left by
    /// an interrupted rotation that a later rotation replaced.
    pub fn unstage(&self, store_id: &str, key_id: &str) {
        match self {
            Self::Env | Self::Passphrase(_) => {}
            Self::File(p) | Self::InsecurePlaintext(p) => {
                let _ = std::fs::remove_file(staged_key_path(p, key_id));
            }
            Self::Keyring => {
                let _ = keyring_call(&staged_entry(store_id, key_id), KeyringOp::Delete);
            }
        }
    }
}

/// Writes a new 0600 file atomically: a temporary file, fsync, rename, fsync of the directory.
fn write_private_atomic(p: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut tmp = p.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, data)?;
    if let Err(e) = std::fs::rename(&tmp, p) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Some(dir) = p.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_sources() {
        let home = Path::new("/h");
        assert_eq!(KeySource::parse("keyring", home).unwrap(), KeySource::Keyring);
        assert_eq!(KeySource::parse("env", home).unwrap(), KeySource::Env);
        assert_eq!(KeySource::parse("file:/k", home).unwrap(), KeySource::File("/k".into()));
        assert!(KeySource::parse("file:", home).is_err());
        assert!(KeySource::parse("plaintext", home).is_err());
        assert_eq!(KeySource::parse("file:/a/b", home).unwrap().pin(), "file:/a/b");
        let insecure = KeySource::parse("insecure-plaintext", home).unwrap();
        assert_eq!(insecure, KeySource::InsecurePlaintext("/h/store.key".into()));
        assert_eq!(insecure.pin(), "insecure-plaintext");
        assert!(insecure.is_insecure() && !KeySource::File("/h/store.key".into()).is_insecure());
    }

    #[test]
    fn passphrase_keys_depend_on_the_passphrase_and_the_store() {
        let (a, b) = ("00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100");
        let k = |p: &str, id: &str| *passphrase::derive(p, id).unwrap().expose_secret();
        assert_eq!(k("correct horse", a), k("correct horse", a), "deterministic");
        assert_ne!(k("correct horse", a), k("correct horse", b), "salted with the store id");
        assert_ne!(k("correct horse", a), k("correct horsf", a));
        assert!(passphrase::derive("x", "not-hex").is_err());
        assert!(passphrase::derive("x", "0011").is_err(), "16 bytes of salt");
    }

    #[test]
    fn decode_forms() {
        let hexk = "00".repeat(31) + "ff";
        assert_eq!(decode_key(&hexk).unwrap().expose_secret()[31], 0xff);
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(decode_key(&b64).unwrap().expose_secret()[0], 7);
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xfbu8; 32]);
        assert_eq!(decode_key(&b64url).unwrap().expose_secret()[0], 0xfb);
        assert!(decode_key("abcd").is_none());
        assert!(decode_key(&base64::engine::general_purpose::STANDARD.encode([1u8; 31])).is_none());
    }

    #[test]
    fn file_source_round_trip_and_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        let src = KeySource::File(p.clone());
        let k1 = src.create("s").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        let k2 = src.load("s").unwrap();
        assert_eq!(k1.expose_secret(), k2.expose_secret());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(src.load("s").unwrap_err().class, crate::error::Class::Key);
    }
}
