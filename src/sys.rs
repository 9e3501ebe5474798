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

/// The real uid of this process.
#[must_use]
pub fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}
