//! The Printer: the only place that writes to stdout and stderr (STYLE.md §2).
//!
//! stdout carries data only (a token, a table, JSON); stderr carries messages for people. Progress
//! and spinners appear only when stderr is a terminal. Nothing printed here may be a secret except
//! the explicit data of `token`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// When the printer was made: the origin of the `-vvv` timestamps.
static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// `--color` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Writes data to stdout and messages to stderr.
#[derive(Debug, Clone)]
pub struct Printer {
    pub quiet: bool,
    pub verbose: u8,
    color: bool,
    stderr_tty: bool,
    /// `GITHUB_ACTIONS=true`: every token handed out is masked first (see [`Printer::mask`]).
    github_actions: bool,
}

/// stdout was closed by the reader (`tokcli list | head -1`): exit quietly.
#[derive(Debug)]
pub struct BrokenPipe;

impl std::fmt::Display for BrokenPipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("broken pipe")
    }
}
impl std::error::Error for BrokenPipe {}

impl Printer {
    #[must_use]
    pub fn new(quiet: bool, verbose: u8, color: ColorChoice) -> Self {
        if verbose >= 3 {
            START.get_or_init(std::time::Instant::now);
        }
        let stderr_tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stderr_tty && !no_color,
        };
        let github_actions = std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true");
        Self { quiet, verbose, color, stderr_tty, github_actions }
    }

    /// Registers `secret` with the GitHub Actions runner as a log mask, before it is handed out.
    ///
    /// Only under `GITHUB_ACTIONS=true` (or `always`, for `--format github-env`), and never
    /// suppressed by `-q`. The `::add-mask::` command goes to **stderr**: the runner parses
    /// workflow commands on both of the step's streams (actions/runner `ScriptHandler.cs` feeds
    /// stdout and stderr to the same `ActionCommandManager`), while stdout may be a `$(…)`
    /// capture that must hold the token alone. `%` is escaped as `%25` on a second line because
    /// runner versions disagree on unescaping it; masking an extra string is harmless.
    ///
    /// # Errors
    /// When stderr cannot be written: the caller must then not hand the token out unmasked.
    pub fn mask(&self, secret: &str, always: bool) -> anyhow::Result<()> {
        if !(self.github_actions || always) {
            return Ok(());
        }
        let mut text = zeroize::Zeroizing::new(String::new());
        for part in secret.split(['\r', '\n']).filter(|p| !p.trim().is_empty()) {
            text.push_str(&format!("::add-mask::{part}\n"));
            if part.contains('%') {
                text.push_str(&format!("::add-mask::{}\n", part.replace('%', "%25")));
            }
        }
        let mut err = std::io::stderr().lock();
        err.write_all(text.as_bytes())
            .and_then(|()| err.flush())
            .map_err(|e| anyhow::Error::new(e).context("cannot write the ::add-mask:: command to stderr"))
    }

    /// Writes data and a newline to stdout, flushed.
    ///
    /// # Errors
    /// [`BrokenPipe`] when the reader went away; other I/O errors as they are.
    pub fn data(&self, text: &str) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        let r = out.write_all(text.as_bytes()).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(BrokenPipe.into()),
            Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
    }

    /// A status line for people (suppressed by `-q`).
    pub fn info(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// A warning that `-q` does not suppress (KM-04: an insecure store key is announced on every
    /// use).
    pub fn warn_always(&self, msg: &str) {
        eprintln!("{} {msg}", self.paint("33", "tokcli: warning:"));
    }

    /// A warning (suppressed by `-q`).
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{} {msg}", self.paint("33", "tokcli: warning:"));
        }
    }

    /// Diagnostics at `-v` (level 1) or `-vv` (level 2). Callers pass fingerprints, never secrets.
    pub fn debug(&self, level: u8, msg: &str) {
        if self.verbose >= 3 {
            // At -vvv every line carries the time since start-up, to show where a slow call waits.
            let ms = START.get().map_or(0.0, |t| t.elapsed().as_secs_f64() * 1000.0);
            eprintln!("{} [{ms:8.3} ms] {msg}", self.paint("2", "tokcli: debug:"));
        } else if self.verbose >= level {
            eprintln!("{} {msg}", self.paint("2", "tokcli: debug:"));
        }
    }

    /// The final error report: one line, the causes, then what to do next.
    pub fn error(&self, message: &str, causes: &[String], hint: Option<&str>) {
        eprintln!("{} {message}", self.paint("31", "tokcli: error:"));
        for c in causes {
            eprintln!("  caused by: {c}");
        }
        if let Some(h) = hint {
            eprintln!("{} {h}", self.paint("36", "hint:"));
        }
    }

    /// A spinner on stderr, only when stderr is a terminal and not `-q`.
    #[must_use]
    pub fn spinner(&self, msg: &str) -> Option<ProgressBar> {
        if !self.stderr_tty || self.quiet {
            return None;
        }
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message(msg.to_owned());
        pb.enable_steady_tick(Duration::from_millis(100));
        Some(pb)
    }

    /// A progress bar on stderr for batch work, only on a terminal.
    #[must_use]
    pub fn progress(&self, len: u64) -> Option<ProgressBar> {
        if !self.stderr_tty || self.quiet {
            return None;
        }
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(pb)
    }
}
