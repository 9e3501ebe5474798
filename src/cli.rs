//! clap types only: inert data, also used to generate completions and the man page.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::EXIT_CODES_HELP;
use crate::output::ColorChoice;

pub const ENV_HELP: &str = "\
Environment:
  TOKCLI_HOME           data and config directory (default: XDG dirs)
  TOKCLI_KEY_SOURCE     keyring (default) | env | file:PATH | passphrase | insecure-plaintext —
                        where the store key lives (pinned when the store is created)
  TOKCLI_STORE_KEY      the store key for TOKCLI_KEY_SOURCE=env (64 hex chars or base64 of 32 bytes)
  TOKCLI_PASSPHRASE_FILE  a 0600 file with the passphrase (else --passphrase-fd, else the terminal)
  TOKCLI_NEW_PASSPHRASE_FILE  the new passphrase for `tokcli rekey` (else the terminal, twice)
  TOKCLI_ACK_INSECURE   \"1\": silence the warning of an insecure-plaintext store
  TOKCLI_CLIENT_ID      default --client-id for login
  TOKCLI_CLIENT_SECRET  client secret for login (never a flag)
  TOKCLI_BROWSER        browser command for login (then BROWSER, then the platform opener)
  TOKCLI_CA_FILE        extra PEM CA bundle for private issuers
  TOKCLI_KEY_CACHE      \"off\": do not cache the keyring's or passphrase's key in the kernel keyring
  TOKCLI_KEY_CACHE_TTL  seconds the kernel-keyring copy of the store key lives (default 300)
  TOKCLI_EXEC_DEPTH     set by `tokcli exec` in its child; a nested `tokcli exec` refuses to run
  GITHUB_ACTIONS        \"true\": every token handed out is first masked with ::add-mask:: (on stderr)
  GITHUB_ENV            the file `tokcli token --format github-env` appends to
  NO_COLOR              disable colours";

