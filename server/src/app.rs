//! Starting and stopping the server.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::{self, AppState, Metrics};
use crate::config::Settings;
use crate::store::Store;
use crate::transport::tls::{Tls, TlsListener};
use crate::transport::{self, Peer, TrustedProxies};

/// Serves the API on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn launch_with_listener(
    settings: &Settings,
    store: Arc<dyn Store>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    launch_with_control(settings, store, listener, None, shutdown).await
}

/// [`launch_with_listener`] with the local control listener beside the main one (see
/// [`crate::control`]); both stop on `shutdown`. HTTPS when the settings name a certificate
/// and key (loaded here: see [`launch`] to load them earlier).
pub async fn launch_with_control(
    settings: &Settings,
    store: Arc<dyn Store>,
    listener: TcpListener,
    control: Option<crate::control::Control>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = Tls::from_settings(settings)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    launch(settings, store, listener, control, tls, shutdown).await
}

/// Serves the API on `listener`, over `tls` when given (its certificate files are watched
/// every `settings.tls_reload_interval`), with the control listener beside it, until
/// `shutdown` completes; then finishes in-flight requests.
///
/// Every request goes through [`transport::observe`] (client address behind trusted proxies,
/// request id, access log).
pub async fn launch(
    settings: &Settings,
    store: Arc<dyn Store>,
    listener: TcpListener,
    control: Option<crate::control::Control>,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The read index of the list routes, built once from the store; every write through
    // `state.store` keeps it up to date (crate::index).
    let index = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || crate::index::Index::build(store.as_ref()))
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?
    };
    let index = Arc::new(index);
    // Concurrent writers share durable commits (crate::store::group), then the index follows.
    let store: Arc<dyn Store> = Arc::new(crate::store::group::GroupCommit::new(store));
    let store: Arc<dyn Store> = Arc::new(crate::index::IndexedStore::new(store, index.clone()));
    // The pack as shipped, with the administrator's official holiday schedules applied
    // (crate::calendar): a stored schedule that no longer fits the pack stops the start.
    let base = canhgac_policies::pack::Pack::decree85();
    let effective = {
        let (store, base) = (store.clone(), base.clone());
        tokio::task::spawn_blocking(move || crate::calendar::effective_pack(store.as_ref(), &base))
            .await
            .map_err(std::io::Error::other)?
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?
    };
    let state = AppState {
        index,
        store,
        metrics: Arc::new(Metrics::default()),
        pack: Arc::new(crate::packs::PackCell::with_current(base, effective)),
        max_document_bytes: settings.max_document_bytes,
        access: Arc::new(crate::sessions::Access::new(settings.sessions.clone())),
        report_retention_days: settings.report_retention_days,
        alerts: Arc::new(settings.alerts.clone()),
        mail_configured: settings.mail.is_some(),
    };
    let retention = crate::retention::spawn(
        state.store.clone(),
        state.pack(),
        settings.report_retention_days,
        std::time::Duration::from_secs(6 * 3600),
    );
    // The alert loop (crate::alerts), when a mail relay is configured.
    let alerts = crate::alerts::worker::from_settings(
        settings.mail.as_ref(),
        &settings.alerts,
        state.store.clone(),
        state.index.clone(),
        state.pack.clone(),
        state.metrics.alerts.clone(),
    )
    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?
    .map(crate::alerts::worker::AlertLoop::spawn);
    if alerts.is_none() {
        tracing::info!("alerts: no [mail] relay configured, no e-mail will be sent");
    }
    let trusted = Arc::new(TrustedProxies::new(settings.trusted_proxies.clone()));
    let app = api::router(state, settings.max_body).layer(axum::middleware::from_fn_with_state(
        trusted,
        transport::observe,
    ));
    let (shutdown, control) = crate::control::beside(control, &app, shutdown);
    let service = app.into_make_service_with_connect_info::<Peer>();
    match tls {
        None => {
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown)
                .await?
        }
        Some(tls) => {
            let _watch = tls.cert().watch(settings.tls_reload_interval);
            axum::serve(TlsListener::new(listener, tls.config())?, service)
                .with_graceful_shutdown(shutdown)
                .await?
        }
    }
    retention.abort();
    if let Some(task) = alerts {
        task.abort();
    }
    if let Some(task) = control {
        task.await.map_err(std::io::Error::other)??;
    }
    Ok(())
}
