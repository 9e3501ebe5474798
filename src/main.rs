//! The thin binary: parse, run, map the error to an exit code.

use tokcli::error::{Class, classify};
use tokcli::output::{BrokenPipe, Printer};

fn main() {
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
    std::process::exit(code);
}
