//! TCP connections with deadlines, and the translation of I/O failures into report errors.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use canhgac_policies::report::ProbeError;
use tokio::net::TcpStream;

/// Opens a TCP connection within `timeout`.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, ProbeError> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(io_error(&e, &format!("connecting to {addr}"))),
        Err(_) => Err(ProbeError::new(
            "timeout",
            format!("no TCP connection to {addr} within {timeout:?}"),
        )),
    }
}

/// Maps an I/O error to a report error with a short code.
pub fn io_error(e: &io::Error, doing: &str) -> ProbeError {
    let code = match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection_refused",
        io::ErrorKind::TimedOut => "timeout",
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => "connection_reset",
        io::ErrorKind::UnexpectedEof => "closed",
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => "unreachable",
        _ => "io",
    };
    ProbeError::new(code, format!("{doing}: {e}"))
}

/// The error for an operation that ran out of time.
pub fn timeout_error(doing: &str, timeout: Duration) -> ProbeError {
    ProbeError::new("timeout", format!("{doing}: no answer within {timeout:?}"))
}
