//! Sealing secrets with XChaCha20-Poly1305 (SC-01..SC-03).
//!
//! Blob layout: `version(1) ‖ nonce(24) ‖ ciphertext ‖ tag(16)`; a fresh random nonce per seal.
//! The associated data binds each blob to its place: store id, profile id, field, generation and
//! key id, each length-prefixed, so a blob copied to another row, field or generation fails to
//! open. The raw store key is never used directly: HKDF-SHA256 derives the encryption key and
//! HMAC-SHA256 the key id.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::Error;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_CHECK_PLAINTEXT: &[u8] = b"tokcli key check v1";

/// The 32-byte store key as it comes from a key source.
pub type StoreKey = SecretBox<[u8; 32]>;

/// Which secret a blob holds; part of the associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    AccessToken,
    RefreshToken,
    IdToken,
    ClientSecret,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::AccessToken => "access_token",
            Field::RefreshToken => "refresh_token",
            Field::IdToken => "id_token",
            Field::ClientSecret => "client_secret",
        }
    }
}

/// Where a blob lives: the AAD parts that vary per row.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub profile_id: i64,
    pub generation: i64,
}

/// An opened store key: the derived AEAD key plus the identifiers the AAD binds to.
pub struct Cipher {
    aead: XChaCha20Poly1305,
    key_id: String,
    store_id: String,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// Computes the public key id (16 hex digits) of a store key.
#[must_use]
pub fn key_id(key: &StoreKey) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose_secret()).expect("HMAC takes any key length");
    mac.update(b"tokcli/v1/keyid");
    let out = mac.finalize().into_bytes();
    out.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Draws a new random store key from the OS CSPRNG.
#[must_use]
pub fn generate_key() -> StoreKey {
    let mut k = Box::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut OsRng, &mut k[..]);
    SecretBox::new(k)
}

