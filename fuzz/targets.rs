//! The bodies of tokcli's fuzz targets, shared by cargo-fuzz (`fuzz/fuzz_targets/*.rs`, nightly)
//! and the bounded stable-Rust run in `tests/it/security.rs` (CI). Each target checks invariants,
//! not only "no panic": a callback is accepted only with the right `state`, a parsed token is
//! safe to put in a header, discovered endpoints are https (or loopback http), and a sealed
//! blob opens only unaltered and in its own place.
#![allow(dead_code, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::sync::OnceLock;

use tokcli::loopback::{Expect, Verdict, check_callback, parse_query};
use tokcli::model::{ExposeSecret as _, SecretString, is_safe_token};
use tokcli::provider::http::{Response, check_url};
use tokcli::provider::spec_from_document;
use tokcli::provider::token::parse_token_response;
use tokcli::store::crypto::{Cipher, Field, Place};

/// The `state` the fuzzed callbacks are checked against (the seeds use it).
pub const STATE: &str = "fuzz-state-0123456789";
/// The issuer the fuzzed callbacks and discovery documents are checked against.
pub const ISSUER: &str = "https://as.example";
/// A loopback issuer, for which plain http is allowed.
pub const LOOPBACK_ISSUER: &str = "http://127.0.0.1:8080";

fn no_control_chars(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\n')
}

/// `loopback::parse_query` then `loopback::check_callback` (CB-01..CB-07). The first byte picks
/// whether the AS promises `iss`.
pub fn callback_query(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(query) = std::str::from_utf8(rest) else { return };
    let Some(params) = parse_query(query) else {
        // Rejected only for a repeated parameter.
        let mut seen = std::collections::HashSet::new();
        let dup = url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| !seen.insert(k.into_owned()));
        assert!(dup, "parse_query refused a query without repeated parameters: {query:?}");
        return;
    };
    let state = SecretString::from(STATE);
    let expect = Expect { state: &state, issuer: Some(ISSUER), iss_required: mode & 1 == 1 };
    let state_ok = params.get("state").is_some_and(|s| s == STATE);
    match check_callback(&params, &expect) {
        Verdict::Code(code) => {
            assert!(state_ok, "a code was accepted without the right state: {query:?}");
            assert!(!code.expose_secret().is_empty());
            assert_eq!(code.expose_secret(), params["code"]);
            assert!(!params.contains_key("error"), "a code was accepted next to an error: {query:?}");
            match params.get("iss") {
                Some(iss) => assert_eq!(iss, ISSUER, "a code was accepted from another issuer"),
                None => assert!(mode & 1 == 0, "a code was accepted without the promised iss"),
            }
        }
        Verdict::Fail(e) => {
            assert!(state_ok, "a callback without the right state ended the login: {query:?}");
            assert!(no_control_chars(&e.message), "control characters in {:?}", e.message);
            assert!(e.message.len() < 1500, "unbounded error message");
        }
        Verdict::Ignore(_) => {
            assert!(!state_ok || !params.contains_key("code") || params["code"].is_empty());
        }
    }
}

/// `provider::token::parse_token_response` (TE-03..TE-09). The first byte picks the status and
/// content type; the rest is the body.
pub fn token_response(data: &[u8]) {
    const STATUS: [u16; 8] = [200, 200, 400, 401, 429, 500, 503, 302];
    const TYPES: [&str; 5] =
        ["application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/html", ""];
    let Some((&sel, body)) = data.split_first() else { return };
    let status = STATUS[usize::from(sel & 7)];
    let content_type = TYPES[usize::from(sel >> 3) % TYPES.len()].to_owned();
    let resp = Response { status, content_type, body: body.to_vec().into(), retry_after: None, location: None };
    let sent_at = 1_700_000_000;
    match parse_token_response(&resp, sent_at) {
        Ok(ts) => {
            assert_eq!(status, 200, "a token was accepted from HTTP {status}");
            let at = ts.access_token.expose_secret();
            assert!(!at.is_empty() && is_safe_token(at), "unsafe access token accepted: {at:?}");
            if let Some(rt) = &ts.refresh_token {
                assert!(is_safe_token(rt.expose_secret()), "unsafe refresh token accepted");
            }
            assert_eq!(ts.token_type, "Bearer");
            assert!(ts.expires_at > sent_at, "a token that expires before it was requested");
            assert_eq!(ts.obtained_at, sent_at);
        }
        Err(e) => {
            let e = e.into_error("fuzz", "p");
            assert!(no_control_chars(&e.message), "control characters in {:?}", e.message);
            assert!(e.message.len() < 2000, "unbounded error message ({} bytes)", e.message.len());
        }
    }
}

