//! User-facing error classes, their exit codes and hints (DESIGN.md §3).
//!
//! Adapters raise a typed [`Error`] where the failure starts; commands add context with
//! `anyhow::Context`. `main.rs` finds the innermost [`Error`] in the chain to pick the exit code
//! and the `hint:` line. Nothing here may format a secret: messages are built from names, URLs and
//! sanitized provider text only.

use std::fmt;

/// The documented exit codes. Scripts rely on these numbers; never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// 1: a bug.
    Internal,
    /// 2: usage or configuration error (bad flag, unknown provider, invalid_client, metadata mismatch).
    Usage,
    /// 3: log in again (no such profile, invalid_grant, needs-login, `--no-refresh` on a stale token).
    Relogin,
    /// 4: provider unavailable; try later, nothing stored changed.
    Unavailable,
    /// 5: local store problem.
    Store,
    /// 6: key unavailable.
    Key,
    /// 7: login not completed.
    LoginIncomplete,
    /// 130: interrupted.
    Interrupted,
}

impl Class {
    #[must_use]
    pub fn exit_code(self) -> i32 {
        match self {
            Class::Internal => 1,
            Class::Usage => 2,
            Class::Relogin => 3,
            Class::Unavailable => 4,
            Class::Store => 5,
            Class::Key => 6,
            Class::LoginIncomplete => 7,
            Class::Interrupted => 130,
        }
    }
}

/// A classified, user-facing error. `message` is one line; `hint` says what to do next.
#[derive(Debug, Clone)]
pub struct Error {
    pub class: Class,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(class: Class, message: impl Into<String>) -> Self {
        Self { class, message: message.into(), hint: None }
    }
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn usage(m: impl Into<String>) -> Self {
        Self::new(Class::Usage, m)
    }
    pub fn relogin(m: impl Into<String>) -> Self {
        Self::new(Class::Relogin, m)
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        Self::new(Class::Unavailable, m)
    }
    pub fn store(m: impl Into<String>) -> Self {
        Self::new(Class::Store, m)
    }
    pub fn key(m: impl Into<String>) -> Self {
        Self::new(Class::Key, m)
    }
    pub fn login(m: impl Into<String>) -> Self {
        Self::new(Class::LoginIncomplete, m)
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(Class::Internal, m)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Finds the classified error in an anyhow chain (outermost first).
#[must_use]
pub fn classify(err: &anyhow::Error) -> (Class, Option<String>) {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return (e.class, e.hint.clone());
        }
    }
    (Class::Internal, Some("this is a bug in tokcli; please report it with the output of `tokcli -v …`".into()))
}

/// The exit-code table, shown in `--help` and the man page.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success
  1    internal error (a bug)
  2    usage or configuration error (unknown provider, bad flag, invalid_client, metadata mismatch)
  3    log in again (no such profile, invalid_grant, needs re-login, --no-refresh with a stale token)
  4    provider unavailable (network, timeout, 5xx/429 after retries): try later, nothing stored changed
  5    local store problem (corrupt, newer schema, read-only, disk full, lock timeout, integrity failure)
  6    key unavailable (keyring locked or absent, wrong key, no key source on a headless machine)
  7    login not completed (access_denied, timeout, state or iss mismatch, port busy)
  130  interrupted";

/// Keeps only the characters RFC 6749 §5.2 allows in `error_description` (%x20-21 / %x23-5B /
/// %x5D-7E), which also drops every escape sequence, and truncates to 300 characters (TE-09).
#[must_use]
pub fn sanitize_provider_text(s: &str) -> String {
    let mut out: String =
        s.chars().filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)).take(300).collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_escapes_and_quotes() {
        let s = sanitize_provider_text("bad\x1b]52;c;SGVsbG8=\x07 \"grant\"\r\n\\x");
        assert!(!s.contains('\x1b'));
        assert!(!s.contains('"'));
        assert!(!s.contains('\\'));
        assert!(!s.contains('\n'));
        assert_eq!(s, "bad]52;c;SGVsbG8= grantx");
    }

    #[test]
    fn sanitize_truncates() {
        let long = "a".repeat(1000);
        assert_eq!(sanitize_provider_text(&long).chars().count(), 301);
    }

    #[test]
    fn exit_codes_match_design() {
        let table = [
            (Class::Internal, 1),
            (Class::Usage, 2),
            (Class::Relogin, 3),
            (Class::Unavailable, 4),
            (Class::Store, 5),
            (Class::Key, 6),
            (Class::LoginIncomplete, 7),
            (Class::Interrupted, 130),
        ];
        for (c, code) in table {
            assert_eq!(c.exit_code(), code);
            assert!(EXIT_CODES_HELP.contains(&format!("  {code} ")));
        }
    }

    #[test]
    fn classify_finds_inner_error() {
        let e = anyhow::Error::new(Error::relogin("x").hint("login")).context("outer");
        assert_eq!(classify(&e), (Class::Relogin, Some("login".into())));
        let plain = anyhow::anyhow!("boom");
        assert_eq!(classify(&plain).0, Class::Internal);
    }
}
