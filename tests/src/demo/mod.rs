//! The whole system on one machine, for the demo (`canhgac-demo`), the fleet benchmark and
//! their tests: a sample province ([`province`]) loaded into a `canhgac-server` through its
//! API, local fixture websites with good and bad set-ups ([`sites`]), and an agent that scans
//! them and reports to the server ([`agent`]). Everything listens on loopback only.

pub mod agent;
pub mod province;
pub mod sites;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use canhgac_server::config::Settings;
use canhgac_server::model::Role;
use canhgac_server::store::{self, Store};

/// An opened demo store with its administrator's token.
pub struct Bootstrap {
    /// The store (redb in the data directory).
    pub store: Arc<dyn Store>,
    /// The server's settings (data directory, listening address).
    pub settings: Settings,
    /// An API token of the administrator `admin`.
    pub admin_token: String,
    /// Whether the store was empty (the sample province must be loaded).
    pub fresh: bool,
}

/// Refuses any listening address that is not loopback.
pub fn check_loopback(listen: SocketAddr) -> Result<()> {
    if !listen.ip().is_loopback() {
        bail!("the demo listens on loopback only (127.0.0.1 or ::1), not {listen}");
    }
    Ok(())
}

/// Opens (or creates) the embedded store in `data`, adds the administrator `admin` (password
/// [`province::DEMO_PASSWORD`]) to an empty store, and issues an API token for it.
pub fn bootstrap(data: &Path, listen: SocketAddr) -> Result<Bootstrap> {
    check_loopback(listen)?;
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(data)
        .with_context(|| format!("cannot create {}", data.display()))?;
    let settings = Settings {
        data: data.to_path_buf(),
        listen,
        ..Settings::default()
    };
    let store: Arc<dyn Store> = Arc::from(
        store::open(&data.join("canhgac.redb"), &settings.engine)
            .with_context(|| format!("cannot open the store in {}", data.display()))?,
    );
    let now = jiff::Timestamp::now();
    let fresh = match canhgac_server::auth::add_account(
        store.as_ref(),
        "admin",
        "Quản trị hệ thống (demo)",
        Role::Administrator,
        None,
        Some(province::DEMO_PASSWORD),
        now,
    ) {
        Ok(_) => true,
        Err(canhgac_server::auth::AuthError::Exists(_)) => false,
        Err(e) => return Err(e).context("cannot add the demo administrator"),
    };
    let admin_token = canhgac_server::auth::add_token(store.as_ref(), "admin", "demo", now)
        .context("cannot issue the administrator's token")?;
    Ok(Bootstrap {
        store,
        settings,
        admin_token,
        fresh,
    })
}
