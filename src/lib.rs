//! tokcli: log in once, then get fresh OAuth 2.0 / OpenID Connect access tokens from scripts.
//!
//! Data flows one way: `cli` (parse) → `settings` (resolve) → `commands` (use cases) → adapters
//! (`provider`, `loopback`, `store`) → `output` (stdout = data, stderr = people).

pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod hooks;
pub mod loopback;
pub mod model;
pub mod output;
pub mod provider;
pub mod settings;
pub mod store;
pub mod sys;
