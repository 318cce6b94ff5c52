//! `canhgac-agent status`: what the agent last did, read from its state directory.

use jiff::Timestamp;
use serde::Serialize;

use super::config::{ConfigError, StateDir};
use super::spool::{self, DEFAULT_MAX_BYTES, Totals};

/// The status shown to a person (or as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The agent id.
    pub agent_id: String,
    /// The agent name.
    pub name: String,
    /// The server URL.
    pub server: String,
    /// Last successful contact with the server.
    pub last_contact: Option<Timestamp>,
    /// When the last scan finished.
    pub last_scan: Option<Timestamp>,
    /// The last error.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<Timestamp>,
    /// Assigned targets known locally.
    pub targets: usize,
    /// The spool.
    pub spool: Totals,
    /// Why scans are paused because of the spool (full, unwritable), while they are.
    pub spool_error: Option<String>,
}

/// Reads the status of the agent in `state`.
pub fn read(state: &StateDir, spool_max_bytes: Option<u64>) -> Result<Status, ConfigError> {
    let config = state.load_config()?;
    let s = state.load_state();
    let capacity = spool_max_bytes
        .or(config.spool_max_bytes)
        .or(s.spool_capacity)
        .unwrap_or(DEFAULT_MAX_BYTES);
    Ok(Status {
        agent_id: config.agent_id,
        name: config.name,
        server: config.server,
        last_contact: s.last_contact,
        last_scan: s.last_scan,
        last_error: s.last_error,
        last_error_at: s.last_error_at,
        targets: s.targets.len(),
        spool: spool::totals_of(&state.spool_dir(), capacity),
        spool_error: s.spool_error,
    })
}

fn when(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        None => "never".into(),
        Some(t) => {
            let ago = now.duration_since(t).as_secs().max(0);
            format!("{t} ({ago} s ago)")
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Renders the status for a person.
pub fn render(status: &Status, now: Timestamp) -> String {
    let sp = &status.spool;
    let pct = if sp.capacity > 0 {
        sp.bytes as f64 * 100.0 / sp.capacity as f64
    } else {
        100.0
    };
    let mut out = String::new();
    out.push_str(&format!(
        "agent:         {} ({})\n",
        status.name, status.agent_id
    ));
    out.push_str(&format!("server:        {}\n", status.server));
    out.push_str(&format!(
        "last contact:  {}\n",
        when(status.last_contact, now)
    ));
    out.push_str(&format!("last scan:     {}\n", when(status.last_scan, now)));
    out.push_str(&format!("targets:       {}\n", status.targets));
    out.push_str(&format!(
        "spool:         {} report(s), {} of {} ({pct:.0}%){}\n",
        sp.depth,
        mib(sp.bytes),
        mib(sp.capacity),
        if pct >= 80.0 {
            "  WARNING: nearly full"
        } else {
            ""
        }
    ));
    if let Some(oldest) = sp.oldest {
        out.push_str(&format!("oldest report: {}\n", when(Some(oldest), now)));
    }
    if let Some(e) = &status.spool_error {
        out.push_str(&format!("SPOOL ERROR:   {e}\n"));
    }
    out.push_str(&format!(
        "rejected:      {}   corrupt: {}\n",
        sp.rejected, sp.corrupt
    ));
    match (&status.last_error, status.last_error_at) {
        (Some(e), at) => out.push_str(&format!("last error:    {e} ({})\n", when(at, now))),
        (None, _) => out.push_str("last error:    none\n"),
    }
    out
}
