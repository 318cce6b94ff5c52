//! The agent daemon: enrollment with a `canhgac-server`, a scan schedule fetched from it, a
//! durable on-disk spool of finished reports, and their ordered, idempotent upload.
//!
//! Layout of the state directory (see [`config::StateDir`]): `agent.toml`, `credential` (0600),
//! `state.json`, `spool/` with `rejected/` and `corrupt/`.

pub mod client;
pub mod config;
pub mod enroll;
pub mod run;
pub mod schedule;
pub mod spool;
pub mod status;
pub mod upload;
