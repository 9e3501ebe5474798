//! Resolving where things live and which key source to use, with one written precedence:
//! CLI flag > environment > config file > built-in default.

use std::path::PathBuf;

use crate::error::Error;
use crate::store::keys::{INSECURE_PLAINTEXT, KeySource};
use crate::store::{OpenOptions, Paths};

/// Global settings shared by every command.
#[derive(Debug, Clone)]
pub struct Settings {
    pub paths: Paths,
    pub config_file: PathBuf,
    pub open: OpenOptions,
}

impl Settings {
    /// Resolves paths (`--home` / `TOKCLI_HOME`, else XDG) and the key source.
    ///
    /// # Errors
    /// A usage error when no home directory can be found or `TOKCLI_KEY_SOURCE` is invalid.
    pub fn resolve(
        home: Option<PathBuf>,
        fix_permissions: bool,
        insecure_plaintext_key: bool,
        passphrase_fd: Option<i32>,
    ) -> Result<Self, Error> {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let (data, config_file) = if let Some(h) = home {
            (h.clone(), h.join("config.toml"))
        } else {
            let user_home = env("HOME").ok_or_else(|| {
                Error::usage("cannot find a home directory").hint("set TOKCLI_HOME (or HOME / XDG_DATA_HOME)")
            })?;
            let data = env("XDG_DATA_HOME").unwrap_or_else(|| user_home.join(".local/share")).join("tokcli");
            let cfg = env("XDG_CONFIG_HOME").unwrap_or_else(|| user_home.join(".config")).join("tokcli/config.toml");
            (data, cfg)
        };
        if !data.is_absolute() {
            return Err(Error::usage(format!("the tokcli home {} must be an absolute path", data.display())));
        }
        let key_source = match std::env::var("TOKCLI_KEY_SOURCE") {
            Ok(s) if !s.is_empty() => Some(KeySource::parse(&s, &data)?),
            _ => None,
        };
        // KM-04 (d): the flag names the insecure source; it never overrides another choice.
        let key_source = match key_source {
            _ if !insecure_plaintext_key => key_source,
            None => Some(KeySource::parse(INSECURE_PLAINTEXT, &data)?),
            Some(k) if k.is_insecure() => Some(k),
            Some(k) => {
                return Err(Error::usage(format!(
                    "--insecure-plaintext-key conflicts with TOKCLI_KEY_SOURCE={}",
                    k.pin()
                ))
                .hint("choose one key source"));
            }
        };
        // KM-04 (c): `--passphrase-fd` goes with the passphrase source (and chooses it for a new store).
        let key_source = match (passphrase_fd, key_source) {
            (None, k) => k,
            (Some(fd), None | Some(KeySource::Passphrase(_))) => Some(KeySource::Passphrase(Some(fd))),
            (Some(_), Some(k)) => {
                return Err(Error::usage(format!("--passphrase-fd conflicts with TOKCLI_KEY_SOURCE={}", k.pin()))
                    .hint("--passphrase-fd is for TOKCLI_KEY_SOURCE=passphrase"));
            }
        };
        Ok(Self { paths: Paths::new(data), config_file, open: OpenOptions { key_source, fix_permissions } })
    }
}