impl Cipher {
    #[must_use]
    pub fn new(key: &StoreKey, store_id: &str) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"tokcli"), key.expose_secret());
        let mut enc = Zeroizing::new([0u8; 32]);
        hk.expand(b"tokcli/v1/enc", &mut enc[..]).expect("32 bytes is a valid HKDF length");
        Self { aead: XChaCha20Poly1305::new((&*enc).into()), key_id: key_id(key), store_id: store_id.to_owned() }
    }

    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn aad(&self, field: &str, place: Option<Place>) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        let (pid, generation) =
            place.map_or((String::new(), String::new()), |p| (p.profile_id.to_string(), p.generation.to_string()));
        for part in ["tokcli/v1", &self.store_id, &pid, field, &generation, &self.key_id] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }

    fn seal_raw(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ct = self
            .aead
            .encrypt(&nonce, Payload { msg: plaintext, aad })
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory sizes");
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        blob.push(VERSION);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        blob
    }

    fn open_raw(&self, aad: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if blob.len() < 1 + NONCE_LEN + TAG_LEN || blob[0] != VERSION {
            return None;
        }
        let nonce = XNonce::from_slice(&blob[1..=NONCE_LEN]);
        self.aead.decrypt(nonce, Payload { msg: &blob[1 + NONCE_LEN..], aad }).ok().map(Zeroizing::new)
    }

    /// Seals one secret for one place.
    #[must_use]
    pub fn seal(&self, field: Field, place: Place, secret: &SecretString) -> Vec<u8> {
        self.seal_raw(&self.aad(field.name(), Some(place)), secret.expose_secret().as_bytes())
    }

    /// Opens a blob sealed for exactly this place.
    ///
    /// # Errors
    /// Exit 5 "integrity failure" when the blob was altered, moved or replayed.
    pub fn open(&self, field: Field, place: Place, blob: &[u8], profile: &str) -> Result<SecretString, Error> {
        let fail = || {
            Error::store(format!(
                "integrity failure: the stored {} of profile {profile} does not decrypt (altered, moved or replayed)",
                field.name()
            ))
            .hint(format!(
                "run `tokcli doctor`; if the store was tampered with, run `tokcli login … --profile {profile}` again"
            ))
        };
        let pt = self.open_raw(&self.aad(field.name(), Some(place)), blob).ok_or_else(fail)?;
        let s = std::str::from_utf8(&pt).map_err(|_| fail())?;
        Ok(SecretString::from(s.to_owned()))
    }

    /// The value stored in `meta.key_check`.
    #[must_use]
    pub fn make_key_check(&self) -> Vec<u8> {
        self.seal_raw(&self.aad("keycheck", None), KEY_CHECK_PLAINTEXT)
    }

    /// True when `blob` was made by [`Cipher::make_key_check`] under this key and store id.
    #[must_use]
    pub fn verify_key_check(&self, blob: &[u8]) -> bool {
        self.open_raw(&self.aad("keycheck", None), blob).is_some_and(|p| p.as_slice() == KEY_CHECK_PLAINTEXT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(b: u8) -> StoreKey {
        SecretBox::new(Box::new([b; 32]))
    }
    const P: Place = Place { profile_id: 1, generation: 3 };

    #[test]
    fn round_trip() {
        let c = Cipher::new(&key(1), "store-a");
        let blob = c.seal(Field::RefreshToken, P, &SecretString::from("rt-123"));
        assert_eq!(c.open(Field::RefreshToken, P, &blob, "p").unwrap().expose_secret(), "rt-123");
    }

    #[test]
    fn same_plaintext_gives_different_blobs() {
        let c = Cipher::new(&key(1), "s");
        let s = SecretString::from("x");
        assert_ne!(c.seal(Field::AccessToken, P, &s), c.seal(Field::AccessToken, P, &s));
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let c = Cipher::new(&key(1), "s");
        let blob = c.seal(Field::AccessToken, P, &SecretString::from("token"));
        for i in 0..blob.len() * 8 {
            let mut b = blob.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(c.open(Field::AccessToken, P, &b, "p").is_err(), "bit {i}");
        }
    }

    #[test]
    fn blobs_are_bound_to_their_place() {
        let c = Cipher::new(&key(1), "s");
        let blob = c.seal(Field::RefreshToken, P, &SecretString::from("rt"));
        assert!(c.open(Field::AccessToken, P, &blob, "p").is_err(), "other field");
        assert!(c.open(Field::RefreshToken, Place { profile_id: 2, ..P }, &blob, "p").is_err(), "other row");
        assert!(c.open(Field::RefreshToken, Place { generation: 4, ..P }, &blob, "p").is_err(), "other generation");
        let other_store = Cipher::new(&key(1), "t");
        assert!(other_store.open(Field::RefreshToken, P, &blob, "p").is_err(), "other store");
        let err = c.open(Field::AccessToken, P, &blob, "p").unwrap_err();
        assert_eq!(err.class, crate::error::Class::Store);
    }

    #[test]
    fn key_check_detects_wrong_key() {
        let c1 = Cipher::new(&key(1), "s");
        let c2 = Cipher::new(&key(2), "s");
        let kc = c1.make_key_check();
        assert!(c1.verify_key_check(&kc));
        assert!(!c2.verify_key_check(&kc));
        assert_ne!(c1.key_id(), c2.key_id());
        assert_eq!(c1.key_id().len(), 16);
    }

    #[test]
    fn nonces_do_not_repeat() {
        let c = Cipher::new(&key(1), "s");
        let s = SecretString::from("x");
        let mut seen = HashSet::new();
        for _ in 0..20_000 {
            let b = c.seal(Field::AccessToken, P, &s);
            assert!(seen.insert(b[1..=NONCE_LEN].to_vec()));
        }
    }

    #[test]
    fn cipher_debug_is_redacted() {
        let c = Cipher::new(&key(7), "s");
        let d = format!("{c:?}");
        assert!(d.contains("key_id") && !d.contains("aead"));
    }
}