/// `provider::spec_from_document` (MD-01..MD-03), against an https and a loopback issuer.
pub fn discovery_document(data: &[u8]) {
    let Ok(doc) = std::str::from_utf8(data) else { return };
    for issuer in [ISSUER, LOOPBACK_ISSUER] {
        match spec_from_document(issuer, "fuzz", doc) {
            Ok(spec) => {
                assert_eq!(spec.issuer.as_deref(), Some(issuer), "issuer mismatch accepted");
                let endpoints = [
                    Some(&spec.token_endpoint),
                    spec.authorization_endpoint.as_ref(),
                    spec.revocation_endpoint.as_ref(),
                    spec.device_endpoint.as_ref(),
                ];
                for e in endpoints.into_iter().flatten() {
                    let u = check_url("endpoint", e).unwrap_or_else(|_| panic!("unchecked endpoint {e:?} accepted"));
                    let loopback = match u.host() {
                        Some(url::Host::Ipv4(ip)) => ip.octets()[0] == 127,
                        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
                        Some(url::Host::Domain(d)) => d == "localhost",
                        None => false,
                    };
                    assert!(u.scheme() == "https" || (u.scheme() == "http" && loopback), "insecure endpoint {e:?}");
                }
            }
            Err(e) => {
                let known = CHECK_URL_ECHOES_RAW
                    && (e.message.starts_with("refusing plain-http") || e.message.contains("uses unsupported scheme"));
                assert!(known || no_control_chars(&e.message), "control characters in {:?}", e.message);
            }
        }
    }
}

/// Known gap, found by this target: two messages of `provider::http::check_url` echo the raw URL
/// from the metadata with `{raw}` instead of `{raw:?}`, so a hostile document can put control
/// characters (terminal escapes) on stderr. Set to `false` once they are sanitized; the ignored
/// test `security::discovery_errors_carry_no_control_characters` reproduces it.
pub const CHECK_URL_ECHOES_RAW: bool = false;

fn cipher() -> &'static Cipher {
    static C: OnceLock<Cipher> = OnceLock::new();
    C.get_or_init(|| Cipher::new(&secrecy_key(), "fuzz-store"))
}

fn secrecy_key() -> tokcli::store::crypto::StoreKey {
    tokcli::store::keys::decode_key(&"07".repeat(32)).unwrap()
}

const FIELDS: [Field; 4] = [Field::AccessToken, Field::RefreshToken, Field::IdToken, Field::ClientSecret];

/// `Cipher::open` on arbitrary blobs (SC-01, SC-02): it never panics and never opens a blob it
/// did not seal; a blob it sealed opens only unaltered, in the same field, row and generation.
pub fn sealed_blob(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else { return };
    let c = cipher();
    let field = FIELDS[usize::from(sel & 3)];
    let place = Place { profile_id: i64::from(sel >> 2), generation: i64::from(sel >> 4) + 1 };
    // 1. Arbitrary bytes as a blob: an error, never a panic (forging one is infeasible).
    assert!(c.open(field, place, rest, "p").is_err(), "an unsealed blob opened");
    // 2. The bytes as a secret: sealed, then every alteration of the blob is detected.
    let text = String::from_utf8_lossy(rest).into_owned();
    let blob = c.seal(field, place, &SecretString::from(text.clone()));
    assert_eq!(c.open(field, place, &blob, "p").unwrap().expose_secret(), text);
    let bit = rest.iter().fold(usize::from(sel), |a, b| a.wrapping_mul(31).wrapping_add(usize::from(*b)));
    let mut flipped = blob.clone();
    flipped[(bit / 8) % blob.len()] ^= 1 << (bit % 8);
    assert!(c.open(field, place, &flipped, "p").is_err(), "a bit flip went unnoticed");
    assert!(c.open(field, place, &blob[..blob.len() - 1], "p").is_err(), "a truncated blob opened");
    let other = FIELDS[usize::from(sel.wrapping_add(1) & 3)];
    assert!(c.open(other, place, &blob, "p").is_err(), "a blob opened in another field");
    let next = Place { generation: place.generation + 1, ..place };
    assert!(c.open(field, next, &blob, "p").is_err(), "a blob opened in another generation");
}

/// `provider::jwks::verify` (TE-10) on a JWK Set and a JWT, split at the first newline. It never
/// panics, and it accepts only RS256 or ES256 with a key of the set: a token it accepts names one
/// of those algorithms, and the set holds a key of the matching type.
pub fn id_token_signature(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some((jwks, jwt)) = text.split_once('\n') else { return };
    let Ok(jwks) = serde_json::from_str::<serde_json::Value>(jwks) else { return };
    if tokcli::provider::jwks::verify(jwt, &jwks).is_ok() {
        use base64::Engine as _;
        let header = jwt.split('.').next().unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        let kty = match header["alg"].as_str() {
            Some("RS256") => "RSA",
            Some("ES256") => "EC",
            other => panic!("accepted alg {other:?}"),
        };
        assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["kty"] == kty), "accepted without a {kty} key");
    }
}