/// Log in once; get fresh OAuth 2.0 / OpenID Connect access tokens in scripts forever.
#[derive(Debug, Parser)]
#[command(name = "tokcli", version, propagate_version = true, after_help = format!("{EXIT_CODES_HELP}\n\n{ENV_HELP}"))]
pub struct Cli {
    /// Data and config directory (default: $XDG_DATA_HOME/tokcli and $XDG_CONFIG_HOME/tokcli)
    #[arg(long, global = true, env = "TOKCLI_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Print only data and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More diagnostics on stderr (-v, -vv; -vvv adds the time since start-up); never secrets
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to use colours on stderr
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Repair group/world-accessible store files instead of refusing to run
    #[arg(long, global = true)]
    pub fix_permissions: bool,
    /// Keep a new store's key in a plain 0600 file next to the database (no keyring). INSECURE:
    /// anyone who can read the file can decrypt every token; every use warns
    #[arg(long, global = true)]
    pub insecure_plaintext_key: bool,
    /// Read the store's passphrase from this file descriptor (TOKCLI_KEY_SOURCE=passphrase)
    #[arg(long, global = true, value_name = "N")]
    pub passphrase_fd: Option<i32>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in to a provider and store the grant
    #[command(after_help = "Examples:
  tokcli login google --client-id ID.apps.googleusercontent.com --scope https://www.googleapis.com/auth/youtube
  tokcli login microsoft --param tenant=contoso.onmicrosoft.com --client-id ID --profile work
  tokcli login alarmbox --manual --client-id ID --client-secret-stdin     # paste the code shown after consent
  tokcli login azure --client-credentials --param tenant=TENANT --client-id ID --client-secret-stdin
  tokcli login https://issuer.example --client-id my-app --profile work
  tokcli login https://issuer.example --client-id my-app --no-browser      # over SSH: open the URL yourself
  printf %s \"$SECRET\" | tokcli login https://issuer.example --client-id svc --client-secret-stdin --client-credentials
  tokcli login github --client-id ID --json | jq -r .expires_at               # a summary of the stored profile")]
    Login(LoginArgs),
    /// Print a valid access token, refreshing it first when needed
    #[command(after_help = "Examples:
  curl -H \"Authorization: Bearer $(tokcli token work)\" https://api.example/
  tokcli token work --min-valid 10m
  tokcli token work --format header
  tokcli token work --format json | jq -r .expires_in
  eval \"$(tokcli token work --format env --env-name API_TOKEN)\"
  tokcli token work --format github-env --env-name API_TOKEN   # GitHub Actions: later steps get $API_TOKEN, masked
  tokcli token work --id-token                                 # the OIDC ID token instead")]
    Token(TokenArgs),
    /// Refresh profiles now (forced), or only those expiring soon
    #[command(after_help = "Examples:
  tokcli refresh work
  tokcli refresh --all --expiring-within 1h          # from cron: */30 * * * *
  tokcli refresh --all --json")]
    Refresh(RefreshArgs),
    /// List stored profiles (never shows secrets)
    #[command(after_help = "Examples:
  tokcli list
  tokcli list --json | jq -r '.[].profile'")]
    List(ListArgs),
    /// Revoke a profile's grant at the provider, then delete it locally
    #[command(after_help = "Examples:
  tokcli revoke work
  tokcli revoke old-profile --local-only   # the provider has no revocation endpoint")]
    Revoke(RevokeArgs),
    /// List the built-in provider presets and the providers of config.toml
    #[command(after_help = "Examples:
  tokcli providers
  tokcli providers --json | jq -r '.[] | select(.source == \"preset\") | .name'")]
    Providers(ProvidersArgs),
    /// Check the store, its permissions, its key and every profile; --reset moves a broken store aside
    #[command(after_help = "Examples:
  tokcli doctor
  tokcli doctor --json | jq '.checks[] | select(.status != \"ok\")'
  tokcli doctor --reset        # only when the store is unreadable, corrupt or its key is lost

The report goes to stdout. Exit status: 0 when healthy, else the code of the worst problem (5 store,
6 key, 3 a profile needs a new login). --reset renames tokcli.db (and its -wal and -shm) to
tokcli.db.corrupt-<time>; it never deletes anything, and never touches a store that is only
badly permissioned (use --fix-permissions), newer (upgrade tokcli) or behind a locked keyring.")]
    Doctor(DoctorArgs),
    /// Rotate the store key and re-encrypt every profile (crash-safe)
    #[command(after_help = "Examples:
  tokcli rekey                                   # keyring or file: key sources: nothing to do after
  NEW_KEY=$(tokcli rekey)                        # TOKCLI_KEY_SOURCE=env: the new key is printed once
  tokcli rekey                                   # passphrase: asks for the new one twice

The new key is stored (or, for env, printed) before the store depends on it, and the old key is
deleted only after the store committed the new one; a crash at any point leaves a readable store.
With TOKCLI_KEY_SOURCE=env, update TOKCLI_STORE_KEY (e.g. the CI secret) to the printed key at
once: the old key no longer opens the store.")]
    Rekey(RekeyArgs),
    /// Run a command with fresh tokens in its environment
    #[command(after_help = "Examples:
  tokcli exec work -- sh -c 'curl -H \"Authorization: Bearer $TOKCLI_TOKEN\" https://api.example/'
  tokcli exec gh=GH_TOKEN work=API_TOKEN -- ./deploy.sh
  tokcli exec work --env-name API_TOKEN --min-valid 30m -- make release

The command gets the tokens and tokcli's other non-secret variables; TOKCLI_STORE_KEY,
TOKCLI_CLIENT_SECRET, TOKCLI_PASSPHRASE* and any other TOKCLI_*SECRET*, *PASSWORD* or *_KEY variable
are removed, and TOKCLI_EXEC_DEPTH is set. SIGINT, SIGTERM and SIGHUP sent to tokcli are passed on
to the command (a terminal's Ctrl-C already reaches both). Exit status: the command's own, 128+N
when a signal N ended it, 126 when it cannot be run, 127 when it is not found.")]
    Exec(ExecArgs),
    /// Write the shell completions and man pages (for packagers and the repository)
    #[command(
        hide = true,
        after_help = "Examples:
  tokcli generate --out .          # writes ./completions/* and ./man/*.1"
    )]
    Generate(GenerateArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Flow {
    Browser,
    Device,
    Manual,
    ClientCredentials,
    RefreshToken,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// A preset (`tokcli providers`), a [providers.NAME] entry of config.toml, or an issuer URL
    /// (https, or http on loopback only), discovered via RFC 8414 / OIDC. May be omitted when
    /// [profiles.NAME] in config.toml names the provider of --profile
    pub provider: Option<String>,
    /// Name for the stored profile (default: derived from the provider)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// OAuth client id
    #[arg(long, env = "TOKCLI_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,
    /// Read the client secret from stdin (or set TOKCLI_CLIENT_SECRET); never pass it as a flag
    #[arg(long)]
    pub client_secret_stdin: bool,
    /// Scope to request (repeatable; space-separated lists are split)
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Device authorization grant (RFC 8628): show a code to enter on another device
    #[arg(long, group = "flow")]
    pub device: bool,
    /// Print the URL and read the redirect URL (or code) from stdin: for SSH and out-of-band providers
    #[arg(long, group = "flow")]
    pub manual: bool,
    /// Client credentials grant (machine-to-machine; needs a client secret)
    #[arg(long, group = "flow")]
    pub client_credentials: bool,
    /// Import an existing refresh token read from stdin, validated by refreshing it at once
    #[arg(long, group = "flow")]
    pub refresh_token_stdin: bool,
    /// Do not start a browser; print the URL on stderr and keep listening
    #[arg(long)]
    pub no_browser: bool,
    /// Fixed loopback port(s) to try in order, for providers without any-port matching
    #[arg(long, value_delimiter = ',', value_name = "PORT")]
    pub port: Vec<u16>,
    /// Provider parameter (`tenant=…`, `base_url=…`) or extra authorization parameter (repeatable;
    /// an empty value drops a preset's parameter)
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Give up after this long (e.g. 90s, 5m)
    #[arg(long, default_value = "180s", value_name = "DURATION")]
    pub timeout: String,
    /// Print a JSON summary of the stored profile on stdout (never a secret)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenFormat {
    /// The token alone
    Raw,
    /// `Authorization: Bearer <token>`
    Header,
    /// `{"access_token", "token_type", "expires_at", "expires_in", "scope", "profile"}`
    Json,
    /// `export TOKCLI_TOKEN=<token>`
    Env,
    /// Append `TOKCLI_TOKEN=<token>` to `$GITHUB_ENV` (masked first); prints nothing
    GithubEnv,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Profile name
    pub profile: String,
    /// Refresh when the token is valid for less than this (default: 5m, or half its lifetime)
    #[arg(long, value_name = "DURATION")]
    pub min_valid: Option<String>,
    /// Refresh even if the cached token is still valid
    #[arg(long, conflicts_with = "no_refresh")]
    pub force_refresh: bool,
    /// Never contact the provider; exit 3 when the cached token is stale
    #[arg(long)]
    pub no_refresh: bool,
    /// Fail (exit 4) instead of printing a still-valid cached token when the refresh fails
    #[arg(long)]
    pub strict: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = TokenFormat::Raw)]
    pub format: TokenFormat,
    /// Variable name for --format env and github-env
    #[arg(long, default_value = "TOKCLI_TOKEN", value_name = "NAME")]
    pub env_name: String,
    /// Print the stored OpenID Connect ID token instead of the access token (exit 3 when there is none)
    #[arg(long)]
    pub id_token: bool,
    /// Whole-command deadline
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub timeout: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Profiles to take tokens from: PROFILE (into the --env-name variable) or PROFILE=NAME (into $NAME)
    #[arg(required = true, value_name = "PROFILE[=NAME]")]
    pub profiles: Vec<String>,
    /// Variable for a PROFILE given without =NAME
    #[arg(long, default_value = "TOKCLI_TOKEN", value_name = "NAME")]
    pub env_name: String,
    /// Refresh first unless each token stays valid this long (default: 5m, or half its lifetime)
    #[arg(long, value_name = "DURATION")]
    pub min_valid: Option<String>,
    /// Run even inside another `tokcli exec` (TOKCLI_EXEC_DEPTH set)
    #[arg(long)]
    pub allow_nested: bool,
    /// Deadline for getting the tokens (the command itself is not timed)
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub timeout: String,
    /// The command and its arguments, after `--` (required)
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write completions/ and man/ into
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Profiles to refresh
    pub profiles: Vec<String>,
    /// Every active profile
    #[arg(long)]
    pub all: bool,
    /// Only refresh profiles expiring within this window (e.g. 1h)
    #[arg(long, value_name = "DURATION")]
    pub expiring_within: Option<String>,
    /// Refreshes to run at once
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// A JSON report on stdout
    #[arg(long)]
    pub json: bool,
    /// Whole-command deadline
    #[arg(long, default_value = "300s", value_name = "DURATION")]
    pub timeout: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Profiles to revoke
    #[arg(required = true)]
    pub profiles: Vec<String>,
    /// Delete locally without contacting the provider (the tokens stay valid there)
    #[arg(long)]
    pub local_only: bool,
    /// Whole-command deadline
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub timeout: String,
}

