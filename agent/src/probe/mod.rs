//! Probes: each looks at one aspect of a target and reports observations with evidence, never
//! verdicts (verdicts belong to `canhgac-policies`).

pub mod content;
pub mod dns;
pub mod domain;
pub mod http;
pub mod tls;
