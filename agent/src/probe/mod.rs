//! Probes: each looks at one aspect of a target and reports observations with evidence, never
//! verdicts (verdicts belong to `canhgac-policies`).

pub mod tls;
