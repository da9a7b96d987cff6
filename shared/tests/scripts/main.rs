//! Generated bash scripts: syntax, shellcheck, golden files, and runs in a shim sandbox.

#![allow(clippy::unwrap_used)]

mod common;
mod hardening;
mod render;
mod sandbox;
