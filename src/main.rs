//! The thin binary: parse, run, map the error to an exit code.
//!
//! `tokcli token` is the hot path scripts call in `$(…)`, so the binary enters through a C `main`
//! instead of std's runtime start-up. That start-up reads /proc/self/maps and sets up a signal
//! stack to report main-thread stack overflows, about 0.1 ms here, a twentieth of a whole
//! `tokcli token`. What it does that matters is done by [`tokcli::sys::runtime_init`]; a stack
//! overflow still stops the process (SIGSEGV on the guard page), only without the message.
// A test build (`cargo test --all-targets` builds this file too) keeps the harness's own main.
#![cfg_attr(not(test), no_main)]

use tokcli::error::{Class, classify};
use tokcli::output::{BrokenPipe, Printer};

// SAFETY: the symbol `main` is not defined anywhere else in the binary: `#![no_main]` stops std
// from emitting its own. glibc calls it once with the process arguments, which std has already
// captured for `std::env::args_os` (it reads them in an ELF constructor).
#[cfg(not(test))]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    run()
}

#[cfg_attr(test, allow(dead_code))]
fn run() -> ! {
    tokcli::sys::runtime_init();
    tokcli::sys::private_umask();
    tokcli::sys::disable_dumps();
    tokcli::sys::install_signal_handlers();
    // A panic is a bug: exit 1 as documented, not Rust's 101. Panic messages never carry secrets
    // (secrets are SecretString, whose Debug is redacted).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        std::process::exit(1);
    }));
    let cli = tokcli::cli::Cli::parse_args();
    let printer = Printer::new(cli.quiet, cli.verbose, cli.color);
    let code = match tokcli::commands::run(cli, printer.clone()) {
        Ok(()) => 0,
        Err(e) if e.downcast_ref::<BrokenPipe>().is_some() => 0,
        Err(e) => {
            let (class, hint) = classify(&e);
            let mut chain = e.chain().map(ToString::to_string);
            let top = chain.next().unwrap_or_default();
            let causes: Vec<String> = chain.collect();
            printer.error(&top, &causes, hint.as_deref());
            if class == Class::Internal {
                printer.debug(1, &format!("{e:?}"));
            }
            class.exit_code()
        }
    };
    // A signal deferred during a refresh (CR-04) ends the run with 130 whatever else happened.
    let code = if tokcli::sys::interrupted() { 130 } else { code };
    printer.debug(3, &format!("exiting with {code}"));
    std::process::exit(code);
}
