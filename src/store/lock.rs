//! The per-profile cross-process lock (CC-01, CC-07).
//!
//! An exclusive OS advisory lock (`flock` on Unix, `LockFileEx` on Windows, through
//! `std::fs::File::lock`) on a dedicated file `<data>/locks/<profile>.lock`, never on the
//! database file. The OS drops the lock when the holder exits, so a killed process never wedges
//! a profile. The wait is bounded by the command's deadline.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use crate::error::Error;

/// Held while a profile's grant is read, spent and replaced. Dropping it releases the lock.
#[derive(Debug)]
pub struct ProfileLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the exclusive lock on `path`, waiting until `deadline`.
///
/// The blocking `lock()` runs on a helper thread so the wait wakes exactly when the lock is
/// released instead of polling; if the deadline passes first, the helper's late lock is dropped
/// (and so released) as soon as it is acquired.
///
/// # Errors
/// Exit 5 "another tokcli is refreshing NAME" on timeout; exit 5 when the lock file cannot be opened.
pub fn acquire(path: &Path, what: &str, deadline: Instant) -> Result<ProfileLock, Error> {
    let file = open_lock_file(path)?;
    match file.try_lock() {
        Ok(()) => return Ok(ProfileLock { _file: file, path: path.to_owned() }),
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(e)) => return Err(lock_io_error(path, &e)),
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = file.lock().map(|()| file);
        let _ = tx.send(r);
    });
    let wait = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(wait) {
        Ok(Ok(file)) => Ok(ProfileLock { _file: file, path: path.to_owned() }),
        Ok(Err(e)) => Err(lock_io_error(path, &e)),
        Err(_) => {
            Err(Error::store(format!("another tokcli is refreshing {what} and still holds its lock")).hint(format!(
                "retry later, or raise --timeout; the lock is {} and is released when that process exits",
                path.display()
            )))
        }
    }
}

fn open_lock_file(path: &Path) -> Result<File, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| lock_io_error(path, &e))
}

fn lock_io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::store(format!("cannot open the lock file {}: {e}", path.display()))
        .hint("check that the tokcli data directory is writable (a read-only home cannot refresh tokens)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn second_holder_waits_then_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.lock");
        let held = acquire(&p, "a", Instant::now() + Duration::from_secs(1)).unwrap();
        let t = Instant::now();
        let err = acquire(&p, "a", Instant::now() + Duration::from_millis(200)).unwrap_err();
        assert!(t.elapsed() >= Duration::from_millis(190));
        assert!(err.message.contains("another tokcli is refreshing a"));
        drop(held);
        acquire(&p, "a", Instant::now() + Duration::from_millis(500)).unwrap();
    }

    #[test]
    fn waiter_gets_lock_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.lock");
        let held = acquire(&p, "b", Instant::now() + Duration::from_secs(1)).unwrap();
        let p2 = p.clone();
        let h = std::thread::spawn(move || acquire(&p2, "b", Instant::now() + Duration::from_secs(5)).is_ok());
        std::thread::sleep(Duration::from_millis(100));
        drop(held);
        assert!(h.join().unwrap());
    }
}
