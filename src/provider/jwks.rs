//! ID token signatures (TE-10): the JWS is checked against the issuer's published keys
//! (`jwks_uri`), with RS256 or ES256 only. `none`, the HMAC algorithms (which a public client
//! could be tricked into checking with a public key as the secret) and everything else are
//! refused. The signature primitives are ring's, the TLS library's own crypto.
//!
//! The claims (iss, aud, exp, nonce) are checked separately by `token::check_id_token`.

use std::time::Instant;

use base64::Engine as _;
use ring::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::Value;

use super::http::{Http, check_url};
use crate::error::{Error, sanitize_provider_text};

/// Why a signature was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Not three base64url parts with a JSON header.
    Malformed,
    /// An algorithm other than RS256 and ES256.
    Algorithm(String),
    /// No key in the set matches the header's `kid` (or, without one, its key type).
    UnknownKey,
    /// The key is not usable for the algorithm (wrong type, curve or size).
    BadKey,
    /// The signature does not verify.
    BadSignature,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed => f.write_str("it is not a signed JWT"),
            Self::Algorithm(a) => {
                write!(f, "it is signed with {:?}; only RS256 and ES256 are accepted", sanitize_provider_text(a))
            }
            Self::UnknownKey => f.write_str("it is signed with a key the issuer does not publish"),
            Self::BadKey => f.write_str("the issuer's key for it is unusable"),
            Self::BadSignature => f.write_str("its signature does not verify"),
        }
    }
}

fn b64(s: &str) -> Result<Vec<u8>, Rejected> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).map_err(|_| Rejected::Malformed)
}

/// Verifies the JWS signature of `jwt` with a key of the JWK Set `jwks`.
///
/// # Errors
/// The reason it was rejected.
pub fn verify(jwt: &str, jwks: &Value) -> Result<(), Rejected> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(Rejected::Malformed);
    };
    let header: Value = serde_json::from_slice(&b64(h)?).map_err(|_| Rejected::Malformed)?;
    let alg = header["alg"].as_str().ok_or(Rejected::Malformed)?;
    let kty = match alg {
        "RS256" => "RSA",
        "ES256" => "EC",
        other => return Err(Rejected::Algorithm(other.to_owned())),
    };
    let sig = b64(sig)?;
    let keys = jwks["keys"].as_array().map(Vec::as_slice).unwrap_or_default();
    // Keys for signing of the right type; with a `kid` in the header, exactly that key.
    let usable = |k: &&Value| {
        k["kty"] == kty && k["use"].as_str().is_none_or(|u| u == "sig") && k["alg"].as_str().is_none_or(|a| a == alg)
    };
    let key = match header["kid"].as_str() {
        Some(kid) => keys.iter().filter(usable).find(|k| k["kid"] == kid),
        None => {
            let mut candidates = keys.iter().filter(usable);
            match (candidates.next(), candidates.next()) {
                (Some(k), None) => Some(k),
                _ => None,
            }
        }
    }
    .ok_or(Rejected::UnknownKey)?;
    let message = &jwt.as_bytes()[..h.len() + 1 + p.len()];
    let field =
        |name: &str| key[name].as_str().ok_or(Rejected::BadKey).and_then(|v| b64(v).map_err(|_| Rejected::BadKey));
    match alg {
        "RS256" => {
            let (n, e) = (field("n")?, field("e")?);
            RsaPublicKeyComponents { n: &n, e: &e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, &sig)
                .map_err(|_| Rejected::BadSignature)
        }
        _ => {
            if key["crv"] != "P-256" {
                return Err(Rejected::BadKey);
            }
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(Rejected::BadKey);
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
                .verify(message, &sig)
                .map_err(|_| Rejected::BadSignature)
        }
    }
}

/// Fetches the issuer's JWK Set.
///
/// # Errors
/// Exit 4 when it cannot be fetched, exit 2 when it is not a JWK Set.
pub fn fetch(http: &Http, jwks_uri: &str, deadline: Instant) -> Result<Value, Error> {
    let url = check_url("jwks_uri", jwks_uri)?;
    let resp = http.get(&url, deadline).map_err(|e| {
        Error::unavailable(format!("cannot fetch the issuer's signing keys from {url}: {}", e.describe()))
            .hint("check the network and try again; the login stored nothing")
    })?;
    let jwks: Value = (resp.status == 200)
        .then(|| serde_json::from_slice(&resp.body).ok())
        .flatten()
        .filter(|v: &Value| v["keys"].is_array())
        .ok_or_else(|| {
            Error::usage(format!("the issuer's jwks_uri {url} did not return a JWK Set (HTTP {})", resp.status))
                .hint("check the issuer URL; the login stored nothing")
        })?;
    Ok(jwks)
}

