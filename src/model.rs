//! Domain types shared by every layer: secrets, profile names, token sets, durations and the
//! refresh rule. Pure logic only: no I/O, no printing.

use std::time::Duration;

use base64::Engine as _;
pub use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Builds a redacted, zeroize-on-drop secret.
#[must_use]
pub fn secret(s: impl Into<String>) -> SecretString {
    SecretString::from(s.into())
}

/// A short, non-reversible fingerprint for diagnostics: the first 8 hex digits of SHA-256.
#[must_use]
pub fn fingerprint(s: &SecretString) -> String {
    let d = Sha256::digest(s.expose_secret().as_bytes());
    d.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// A profile name: 1-64 chars of `[A-Za-z0-9._@-]`, not starting with `.` or `-`.
/// It is used in lock-file names, so the charset is deliberately small.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProfileName(String);

impl ProfileName {
    /// # Errors
    /// A usage error naming the allowed characters.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && !s.starts_with(['.', '-'])
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::usage(format!("invalid profile name {s:?}"))
                .hint("use 1-64 letters, digits, '.', '_', '-' or '@', not starting with '.' or '-'"))
        }
    }
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProfileName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The secrets of one grant. Debug output is redacted by `SecretString`.
#[derive(Debug, Default)]
pub struct Secrets {
    pub access_token: Option<SecretString>,
    pub refresh_token: Option<SecretString>,
    pub id_token: Option<SecretString>,
    pub client_secret: Option<SecretString>,
}

/// A validated token response (TE-03..TE-07).
#[derive(Debug)]
pub struct TokenSet {
    pub access_token: SecretString,
    pub token_type: String,
    pub refresh_token: Option<SecretString>,
    pub id_token: Option<SecretString>,
    pub scope: Option<String>,
    /// Unix seconds; computed from the time the request was sent (TE-04).
    pub expires_at: i64,
    /// Unix seconds at which the request was sent.
    pub obtained_at: i64,
}

/// Current Unix time in seconds.
#[must_use]
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Default minimum validity: 5 minutes, or half the token's lifetime when that is shorter, so
/// 5-minute tokens are not refreshed on every call (RF-01).
#[must_use]
pub fn default_min_valid(lifetime_secs: i64) -> i64 {
    300.min(lifetime_secs.max(0) / 2)
}

/// True when the cached token must be refreshed before it is handed out (RF-01).
/// `min_valid`: the explicit value, used exactly as given; `None` applies [`default_min_valid`].
#[must_use]
pub fn needs_refresh(expires_at: i64, obtained_at: i64, now: i64, min_valid: Option<i64>) -> bool {
    let min = min_valid.unwrap_or_else(|| default_min_valid(expires_at - obtained_at));
    expires_at - now < min
}

/// Parses `90s`, `15m`, `2h`, `1d`, `500ms` or a bare number of seconds.
///
/// # Errors
/// A usage error with the accepted forms.
pub fn parse_duration(s: &str) -> Result<Duration, Error> {
    let bad =
        || Error::usage(format!("invalid duration {s:?}")).hint("use a number with a unit, e.g. 90s, 15m, 2h, 1d");
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => return Ok(Duration::from_millis(n)),
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

/// Formats a number of seconds for people: `59m`, `2h3m`, `45s`, `expired`.
#[must_use]
pub fn human_secs(secs: i64) -> String {
    if secs <= 0 {
        return "expired".into();
    }
    let (d, h, m, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

/// Decodes the claims of a JWT *without verifying it*. Used only for display (account name) and
/// for the claim checks of TE-10; never for a trust decision on its own.
#[must_use]
pub fn jwt_claims(jwt: &str) -> Option<serde_json::Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// RFC 6749 App. A.12 VSCHAR without space, at most 64 KiB (TE-06): safe to paste into a header.
#[must_use]
pub fn is_safe_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 65_536 && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "h", "1x", "-5s", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refresh_rule() {
        // one-hour token, default min_valid = 5 min
        assert!(!needs_refresh(3600, 0, 3000, None));
        assert!(needs_refresh(3600, 0, 3301, None));
        // five-minute token: half the lifetime (150 s), not refreshed on every call
        assert!(!needs_refresh(300, 0, 100, None));
        assert!(needs_refresh(300, 0, 151, None));
        // explicit min_valid used exactly as given
        assert!(needs_refresh(3600, 0, 0, Some(7200)));
        assert!(!needs_refresh(3600, 0, 3500, Some(90)));
        assert!(needs_refresh(3600, 0, 3511, Some(90)));
        // expired
        assert!(!needs_refresh(100, 0, 100, Some(0)));
        assert!(needs_refresh(100, 0, 101, Some(0)));
    }

    #[test]
    fn token_charset() {
        assert!(is_safe_token("abc.DEF-_~+/="));
        assert!(!is_safe_token("abc def"));
        assert!(!is_safe_token("abc\r\nX-Evil: 1"));
        assert!(!is_safe_token(""));
        assert!(!is_safe_token("é"));
        assert!(!is_safe_token(&"a".repeat(65_537)));
    }

    #[test]
    fn profile_names() {
        assert!(ProfileName::parse("work").is_ok());
        assert!(ProfileName::parse("alice@github.com").is_ok());
        for bad in ["", ".x", "-x", "a/b", "a b", "../x", &"a".repeat(65)] {
            assert!(ProfileName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let s = Secrets { access_token: Some(secret("CANARY-abc")), ..Secrets::default() };
        assert!(!format!("{s:?}").contains("CANARY"));
        assert_eq!(fingerprint(&secret("x")).len(), 8);
    }

    #[test]
    fn human() {
        assert_eq!(human_secs(3540), "59m");
        assert_eq!(human_secs(45), "45s");
        assert_eq!(human_secs(7380), "2h3m");
        assert_eq!(human_secs(0), "expired");
    }

    #[test]
    fn jwt() {
        let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"u1"}"#);
        let c = jwt_claims(&format!("h.{p}.s")).unwrap();
        assert_eq!(c["sub"], "u1");
        assert!(jwt_claims("nodots").is_none());
    }
}
