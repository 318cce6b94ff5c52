//! The canhgac server: every agency's information systems, their Decree 85 dossiers as they
//! move through appraisal and approval, and the evidence the agents upload.
//!
//! A library with a thin binary: [`app::launch_with_listener`] takes its listener and shutdown
//! signal, so tests bind port 0. Storage sits behind the [`store::Store`] trait.
#![deny(missing_docs)]

pub mod agents;
pub mod alerts;
pub mod api;
pub mod app;
pub mod auth;
pub mod calendar;
pub mod changes;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod control;
pub mod documents;
pub mod exchange;
pub mod index;
pub mod model;
pub mod packs;
pub mod remote;
pub mod repo;
pub mod report;
pub mod retention;
pub mod sessions;
pub mod store;
pub mod transport;
pub mod waivers;
pub mod web;
pub mod weekly;
pub mod workflow;