#[derive(Debug, Args)]
pub struct ProvidersArgs {
    /// JSON on stdout (the shape is documented in `tokcli providers --help` and docs/providers.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A JSON report on stdout
    #[arg(long)]
    pub json: bool,
    /// Move an unreadable or corrupt store (or one whose key is lost) aside as tokcli.db.corrupt-<time>
    #[arg(long)]
    pub reset: bool,
}

#[derive(Debug, Args)]
pub struct RekeyArgs {
    /// Whole-command deadline (waiting for every profile's lock)
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub timeout: String,
}

impl Cli {
    /// Parses the command line. The hot path `tokcli token NAME` (exactly that, no flags) skips
    /// clap and fills in the defaults of `TokenArgs` directly; anything else goes through the full
    /// parser.
    #[must_use]
    pub fn parse_args() -> Self {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        if let [_, sub, name] = args.as_slice()
            && sub == "token"
            && name.to_str().is_some_and(|n| !n.is_empty() && !n.starts_with('-'))
            && let Some(cli) = Self::token_fast_path(name)
        {
            return cli;
        }
        <Self as Parser>::parse()
    }

    fn token_fast_path(name: &std::ffi::OsStr) -> Option<Self> {
        // The defaults of `TokenArgs` above, written out: building even the one subcommand's
        // clap parser is about 90,000 instructions, a fourteenth of a cached `tokcli token`. A
        // unit test checks that this matches what the full parser produces.
        let args = TokenArgs {
            profile: name.to_str()?.to_owned(),
            min_valid: None,
            force_refresh: false,
            no_refresh: false,
            strict: false,
            format: TokenFormat::Raw,
            env_name: String::from("TOKCLI_TOKEN"),
            id_token: false,
            timeout: String::from("60s"),
        };
        Some(Self {
            home: std::env::var_os("TOKCLI_HOME").filter(|h| !h.is_empty()).map(PathBuf::from),
            quiet: false,
            verbose: 0,
            color: ColorChoice::Auto,
            fix_permissions: false,
            insecure_plaintext_key: false,
            passphrase_fd: None,
            command: Command::Token(args),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_fast_path_matches_the_full_parser() {
        let fast = Cli::token_fast_path(std::ffi::OsStr::new("work")).unwrap();
        let full = <Cli as Parser>::parse_from(["tokcli", "token", "work"]);
        assert_eq!(format!("{:?}", fast.command), format!("{:?}", full.command));
        assert_eq!((fast.quiet, fast.verbose, fast.color, fast.fix_permissions), (false, 0, ColorChoice::Auto, false));
        assert_eq!(fast.insecure_plaintext_key, full.insecure_plaintext_key);
        assert_eq!(fast.passphrase_fd, full.passphrase_fd);
    }
}
