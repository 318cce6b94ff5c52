//! The shared model of canhgac.
//!
//! Both the agent and the server depend on this crate and it depends on neither. It holds the
//! scan report schema ([`report`]); policy packs, their evaluation and the Vietnamese calendar
//! follow. It does no I/O beyond reading pack files, and never reads the clock: time is passed in.
#![deny(missing_docs)]

pub mod calendar;
pub mod content;
pub mod pack;
pub mod report;
pub mod source;

pub use report::ScanReport;
