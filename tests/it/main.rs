//! The one integration-test binary: black-box tests of the real `tokcli` binary.
//!
//! Modules that need a service start it themselves (oidc-provider via node, gnome-keyring via
//! dbus-run-session) and fail loudly when it is missing; none skips.

mod support;

mod cli;
mod keyring;
mod pressure;
mod real_server;

mod faults;
mod mockas;
mod presets;
mod scripts;
mod security;
