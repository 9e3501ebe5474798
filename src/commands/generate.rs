//! `tokcli generate --out DIR` (hidden): writes the shell completions (`DIR/completions/`) and the
//! man pages (`DIR/man/`) from the clap types in `cli.rs`, the single source of truth. The
//! repository commits the output; a test regenerates it and fails when the copies are stale.
//!
//! Each man page is clap_mangen's NAME, SYNOPSIS, DESCRIPTION, OPTIONS (and COMMANDS for
//! `tokcli.1`), followed by sections written here from the same constants `--help` shows:
//! EXAMPLES (each subcommand's `Examples:` block), EXIT STATUS (`error::EXIT_CODES_HELP`),
//! ENVIRONMENT (`cli::ENV_HELP`), FILES and SEE ALSO. Output is deterministic: no dates.
//! clap_complete also completes the hidden `generate` subcommand itself; the man pages skip it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use crate::cli::{Cli, ENV_HELP, GenerateArgs};
use crate::error::EXIT_CODES_HELP;
use crate::output::Printer;

/// The shells completions are written for.
pub const SHELLS: [Shell; 5] = [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell, Shell::Elvish];

const FILES: &[(&str, &str)] = &[
    (
        "$TOKCLI_HOME/tokcli.db, else $XDG_DATA_HOME/tokcli/tokcli.db (~/.local/share/tokcli/tokcli.db)",
        "the encrypted store (SQLite, mode 0600); its directory is 0700",
    ),
    ("<data directory>/locks/", "per-profile lock files that make refreshes single-flight"),
    (
        "$TOKCLI_HOME/config.toml, else $XDG_CONFIG_HOME/tokcli/config.toml (~/.config/tokcli/config.toml)",
        "[providers.NAME] and [profiles.NAME] settings",
    ),
];

pub fn run(printer: &Printer, a: &GenerateArgs) -> anyhow::Result<()> {
    for f in write_all(&a.out)? {
        printer.info(&format!("wrote {}", f.display()));
    }
    Ok(())
}

/// Writes every completion script and man page under `out`; returns the paths written.
///
/// # Errors
/// When a directory or file cannot be written.
pub fn write_all(out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    let dir = out.join("completions");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for shell in SHELLS {
        let path = clap_complete::generate_to(shell, &mut cmd.clone(), "tokcli", &dir)
            .with_context(|| format!("cannot write the {shell} completions into {}", dir.display()))?;
        written.push(path);
    }
    let dir = out.join("man");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let subs: Vec<clap::Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned().collect();
    let mut pages = vec![(String::from("tokcli.1"), man_page(&cmd, &subs)?)];
    for sub in &subs {
        pages.push((format!("tokcli-{}.1", sub.get_name()), man_page(sub, &[])?));
    }
    for (name, text) in pages {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    // tokcli runs under umask 077 (for the store); these files are for everyone to read.
    for path in written.iter().chain([&out.join("completions"), &out.join("man")]) {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
    }
    Ok(written)
}

/// The text after `Examples:` in a command's after-help: (example lines, following paragraphs).
fn examples(cmd: &clap::Command) -> (Vec<String>, Vec<String>) {
    let help = cmd.get_after_help().map(ToString::to_string).unwrap_or_default();
    let mut lines = help.lines().skip_while(|l| l.trim() != "Examples:").skip(1);
    let ex: Vec<String> = lines.by_ref().take_while(|l| !l.trim().is_empty()).map(|l| l.trim().to_owned()).collect();
    let rest: Vec<String> = lines.map(str::to_owned).collect();
    (ex, rest)
}

/// `  NAME   description` lines (after a heading line) as (name, description) pairs.
fn table(text: &str) -> Vec<(String, String)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let l = l.trim();
            let (k, v) = l.split_once(char::is_whitespace)?;
            Some((k.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

fn tagged(r: &mut Roff, heading: &str, rows: &[(String, String)]) {
    r.control("SH", [heading]);
    for (k, v) in rows {
        r.control("TP", []);
        r.text([bold(k.as_str())]);
        r.text([roman(v.as_str())]);
    }
}

fn verbatim(r: &mut Roff, lines: &[String]) {
    r.control("PP", []);
    r.control("RS", ["4"]);
    r.control("nf", []);
    for l in lines {
        r.text([roman(l.as_str())]);
    }
    r.control("fi", []);
    r.control("RE", []);
}

/// One man page: clap_mangen's sections, then ours. `subs` is non-empty only for `tokcli.1`.
fn man_page(cmd: &clap::Command, subs: &[clap::Command]) -> anyhow::Result<Vec<u8>> {
    let man = Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if !subs.is_empty() {
        man.render_subcommands_section(&mut out)?;
    }
    let mut r = Roff::default();
    let root = !subs.is_empty();
    let (ex, notes) = examples(cmd);
    if root {
        r.control("SH", ["EXAMPLES"]);
        for sub in subs {
            let (ex, _) = examples(sub);
            if !ex.is_empty() {
                r.control("SS", [format!("tokcli {}", sub.get_name()).as_str()]);
                verbatim(&mut r, &ex);
            }
        }
    } else if !ex.is_empty() {
        r.control("SH", ["EXAMPLES"]);
        verbatim(&mut r, &ex);
    }
    let notes: Vec<&str> = notes.iter().map(|l| l.trim()).skip_while(|l| l.is_empty()).collect();
    if !notes.is_empty() {
        r.control("SH", ["NOTES"]);
        for para in notes.split(|l| l.is_empty()).filter(|p| !p.is_empty()) {
            r.control("PP", []);
            r.text([roman(para.join(" "))]);
        }
    }
    tagged(&mut r, "EXIT STATUS", &table(EXIT_CODES_HELP));
    tagged(&mut r, "ENVIRONMENT", &table(ENV_HELP));
    if root {
        let files: Vec<(String, String)> = FILES.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        tagged(&mut r, "FILES", &files);
    }
    r.control("SH", ["SEE ALSO"]);
    let see: Vec<String> = if root {
        subs.iter().map(|s| format!("tokcli-{}(1)", s.get_name())).collect()
    } else {
        vec![String::from("tokcli(1)")]
    };
    r.text([roman(see.join(", "))]);
    r.to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    Ok(out)
}
