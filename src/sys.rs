//! The few operating-system calls std does not wrap: the process umask, disabling core dumps and
//! same-user ptrace (PH-05), and the current uid. All `unsafe` in tokcli lives here.
#![allow(unsafe_code)]

/// Sets umask 077 so every file and directory tokcli creates is private (SC-05).
pub fn private_umask() {
    // SAFETY: umask only changes this process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Makes the process non-dumpable: no core dumps, and same-uid processes cannot ptrace it or read
/// its memory through /proc (PH-05). Fails open: returns false if the kernel refused.
pub fn disable_dumps() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_DUMPABLE takes plain integer arguments and touches no memory of ours.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Does the start-up work std's runtime would do before `main`, which tokcli skips (see main.rs):
/// file descriptors 0-2 are opened on /dev/null if the parent closed them, so a database or lock
/// file can never become "stdout" and receive a token; and SIGPIPE is ignored, so a closed pipe is
/// an EPIPE error (exit 0, see `BrokenPipe`) rather than a kill. Children get SIGPIPE back by
/// default: std's `Command` resets it before exec.
pub fn runtime_init() {
    for fd in 0..=2 {
        // SAFETY: fcntl(F_GETFD) only queries the descriptor.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
        if closed {
            let flags = if fd == 0 { libc::O_RDONLY } else { libc::O_WRONLY };
            // SAFETY: open() takes a static C string. The lowest free descriptor is `fd` itself,
            // since the lower ones are open by now.
            if unsafe { libc::open(c"/dev/null".as_ptr(), flags) } == -1 {
                std::process::abort();
            }
        }
    }
    // SAFETY: setting SIGPIPE's disposition to SIG_IGN touches no memory of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// The real uid of this process.
#[must_use]
pub fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Refreshes in flight whose outcome must be committed before the process may stop (CR-04).
static CRITICAL: AtomicUsize = AtomicUsize::new(0);
/// A SIGINT/SIGTERM arrived during a critical section and was deferred.
static PENDING: AtomicBool = AtomicBool::new(false);
/// Outside critical sections a signal ends the process with exit 130 (unless `exec` forwards it).
static EXIT_ON_SIGNAL: AtomicBool = AtomicBool::new(true);

extern "C" fn on_signal(_sig: libc::c_int) {
    if CRITICAL.load(Ordering::SeqCst) > 0 {
        if PENDING.swap(true, Ordering::SeqCst) {
            const MSG: &[u8] =
                b"tokcli: warning: interrupted twice during a refresh; the rotated refresh token may be lost\n";
            // SAFETY: write(2) and _exit(2) are async-signal-safe; MSG is a static buffer.
            unsafe {
                libc::write(2, MSG.as_ptr().cast(), MSG.len());
                libc::_exit(130);
            }
        }
        return;
    }
    if EXIT_ON_SIGNAL.load(Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe. The OS closes the loopback socket and releases the
        // profile locks; SQLite rolls back anything uncommitted on the next open.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the SIGINT/SIGTERM handler: exit 130 at once, except inside [`critical`] sections,
/// where the first signal is deferred until the refreshed grant is committed (CR-04).
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a plain handler and an empty mask is valid; the handler
        // only touches atomics and async-signal-safe calls.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Lets another handler (e.g. `exec` forwarding signals to its child) own SIGINT/SIGTERM outside
/// critical sections.
pub fn set_exit_on_signal(exit: bool) {
    EXIT_ON_SIGNAL.store(exit, Ordering::SeqCst);
}

/// Marks a section that must not be cut short by the first Ctrl-C: from sending a refresh request
/// until its outcome is stored. Dropping the guard ends it.
#[must_use]
pub fn critical() -> Critical {
    CRITICAL.fetch_add(1, Ordering::SeqCst);
    Critical(())
}

/// Guard returned by [`critical`].
#[derive(Debug)]
pub struct Critical(());

impl Drop for Critical {
    fn drop(&mut self) {
        CRITICAL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// True when a signal was deferred: the caller should finish cleanly and exit 130.
#[must_use]
pub fn interrupted() -> bool {
    PENDING.load(Ordering::SeqCst)
}
