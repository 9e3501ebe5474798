//! Links GCC's unwinder statically on Linux/glibc, as `gcc -static-libgcc` does for C++.
//!
//! std asks the linker for `-lgcc_s`, so every tokcli process would load libgcc_s.so.1, whose
//! constructor probes the CPU with CPUID. Under a hypervisor each CPUID traps (about 4 µs on the
//! benchmark machine), and loading the library costs about 0.1 ms in all, which is a twentieth of
//! a cached `tokcli token`, the call scripts make in `$(…)`. The same unwinder ships as the
//! static archive libgcc_eh.a; putting a copy named libgcc_s.a first on the library path makes
//! the linker take it instead. Panics unwind exactly as before (the test suite exercises it).
//!
//! Nothing changes when the archive is not found, on other targets, for fully static builds, or
//! when `TOKCLI_SHARED_LIBGCC=1` is set.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TOKCLI_SHARED_LIBGCC");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let static_crt = var("CARGO_CFG_TARGET_FEATURE").split(',').any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || static_crt
        || var("TOKCLI_SHARED_LIBGCC") == "1"
    {
        return;
    }
    let linker = std::env::var("RUSTC_LINKER").unwrap_or_else(|_| String::from("cc"));
    let Ok(out) = Command::new(&linker).arg("-print-file-name=libgcc_eh.a").output() else {
        return;
    };
    let archive = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    // An unknown file name is echoed back bare, not as a path.
    if !out.status.success() || !archive.is_absolute() || !archive.is_file() {
        return;
    }
    let dir = PathBuf::from(var("OUT_DIR")).join("static-libgcc");
    if std::fs::create_dir_all(&dir).is_err() || std::fs::copy(&archive, dir.join("libgcc_s.a")).is_err() {
        return;
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
}
