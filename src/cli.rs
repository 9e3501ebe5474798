//! clap types only: inert data, also used to generate completions and the man page.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::EXIT_CODES_HELP;
use crate::output::ColorChoice;

const ENV_HELP: &str = "\
Environment:
  TOKCLI_HOME           data and config directory (default: XDG dirs)
  TOKCLI_KEY_SOURCE     keyring (default) | env | file:PATH — where the store key lives
  TOKCLI_STORE_KEY      the store key for TOKCLI_KEY_SOURCE=env (64 hex chars or base64 of 32 bytes)
  TOKCLI_CLIENT_ID      default --client-id for login
  TOKCLI_CLIENT_SECRET  client secret for login (never a flag)
  TOKCLI_BROWSER        browser command for login (then BROWSER, then the platform opener)
  TOKCLI_CA_FILE        extra PEM CA bundle for private issuers
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
    /// More diagnostics on stderr (-v, -vv); never secrets
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to use colours on stderr
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Repair group/world-accessible store files instead of refusing to run
    #[arg(long, global = true)]
    pub fix_permissions: bool,
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
  printf %s \"$SECRET\" | tokcli login https://issuer.example --client-id svc --client-secret-stdin --client-credentials")]
    Login(LoginArgs),
    /// Print a valid access token, refreshing it first when needed
    #[command(after_help = "Examples:
  curl -H \"Authorization: Bearer $(tokcli token work)\" https://api.example/
  tokcli token work --min-valid 10m
  tokcli token work --format header")]
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
    /// Variable name for --format env
    #[arg(long, default_value = "TOKCLI_TOKEN", value_name = "NAME")]
    pub env_name: String,
    /// Whole-command deadline
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub timeout: String,
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
