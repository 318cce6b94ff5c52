//! The canhgac agent: probes that look at agency websites the way an appraiser would, and the
//! machinery to run them politely over many targets.
//!
//! Probes report observations into the shared [`canhgac_policies::report`] model; they never
//! decide pass or fail.
#![deny(missing_docs)]

pub mod daemon;
pub mod net;
pub mod output;
pub mod polite;
pub mod probe;
pub mod scan;
pub mod target;

/// Installs aws-lc-rs as the process-wide rustls provider (the only one built in this tree).
/// Safe to call more than once.
pub fn init_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
