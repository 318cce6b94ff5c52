//! Debian's nginx on 127.0.0.1, configured the way agencies configure it, for the HTTP probe's
//! redirect and header tests: what agencies actually run, not a stand-in.
//!
//! Each instance gets its own prefix directory, config, logs and pid file, runs in the
//! foreground (`daemon off; master_process off;`), and is killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::pki::Leaf;

/// A running nginx; dropping it stops it.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    http_port: u16,
    https_port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// The nginx binary: `nginx` on PATH or Debian's /usr/sbin/nginx.
pub fn binary() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("nginx"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    candidates
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/nginx")])
        .find(|p| p.is_file())
}

impl Nginx {
    /// Starts nginx with `server_blocks`: nginx `server { ... }` text in which `{HTTP_PORT}`,
    /// `{HTTPS_PORT}`, `{CERT}` and `{KEY}` are replaced (the certificate files hold `leaf`).
    pub fn start(leaf: &Leaf, server_blocks: &str) -> anyhow::Result<Nginx> {
        let bin = binary().context("nginx is not installed (scripts/test installs nginx-light)")?;
        let dir = tempfile::tempdir()?;
        let (cert, key) = leaf.write_pem_files(dir.path())?;
        let http_port = free_port()?;
        let https_port = free_port()?;
        let servers = server_blocks
            .replace("{HTTP_PORT}", &http_port.to_string())
            .replace("{HTTPS_PORT}", &https_port.to_string())
            .replace("{CERT}", &cert.display().to_string())
            .replace("{KEY}", &key.display().to_string());
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             default_type text/html;\n{servers}\n}}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let child = Command::new(&bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut nginx = Nginx {
            child,
            http_port,
            https_port,
            dir,
        };
        nginx.wait_ready()?;
        Ok(nginx)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("nginx exited ({status}): {}", self.error_log());
            }
            let up = |port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up(self.http_port) && up(self.https_port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("nginx did not listen within 10 s: {}", self.error_log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// nginx's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// The plain-HTTP port.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The HTTPS port.
    pub fn https_port(&self) -> u16 {
        self.https_port
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
