//! Starting and stopping the server.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::{self, AppState, Metrics};
use crate::config::Settings;
use crate::store::Store;

/// Serves the API on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn launch_with_listener(
    settings: &Settings,
    store: Arc<dyn Store>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = AppState {
        store,
        metrics: Arc::new(Metrics::default()),
        pack: Arc::new(canhgac_policies::pack::Pack::decree85()),
    };
    let app = api::router(state, settings.max_body);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
