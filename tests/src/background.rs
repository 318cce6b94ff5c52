//! One shared background tokio runtime for every in-process fixture server, and the handle that
//! stops one of them. A runtime thread per fixture is too heavy when a benchmark starts 200 TLS
//! sites, and a fixture must work the same from a plain `#[test]` and from `#[tokio::test]`: so
//! every fixture is an accept-loop task on this lazily created multi-thread runtime, stopped by a
//! oneshot signal when its handle is dropped.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// How long `Drop` waits for an accept loop to confirm that it stopped.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// The runtime shared by all fixtures (created on first use, never shut down).
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .thread_name("canhgac-testkit")
            .enable_all()
            .build()
            .expect("canhgac-testkit: cannot build the shared fixture runtime")
    })
}

/// Binds a listener on 127.0.0.1 with a port chosen by the system.
pub(crate) fn bind_loopback() -> io::Result<std::net::TcpListener> {
    bind_loopback_ip(Ipv4Addr::LOCALHOST)
}

/// Binds a listener on a loopback address (127.0.0.0/8 all routes to `lo` on Linux, so a
/// benchmark can give each site its own "host"). Any other address is refused.
pub(crate) fn bind_loopback_ip(ip: Ipv4Addr) -> io::Result<std::net::TcpListener> {
    bind_loopback_port(ip, 0)
}

/// Binds a loopback address and port (0: any free port). Any non-loopback address is refused.
pub(crate) fn bind_loopback_port(ip: Ipv4Addr, port: u16) -> io::Result<std::net::TcpListener> {
    if !ip.is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("canhgac-testkit binds loopback addresses only, not {ip}"),
        ));
    }
    std::net::TcpListener::bind(SocketAddrV4::new(ip, port))
}

/// A running accept loop on the shared runtime. Dropping it closes the listening socket, aborts
/// every open connection of this server and waits (bounded) until that is done.
#[derive(Debug)]
pub(crate) struct ServerHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    stopped: mpsc::Receiver<()>,
}

impl ServerHandle {
    /// Serves every accepted connection of `listener` with `handler`, each in its own task.
    pub(crate) fn spawn<F, Fut>(listener: std::net::TcpListener, handler: F) -> io::Result<Self>
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let rt = runtime();
        let listener = {
            let _guard = rt.enter();
            TcpListener::from_std(listener)?
        };
        let (shutdown_tx, mut shutdown_rx) = oneshot::channel::<()>();
        let (stopped_tx, stopped_rx) = mpsc::channel::<()>();
        rt.spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut shutdown_rx => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _peer)) => {
                            let _ = stream.set_nodelay(true);
                            connections.spawn(handler(stream));
                        }
                        // Out of file descriptors and the like: back off instead of spinning.
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            drop(listener);
            connections.shutdown().await;
            let _ = stopped_tx.send(());
        });
        Ok(Self {
            addr,
            shutdown: Some(shutdown_tx),
            stopped: stopped_rx,
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // The loop runs on the shared runtime, not on the caller's, so blocking here briefly is
        // safe from sync tests and from async tests alike.
        let _ = self.stopped.recv_timeout(STOP_WAIT);
    }
}
