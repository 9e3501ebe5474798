//! Test-only pause and fault points (SECURITY-RELIABILITY §0.3.4). Compiled to nothing unless the
//! `test-hooks` feature is on, which release builds never enable.
//!
//! `TOKCLI_TEST_FAULT=<point>` aborts the process at that point (a `kill -9` stand-in);
//! `TOKCLI_TEST_PAUSE_AT=<point>` blocks until the file named by `TOKCLI_TEST_PAUSE_FILE` exists.

/// Marks a named point on a critical path.
#[cfg(feature = "test-hooks")]
pub fn point(name: &str) {
    if std::env::var("TOKCLI_TEST_FAULT").is_ok_and(|v| v == name) {
        std::process::abort();
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