/// TE-10: checks the ID token's signature against the keys at `jwks_uri`.
///
/// # Errors
/// Exit 2 when the signature is not accepted; exit 4 when the keys cannot be fetched.
pub fn check_signature(http: &Http, jwks_uri: &str, id_token: &str, deadline: Instant) -> Result<(), Error> {
    let jwks = fetch(http, jwks_uri, deadline)?;
    verify(id_token, &jwks).map_err(|why| {
        Error::usage(format!("the ID token is not valid: {why}"))
            .hint("the login stored nothing; check the issuer URL, or report it to the provider's administrator")
    })
}

/// How long a cached JWK Set is trusted before it is fetched again.
const JWKS_TTL: i64 = 24 * 3600;

/// TE-10 for a refresh: checks the new ID token against the issuer's keys, from the store's cache
/// when it holds a recent copy that verifies it, else fetched again (the issuer may have rotated
/// its keys) and cached. Returns why it was rejected.
///
/// # Errors
/// A one-line reason, for the warning that the refreshed ID token was discarded.
pub fn check_refreshed(
    http: &Http,
    store: &dyn crate::store::TokenStore,
    jwks_uri: &str,
    id_token: &str,
    deadline: Instant,
) -> Result<(), String> {
    let key = format!("jwks {jwks_uri}");
    if let Ok(Some((doc, fetched_at))) = store.cached_document(&key)
        && crate::model::now() - fetched_at < JWKS_TTL
        && let Ok(jwks) = serde_json::from_str::<Value>(&doc)
        && verify(id_token, &jwks).is_ok()
    {
        return Ok(());
    }
    let jwks = fetch(http, jwks_uri, deadline).map_err(|e| e.message)?;
    let _ = store.put_document(&key, &jwks.to_string(), crate::model::now());
    verify(id_token, &jwks).map_err(|why| why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use serde_json::json;

    fn enc(b: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }

    /// A P-256 key pair and its public JWK.
    fn es256_key(kid: &str) -> (EcdsaKeyPair, Value) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let public = pair.public_key().as_ref();
        let jwk = json!({ "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
            "x": enc(&public[1..33]), "y": enc(&public[33..65]) });
        (pair, jwk)
    }

    fn sign(pair: &EcdsaKeyPair, header: &Value) -> String {
        let input = format!("{}.{}", enc(header.to_string().as_bytes()), enc(br#"{"sub":"u"}"#));
        let sig = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", enc(sig.as_ref()))
    }

    #[test]
    fn es256_verifies_and_everything_else_is_refused() {
        let (pair, jwk) = es256_key("k1");
        let (other, other_jwk) = es256_key("k2");
        let jwks = json!({ "keys": [jwk.clone(), other_jwk] });
        let good = sign(&pair, &json!({ "alg": "ES256", "kid": "k1" }));
        assert_eq!(verify(&good, &jwks), Ok(()));
        // A different key under the same kid.
        assert_eq!(verify(&sign(&other, &json!({ "alg": "ES256", "kid": "k1" })), &jwks), Err(Rejected::BadSignature));
        // A kid the issuer does not publish.
        assert_eq!(verify(&sign(&pair, &json!({ "alg": "ES256", "kid": "k9" })), &jwks), Err(Rejected::UnknownKey));
        // No kid: only a single candidate key is acceptable.
        assert_eq!(verify(&sign(&pair, &json!({ "alg": "ES256" })), &jwks), Err(Rejected::UnknownKey));
        assert_eq!(verify(&sign(&pair, &json!({ "alg": "ES256" })), &json!({ "keys": [jwk] })), Ok(()));
        // A flipped bit in the payload.
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = enc(br#"{"sub":"v"}"#);
        assert_eq!(verify(&parts.join("."), &jwks), Err(Rejected::BadSignature));
        // none, HS256 and a stripped signature.
        for alg in ["none", "HS256", "RS512"] {
            let t = sign(&pair, &json!({ "alg": alg, "kid": "k1" }));
            assert_eq!(verify(&t, &jwks), Err(Rejected::Algorithm(alg.into())));
        }
        let stripped = format!("{}.", good.rsplit_once('.').unwrap().0);
        assert_eq!(verify(&stripped, &jwks), Err(Rejected::BadSignature));
        assert_eq!(verify("a.b", &jwks), Err(Rejected::Malformed));
        assert_eq!(verify(&good, &json!({})), Err(Rejected::UnknownKey));
    }

    #[test]
    fn a_key_of_the_wrong_type_or_curve_is_not_used() {
        let (pair, mut jwk) = es256_key("k1");
        let t = sign(&pair, &json!({ "alg": "ES256", "kid": "k1" }));
        jwk["crv"] = json!("P-384");
        assert_eq!(verify(&t, &json!({ "keys": [jwk.clone()] })), Err(Rejected::BadKey));
        jwk["crv"] = json!("P-256");
        jwk["kty"] = json!("RSA");
        assert_eq!(verify(&t, &json!({ "keys": [jwk.clone()] })), Err(Rejected::UnknownKey));
        jwk["kty"] = json!("EC");
        jwk["use"] = json!("enc");
        assert_eq!(verify(&t, &json!({ "keys": [jwk] })), Err(Rejected::UnknownKey));
    }
}
