//! Certificate reload without restart: [`ReloadingCert`] serves the current pair to every new
//! handshake and swaps in a new pair when the files change; a bad new pair is logged and the old
//! one keeps serving.
//!
//! The files are polled (every `tls_reload_interval`, default 5 s): their contents are compared
//! with the last pair tried, which catches changes that keep the modification time (copies with
//! `cp -p`, coarse clocks) and symlink swaps (Kubernetes secrets, certbot's `live/`). A pair is
//! tried once per change, so a broken file is reported once, not at every poll.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use super::tls::{TlsError, fingerprint, parse_pair};

/// What the files held at the last check.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// The SHA-256 of the certificate and key files' contents.
    Contents([u8; 32]),
    /// A file could not be read (the message says why).
    Unreadable(String),
}

/// The result of one [`ReloadingCert::check`].
#[derive(Debug)]
pub enum Reload {
    /// The files are as at the last check.
    Unchanged,
    /// A new pair is served; its leaf's SHA-256 fingerprint.
    Reloaded(String),
    /// The files changed but the new pair cannot be used; the old one keeps serving.
    Rejected(TlsError),
}

/// A certificate resolver whose pair can be swapped while the server runs.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    seen: Mutex<Seen>,
}

impl ReloadingCert {
    /// Loads the pair; fails (naming the file) when it cannot be used.
    pub fn load(cert: &Path, key: &Path) -> Result<ReloadingCert, TlsError> {
        let (seen, read) = read_both(cert, key);
        let (cert_pem, key_pem) = read?;
        let pair = parse_pair(&cert_pem, &key_pem, cert, key)?;
        Ok(ReloadingCert {
            cert_path: cert.to_path_buf(),
            key_path: key.to_path_buf(),
            current: RwLock::new(Arc::new(pair)),
            seen: Mutex::new(seen),
        })
    }

    /// The pair being served.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads the files; swaps in the new pair when they changed and the pair is good.
    pub fn check(&self) -> Reload {
        let (seen, read) = read_both(&self.cert_path, &self.key_path);
        {
            let mut last = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if *last == seen {
                return Reload::Unchanged;
            }
            *last = seen;
        }
        let pair = match read.and_then(|(c, k)| parse_pair(&c, &k, &self.cert_path, &self.key_path))
        {
            Ok(pair) => pair,
            Err(e) => return Reload::Rejected(e),
        };
        let print = fingerprint(&pair);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(pair);
        Reload::Reloaded(print)
    }

    /// Checks the files every `interval` in a task, logging each reload (info) and each
    /// rejected pair (error); the task stops when the returned guard is dropped. A zero
    /// interval watches nothing.
    pub fn watch(self: &Arc<Self>, interval: Duration) -> WatchGuard {
        if interval.is_zero() {
            return WatchGuard(None);
        }
        let me = self.clone();
        WatchGuard(Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let check = me.clone();
                let Ok(result) = tokio::task::spawn_blocking(move || check.check()).await else {
                    continue;
                };
                match result {
                    Reload::Unchanged => {}
                    Reload::Reloaded(print) => tracing::info!(
                        cert = %me.cert_path.display(),
                        sha256 = %print,
                        "TLS certificate reloaded"
                    ),
                    Reload::Rejected(e) => tracing::error!(
                        cert = %me.cert_path.display(),
                        key = %me.key_path.display(),
                        "TLS certificate not reloaded, the previous one is still served: {e}"
                    ),
                }
            }
        })))
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Stops a [`ReloadingCert::watch`] task when dropped.
#[derive(Debug)]
pub struct WatchGuard(Option<JoinHandle<()>>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

type Read = Result<(Vec<u8>, Vec<u8>), TlsError>;

fn read_both(cert: &Path, key: &Path) -> (Seen, Read) {
    let read = std::fs::read(cert)
        .map_err(|source| TlsError::ReadCert {
            path: cert.to_path_buf(),
            source,
        })
        .and_then(|c| {
            std::fs::read(key)
                .map(|k| (c, k))
                .map_err(|source| TlsError::ReadKey {
                    path: key.to_path_buf(),
                    source,
                })
        });
    let seen = match &read {
        Ok((c, k)) => {
            let mut h = Sha256::new();
            h.update((c.len() as u64).to_be_bytes());
            h.update(c);
            h.update(k);
            Seen::Contents(h.finalize().into())
        }
        Err(e) => Seen::Unreadable(e.to_string()),
    };
    (seen, read)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A self-signed P-256 pair (CN=one.test) and another key, made with openssl for these tests.
    fn pem(name: &str) -> &'static str {
        match name {
            "cert" => CERT,
            "key" => KEY,
            _ => OTHER_KEY,
        }
    }

    const CERT: &str = include_str!("testdata/one.crt");
    const KEY: &str = include_str!("testdata/one.key");
    const OTHER_KEY: &str = include_str!("testdata/other.key");

    #[test]
    fn swaps_good_pairs_and_keeps_the_old_one_on_bad_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&c, pem("cert")).unwrap();
        std::fs::write(&k, pem("key")).unwrap();
        let r = ReloadingCert::load(&c, &k).unwrap();
        let first = fingerprint(&r.current());
        assert!(matches!(r.check(), Reload::Unchanged));

        // A key that is not the certificate's.
        std::fs::write(&k, pem("other")).unwrap();
        match r.check() {
            Reload::Rejected(e @ TlsError::Mismatch { .. }) => {
                assert!(e.to_string().contains("k.pem"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fingerprint(&r.current()), first);
        // Reported once per change.
        assert!(matches!(r.check(), Reload::Unchanged));

        // Garbage in the certificate file.
        std::fs::write(&k, pem("key")).unwrap();
        std::fs::write(&c, "not a certificate").unwrap();
        assert!(matches!(
            r.check(),
            Reload::Rejected(TlsError::BadCert { .. })
        ));
        // A missing key file.
        std::fs::write(&c, pem("cert")).unwrap();
        std::fs::remove_file(&k).unwrap();
        assert!(matches!(
            r.check(),
            Reload::Rejected(TlsError::ReadKey { .. })
        ));
        assert_eq!(fingerprint(&r.current()), first);

        // The good pair back: reloaded.
        std::fs::write(&k, pem("key")).unwrap();
        assert!(matches!(r.check(), Reload::Reloaded(p) if p == first));
    }

    #[test]
    fn start_up_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&c, pem("cert")).unwrap();
        let e = ReloadingCert::load(&c, &k).unwrap_err();
        assert!(
            e.to_string().starts_with("cannot read the TLS key file")
                && e.to_string().contains("k.pem"),
            "{e}"
        );
        std::fs::write(
            &k,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = ReloadingCert::load(&c, &k).unwrap_err();
        assert!(matches!(e, TlsError::BadKey { .. }), "{e}");
        std::fs::write(&k, "").unwrap();
        let e = ReloadingCert::load(&c, &k).unwrap_err();
        assert!(matches!(e, TlsError::BadKey { .. }), "{e}");
    }
}
