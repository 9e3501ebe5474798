//! Test-only pause, fault and panic points (SECURITY-RELIABILITY §0.3.4). Compiled to nothing
//! unless the `test-hooks` feature is on, which release builds never enable.
//!
//! - `TOKCLI_TEST_FAULT=<point>` aborts the process at that point (a `kill -9` stand-in);
//! - `TOKCLI_TEST_PANIC=<point>` panics there, so the canary sweep (PH-01) can check that a panic
//!   report carries no secret even when secrets are in memory;
//! - `TOKCLI_TEST_PAUSE_AT=<point>` blocks until the file named by `TOKCLI_TEST_PAUSE_FILE`
//!   exists, after creating `<that file>.reached`;
//! - `TOKCLI_TEST_IO_ERROR=<point>` makes an [`io_point`] fail, as a failing fsync would;
//! - `TOKCLI_TEST_FS_MAGIC=<hex>` stands in for the `statfs` type of the data directory (CC-06).
//!
//! Points: `refresh:after_response`, `refresh:before_commit`, `refresh:after_commit`,
//! `login:before_store`, `revoke:after_response`, `rekey:after_keyring_write`, `rekey:after_commit`;
//! I/O points: `store:flush`.

/// Marks a named point on a critical path.
#[cfg(feature = "test-hooks")]
pub fn point(name: &str) {
    if std::env::var("TOKCLI_TEST_FAULT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
    if std::env::var("TOKCLI_TEST_PANIC").is_ok_and(|v| v == name) {
        panic!("test-hooks: forced panic at {name}");
    }
    if std::env::var("TOKCLI_TEST_PAUSE_AT").is_ok_and(|v| v == name)
        && let Some(file) = std::env::var_os("TOKCLI_TEST_PAUSE_FILE")
    {
        let _ = std::fs::write(format!("{}.reached", std::path::Path::new(&file).display()), b"");
        while !std::path::Path::new(&file).exists() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Marks a named point on a critical path (no-op without the `test-hooks` feature).
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn point(_name: &str) {}

/// Marks a named I/O step that a test can make fail.
///
/// # Errors
/// The forced error, when `TOKCLI_TEST_IO_ERROR` names this point.
#[cfg(feature = "test-hooks")]
pub fn io_point(name: &str) -> std::io::Result<()> {
    if std::env::var("TOKCLI_TEST_IO_ERROR").is_ok_and(|v| v == name) {
        return Err(std::io::Error::other(format!("test-hooks: forced I/O error at {name}")));
    }
    Ok(())
}

/// Marks a named I/O step that a test can make fail (always succeeds without `test-hooks`).
///
/// # Errors
/// Never.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn io_point(_name: &str) -> std::io::Result<()> {
    Ok(())
}

/// The filesystem type `TOKCLI_TEST_FS_MAGIC` stands in for (CC-06), if set.
#[cfg(feature = "test-hooks")]
#[must_use]
pub fn fs_magic() -> Option<u64> {
    std::env::var("TOKCLI_TEST_FS_MAGIC").ok().and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
}

/// No stand-in without `test-hooks`.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
#[must_use]
pub fn fs_magic() -> Option<u64> {
    None
}
