//! Legacy TLS servers for the scanner's tests: rustls will not serve TLS 1.0/1.1, NULL or other
//! weak suites, RSA 1024 keys or SHA-1 signed certificates, so this module runs Debian's
//! `openssl s_server` (OpenSSL 3.0) on 127.0.0.1 with a free port, `-www` so it answers HTTP,
//! and a certificate made with the `openssl` command line (rcgen cannot make RSA 1024 or SHA-1
//! certificates). By default that certificate is issued by the [`TestPki::shared`]
//! intermediate and served with it, so the scanner (trusting the test root) sees only the weakness
//! under test; [`OpensslBuilder::self_signed`] makes a self-signed one instead.
//!
//! The cipher string always ends in `:@SECLEVEL=0`. Debian's OpenSSL 3.0 is built without
//! `enable-weak-ssl-ciphers` (`OPENSSL_NO_WEAK_SSL_CIPHERS` in `openssl/configuration.h`): RC4
//! and 3DES suites are compiled out of libssl and no provider or security level brings them
//! back, so the [`OpensslBuilder::rc4`] and [`OpensslBuilder::triple_des`] presets fail to start
//! there with an error saying so (see [`cipher_available`]).
//!
//! `s_server` handles one connection at a time. Dropping an [`OpensslServer`] kills the process.

use std::fmt;
use std::fs;
use std::io::{self, Read as _};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::pki::{LOCALHOST_NAMES, TestPki};

/// How long [`OpensslBuilder::start`] waits for `s_server` to accept TCP connections.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`s_client`] may run.
pub const S_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Validity of generated certificates, from now.
const CERT_DAYS: &str = "90";

/// The key and signature of the certificate generated for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpensslCert {
    /// RSA 2048, sha256WithRSAEncryption.
    #[default]
    Rsa2048Sha256,
    /// RSA 1024, sha256WithRSAEncryption.
    Rsa1024Sha256,
    /// RSA 2048, sha1WithRSAEncryption.
    Rsa2048Sha1,
}

impl OpensslCert {
    fn bits(self) -> u32 {
        match self {
            OpensslCert::Rsa1024Sha256 => 1024,
            OpensslCert::Rsa2048Sha256 | OpensslCert::Rsa2048Sha1 => 2048,
        }
    }

    fn digest_flag(self) -> &'static str {
        match self {
            OpensslCert::Rsa2048Sha1 => "-sha1",
            OpensslCert::Rsa2048Sha256 | OpensslCert::Rsa1024Sha256 => "-sha256",
        }
    }
}

/// Configuration of an [`OpensslServer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpensslBuilder {
    binary: PathBuf,
    protocol_flags: Vec<String>,
    cipher: String,
    ciphersuites: Option<String>,
    legacy_provider: bool,
    cert: OpensslCert,
    self_signed: bool,
    names: Vec<String>,
    extra_args: Vec<String>,
}

impl Default for OpensslBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl OpensslBuilder {
    /// `s_server` with its default protocols (TLS 1.2 and 1.3), cipher string `DEFAULT`, an RSA
    /// 2048 SHA-256 certificate for localhost and 127.0.0.1 issued by the test PKI.
    pub fn new() -> Self {
        Self {
            binary: PathBuf::from("openssl"),
            protocol_flags: Vec::new(),
            cipher: "DEFAULT".to_owned(),
            ciphersuites: None,
            legacy_provider: false,
            cert: OpensslCert::default(),
            self_signed: false,
            names: LOCALHOST_NAMES.iter().map(|n| (*n).to_owned()).collect(),
            extra_args: Vec::new(),
        }
    }

    /// TLS 1.0 only (`-tls1`), cipher string `ALL`.
    pub fn tls10_only() -> Self {
        Self::new().protocols(&["-tls1"]).cipher("ALL")
    }

    /// TLS 1.1 only (`-tls1_1`), cipher string `ALL`.
    pub fn tls11_only() -> Self {
        Self::new().protocols(&["-tls1_1"]).cipher("ALL")
    }

    /// TLS 1.2 with RC4-SHA and RC4-MD5 only, legacy provider loaded. Does not start on
    /// Debian's OpenSSL 3.0 (built without `enable-weak-ssl-ciphers`).
    pub fn rc4() -> Self {
        Self::new()
            .protocols(&["-tls1_2"])
            .cipher("RC4-SHA:RC4-MD5")
            .legacy_provider(true)
    }

    /// TLS 1.2 with DES-CBC3-SHA only. Does not start on Debian's OpenSSL 3.0 (built without
    /// `enable-weak-ssl-ciphers`, which also removes 3DES suites since OpenSSL 1.1.0).
    pub fn triple_des() -> Self {
        Self::new().protocols(&["-tls1_2"]).cipher("DES-CBC3-SHA")
    }

    /// TLS 1.2 with NULL-SHA256 and NULL-SHA only (no encryption).
    pub fn null_cipher() -> Self {
        Self::new()
            .protocols(&["-tls1_2"])
            .cipher("NULL-SHA256:NULL-SHA")
    }

    /// Default protocols and suites, RSA 1024 key (SHA-256 signature).
    pub fn rsa1024() -> Self {
        Self::new().cert(OpensslCert::Rsa1024Sha256)
    }

    /// Default protocols and suites, RSA 2048 key with a SHA-1 signature.
    pub fn sha1_signature() -> Self {
        Self::new().cert(OpensslCert::Rsa2048Sha1)
    }

    /// The `openssl` binary to run (default: `openssl` from `PATH`).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = path.into();
        self
    }

    /// Protocol flags for `s_server`, e.g. `-tls1`, `-tls1_1`, `-tls1_2`, `-no_tls1_3`.
    pub fn protocols(mut self, flags: &[&str]) -> Self {
        self.protocol_flags = flags.iter().map(|f| (*f).to_owned()).collect();
        self
    }

    /// TLS 1.2-and-older cipher string (`-cipher`); `:@SECLEVEL=0` is always appended.
    pub fn cipher(mut self, cipher: &str) -> Self {
        self.cipher = cipher.to_owned();
        self
    }

    /// TLS 1.3 suites (`-ciphersuites`), e.g. `TLS_AES_128_GCM_SHA256`.
    pub fn ciphersuites(mut self, suites: &str) -> Self {
        self.ciphersuites = Some(suites.to_owned());
        self
    }

    /// Loads the legacy provider (`-provider legacy -provider default`).
    pub fn legacy_provider(mut self, on: bool) -> Self {
        self.legacy_provider = on;
        self
    }

    /// The certificate's key size and signature digest.
    pub fn cert(mut self, cert: OpensslCert) -> Self {
        self.cert = cert;
        self
    }

    /// Self-signed certificate instead of one issued by the test PKI's intermediate.
    pub fn self_signed(mut self, on: bool) -> Self {
        self.self_signed = on;
        self
    }

    /// Names in the certificate (DNS names or IP addresses; the first is the CN).
    pub fn names(mut self, names: &[&str]) -> Self {
        self.names = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// One more raw `s_server` argument.
    pub fn arg(mut self, arg: &str) -> Self {
        self.extra_args.push(arg.to_owned());
        self
    }

    /// The full `-cipher` value.
    pub fn cipher_string(&self) -> String {
        format!("{}:@SECLEVEL=0", self.cipher)
    }

    /// Generates the certificate, starts `s_server` and waits until it accepts TCP.
    pub fn start(&self) -> anyhow::Result<OpensslServer> {
        let version = openssl_version(&self.binary)?;
        if !cipher_available_with(&self.binary, &self.cipher_string(), self.legacy_provider) {
            bail!(
                "openssl: cipher string {:?} matches no cipher suite in this OpenSSL ({version}){}",
                self.cipher_string(),
                weak_cipher_hint(&self.cipher)
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("canhgac-openssl-")
            .tempdir()
            .context("openssl: cannot create a temporary directory")?;
        let files = self.make_certificate(dir.path())?;
        let mut last_error = None;
        for _ in 0..3 {
            match self.spawn(dir.path(), &files)? {
                Spawned::Ready(child, addr, args) => {
                    return Ok(OpensslServer {
                        child,
                        addr,
                        args,
                        files,
                        dir,
                    });
                }
                // Someone took the port between choosing and binding: choose another.
                Spawned::PortTaken(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("openssl s_server did not start")))
    }

    fn make_certificate(&self, dir: &Path) -> anyhow::Result<CertFiles> {
        let files = CertFiles {
            key: dir.join("server.key"),
            cert: dir.join("server.pem"),
            chain: (!self.self_signed).then(|| dir.join("chain.pem")),
            root: (!self.self_signed).then(|| dir.join("root.pem")),
        };
        let cnf = dir.join("openssl.cnf");
        fs::write(&cnf, self.config_text())?;
        run(
            &self.binary,
            &[
                "genpkey".as_ref(),
                "-algorithm".as_ref(),
                "RSA".as_ref(),
                "-pkeyopt".as_ref(),
                format!("rsa_keygen_bits:{}", self.cert.bits()).as_ref(),
                "-out".as_ref(),
                files.key.as_os_str(),
            ],
        )?;
        let digest = self.cert.digest_flag();
        if self.self_signed {
            run(
                &self.binary,
                &[
                    "req".as_ref(),
                    "-new".as_ref(),
                    "-x509".as_ref(),
                    "-config".as_ref(),
                    cnf.as_os_str(),
                    "-extensions".as_ref(),
                    "v3_leaf".as_ref(),
                    "-key".as_ref(),
                    files.key.as_os_str(),
                    "-days".as_ref(),
                    CERT_DAYS.as_ref(),
                    digest.as_ref(),
                    "-out".as_ref(),
                    files.cert.as_os_str(),
                ],
            )?;
        } else {
            let pki = TestPki::shared();
            let ca_cert = dir.join("intermediate.pem");
            let ca_key = dir.join("intermediate.key");
            let csr = dir.join("server.csr");
            fs::write(&ca_cert, pki.intermediate_pem())?;
            fs::write(&ca_key, pki.intermediate_key_pem())?;
            if let (Some(chain), Some(root)) = (&files.chain, &files.root) {
                fs::write(chain, pki.intermediate_pem())?;
                fs::write(root, pki.root_pem())?;
            }
            run(
                &self.binary,
                &[
                    "req".as_ref(),
                    "-new".as_ref(),
                    "-config".as_ref(),
                    cnf.as_os_str(),
                    "-key".as_ref(),
                    files.key.as_os_str(),
                    "-out".as_ref(),
                    csr.as_os_str(),
                ],
            )?;
            let serial = format!("0x{}", hex_serial());
            run(
                &self.binary,
                &[
                    "x509".as_ref(),
                    "-req".as_ref(),
                    "-in".as_ref(),
                    csr.as_os_str(),
                    "-CA".as_ref(),
                    ca_cert.as_os_str(),
                    "-CAkey".as_ref(),
                    ca_key.as_os_str(),
                    "-set_serial".as_ref(),
                    serial.as_ref(),
                    "-days".as_ref(),
                    CERT_DAYS.as_ref(),
                    digest.as_ref(),
                    "-extfile".as_ref(),
                    cnf.as_os_str(),
                    "-extensions".as_ref(),
                    "v3_leaf".as_ref(),
                    "-out".as_ref(),
                    files.cert.as_os_str(),
                ],
            )?;
            let _ = fs::remove_file(&ca_key);
        }
        Ok(files)
    }

    fn config_text(&self) -> String {
        let cn = self.names.first().map_or("localhost", String::as_str);
        let san: Vec<String> = self
            .names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(_) => format!("IP:{n}"),
                Err(_) => format!("DNS:{n}"),
            })
            .collect();
        format!(
            "[req]\ndistinguished_name = dn\nprompt = no\n\n\
             [dn]\nC = VN\nO = canhgac test\nCN = {cn}\n\n\
             [v3_leaf]\nbasicConstraints = critical,CA:FALSE\n\
             keyUsage = critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage = serverAuth\nsubjectAltName = {}\n\
             subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
            san.join(",")
        )
    }

    fn spawn(&self, dir: &Path, files: &CertFiles) -> anyhow::Result<Spawned> {
        let port = {
            let probe = crate::background::bind_loopback()
                .context("openssl: cannot bind 127.0.0.1:0 to choose a port")?;
            probe.local_addr()?.port()
        };
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        let mut args: Vec<String> = vec![
            "s_server".into(),
            "-accept".into(),
            addr.to_string(),
            "-cert".into(),
            files.cert.display().to_string(),
            "-key".into(),
            files.key.display().to_string(),
            "-www".into(),
            "-cipher".into(),
            self.cipher_string(),
        ];
        if let Some(chain) = &files.chain {
            args.extend(["-cert_chain".into(), chain.display().to_string()]);
        }
        if let Some(suites) = &self.ciphersuites {
            args.extend(["-ciphersuites".into(), suites.clone()]);
        }
        if self.legacy_provider {
            args.extend(
                ["-provider", "legacy", "-provider", "default"]
                    .iter()
                    .map(|s| (*s).to_owned()),
            );
        }
        args.extend(self.protocol_flags.iter().cloned());
        args.extend(self.extra_args.iter().cloned());

        let stdout_path = dir.join("s_server.stdout");
        let stderr_path = dir.join("s_server.stderr");
        let mut child = Command::new(&self.binary)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout_path)?)
            .stderr(fs::File::create(&stderr_path)?)
            .spawn()
            .map_err(|e| spawn_error(&self.binary, e))?;
        let command = format!("{} {}", self.binary.display(), args.join(" "));

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
                let err = exited_error(&command, status, &stderr);
                if stderr.contains("Address already in use") {
                    return Ok(Spawned::PortTaken(err));
                }
                return Err(err);
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                // Make sure the listener is ours, not another process that took the port.
                thread::sleep(Duration::from_millis(50));
                if child.try_wait()?.is_none() {
                    return Ok(Spawned::Ready(child, addr, args));
                }
                continue;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
                bail!(
                    "openssl s_server did not accept connections on {addr} within {START_TIMEOUT:?} \
                     ({command}); stderr:\n{stderr}"
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

enum Spawned {
    Ready(Child, SocketAddr, Vec<String>),
    PortTaken(anyhow::Error),
}

#[derive(Debug)]
struct CertFiles {
    key: PathBuf,
    cert: PathBuf,
    chain: Option<PathBuf>,
    root: Option<PathBuf>,
}

/// A running `openssl s_server` on 127.0.0.1; dropping it kills the process.
pub struct OpensslServer {
    child: Child,
    addr: SocketAddr,
    args: Vec<String>,
    files: CertFiles,
    dir: tempfile::TempDir,
}

impl fmt::Debug for OpensslServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpensslServer")
            .field("addr", &self.addr)
            .field("pid", &self.child.id())
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

impl OpensslServer {
    /// Starts [`OpensslBuilder::tls10_only`].
    pub fn tls10_only() -> anyhow::Result<Self> {
        OpensslBuilder::tls10_only().start()
    }

    /// Starts [`OpensslBuilder::tls11_only`].
    pub fn tls11_only() -> anyhow::Result<Self> {
        OpensslBuilder::tls11_only().start()
    }

    /// Starts [`OpensslBuilder::rc4`] (fails on Debian's OpenSSL 3.0).
    pub fn rc4() -> anyhow::Result<Self> {
        OpensslBuilder::rc4().start()
    }

    /// Starts [`OpensslBuilder::triple_des`] (fails on Debian's OpenSSL 3.0).
    pub fn triple_des() -> anyhow::Result<Self> {
        OpensslBuilder::triple_des().start()
    }

    /// Starts [`OpensslBuilder::null_cipher`].
    pub fn null_cipher() -> anyhow::Result<Self> {
        OpensslBuilder::null_cipher().start()
    }

    /// Starts [`OpensslBuilder::rsa1024`].
    pub fn rsa1024() -> anyhow::Result<Self> {
        OpensslBuilder::rsa1024().start()
    }

    /// Starts [`OpensslBuilder::sha1_signature`].
    pub fn sha1_signature() -> anyhow::Result<Self> {
        OpensslBuilder::sha1_signature().start()
    }

    /// The listening address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The `s_server` arguments used.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The server certificate (PEM file).
    pub fn cert_path(&self) -> &Path {
        &self.files.cert
    }

    /// The test root CA file the chain leads to, unless the certificate is self-signed.
    pub fn ca_path(&self) -> Option<&Path> {
        self.files.root.as_deref()
    }

    /// What `s_server` wrote to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.path().join("s_server.stderr")).unwrap_or_default()
    }

    /// What `s_server` wrote to stdout so far.
    pub fn stdout(&self) -> String {
        fs::read_to_string(self.dir.path().join("s_server.stdout")).unwrap_or_default()
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether this OpenSSL knows any suite matching `cipher` (`:@SECLEVEL=0` appended), with or
/// without the legacy provider loaded.
pub fn cipher_available(cipher: &str, legacy_provider: bool) -> bool {
    cipher_available_with(
        Path::new("openssl"),
        &format!("{cipher}:@SECLEVEL=0"),
        legacy_provider,
    )
}

fn cipher_available_with(binary: &Path, cipher_string: &str, legacy_provider: bool) -> bool {
    let mut cmd = Command::new(binary);
    cmd.arg("ciphers");
    if legacy_provider {
        cmd.args(["-provider", "legacy", "-provider", "default"]);
    }
    cmd.arg(cipher_string)
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && !out.stdout.is_empty())
}

/// `openssl version` (fails with a clear error if the binary is missing).
pub fn openssl_version(binary: &Path) -> anyhow::Result<String> {
    let out = run(binary, &["version".as_ref()])?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

fn weak_cipher_hint(cipher: &str) -> &'static str {
    let upper = cipher.to_ascii_uppercase();
    if upper.contains("RC4") || upper.contains("DES") {
        ". RC4 and 3DES suites only exist in OpenSSL builds configured with \
         enable-weak-ssl-ciphers; Debian builds without it (OPENSSL_NO_WEAK_SSL_CIPHERS in \
         openssl/configuration.h), so neither the legacy provider nor @SECLEVEL=0 can enable them"
    } else {
        ""
    }
}

fn spawn_error(binary: &Path, e: io::Error) -> anyhow::Error {
    if e.kind() == io::ErrorKind::NotFound {
        anyhow::anyhow!(
            "openssl binary {:?} not found (install the Debian package `openssl`): {e}",
            binary.display().to_string()
        )
    } else {
        anyhow::anyhow!("cannot run {}: {e}", binary.display())
    }
}

fn exited_error(command: &str, status: ExitStatus, stderr: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "openssl s_server exited ({status}) before accepting: {command}\nstderr:\n{stderr}"
    )
}

/// Runs `binary args`, returning stdout, or an error carrying stderr.
fn run(binary: &Path, args: &[&std::ffi::OsStr]) -> anyhow::Result<Vec<u8>> {
    let out = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(binary, e))?;
    if !out.status.success() {
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        bail!(
            "`{} {}` failed ({}): {}",
            binary.display(),
            shown.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

fn hex_serial() -> String {
    use std::hash::{BuildHasher, RandomState};
    let a = RandomState::new().hash_one(Instant::now());
    let b = RandomState::new().hash_one(std::process::id());
    // Positive, non-zero, 16 bytes.
    format!("{:016x}{:016x}", (a >> 1) | 1 << 62, b)
}

/// What [`s_client`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SClientOutcome {
    /// Exit status 0 and a cipher was negotiated.
    pub handshake_ok: bool,
    /// `Protocol  :` of the session, e.g. `TLSv1`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3` (taken from
    /// the `New, ...` line when no session block was printed).
    pub protocol: Option<String>,
    /// Negotiated cipher (`New, ..., Cipher is X`), e.g. `NULL-SHA256`.
    pub cipher: Option<String>,
    /// stdout and stderr.
    pub output: String,
}

/// Runs `openssl s_client -connect 127.0.0.1:PORT -servername localhost ARGS` with an empty
/// stdin (handshake, then close) and reports what was negotiated. Killed after
/// [`S_CLIENT_TIMEOUT`].
pub fn s_client(port: u16, args: &[&str]) -> anyhow::Result<SClientOutcome> {
    let binary = Path::new("openssl");
    let mut child = Command::new(binary)
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(binary, e))?;
    let mut stdout = child.stdout.take().context("s_client stdout")?;
    let mut stderr = child.stderr.take().context("s_client stderr")?;
    let out_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + S_CLIENT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("openssl s_client to port {port} did not finish within {S_CLIENT_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let output = format!(
        "{}{}",
        out_reader.join().unwrap_or_default(),
        err_reader.join().unwrap_or_default()
    );
    let field = |name: &str| {
        output.lines().find_map(|line| {
            let rest = line.trim_start().strip_prefix(name)?;
            let value = rest.trim_start().strip_prefix(':')?.trim();
            (!value.is_empty()).then(|| value.to_owned())
        })
    };
    // "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384" is always printed; the SSL-Session block
    // ("Protocol  : TLSv1") only when a session was received before stdin closed.
    let new_line = output.lines().find_map(|line| {
        let (protocol, cipher) = line.strip_prefix("New, ")?.split_once(", Cipher is ")?;
        Some((protocol.trim().to_owned(), cipher.trim().to_owned()))
    });
    let negotiated = |v: &String| v != "(NONE)" && v != "0000";
    let protocol = field("Protocol")
        .or_else(|| new_line.as_ref().map(|(p, _)| p.clone()))
        .filter(negotiated);
    let cipher = new_line
        .map(|(_, c)| c)
        .or_else(|| field("Cipher"))
        .filter(negotiated);
    Ok(SClientOutcome {
        handshake_ok: status.success() && cipher.is_some(),
        protocol,
        cipher,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEAK_OK: &str = "ALL:COMPLEMENTOFALL:@SECLEVEL=0";

    fn x509_text(path: &Path) -> String {
        let out = run(
            Path::new("openssl"),
            &[
                "x509".as_ref(),
                "-in".as_ref(),
                path.as_os_str(),
                "-noout".as_ref(),
                "-text".as_ref(),
            ],
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tls10_only_speaks_tls10_only() {
        let server = OpensslServer::tls10_only().unwrap();
        let ok = s_client(server.port(), &["-tls1", "-cipher", WEAK_OK]).unwrap();
        assert!(ok.handshake_ok, "{}", ok.output);
        assert_eq!(ok.protocol.as_deref(), Some("TLSv1"), "{}", ok.output);
        let no = s_client(server.port(), &["-tls1_2", "-cipher", WEAK_OK]).unwrap();
        assert!(!no.handshake_ok, "{}", no.output);
    }

    #[test]
    fn tls11_only_speaks_tls11_only() {
        let server = OpensslServer::tls11_only().unwrap();
        let ok = s_client(server.port(), &["-tls1_1", "-cipher", WEAK_OK]).unwrap();
        assert!(ok.handshake_ok, "{}", ok.output);
        assert_eq!(ok.protocol.as_deref(), Some("TLSv1.1"), "{}", ok.output);
        let no = s_client(server.port(), &["-tls1", "-cipher", WEAK_OK]).unwrap();
        assert!(!no.handshake_ok, "{}", no.output);
    }

    #[test]
    fn null_cipher_negotiates_null() {
        let server = OpensslServer::null_cipher().unwrap();
        let ok = s_client(server.port(), &["-tls1_2", "-cipher", WEAK_OK]).unwrap();
        assert!(ok.handshake_ok, "{}", ok.output);
        assert_eq!(ok.protocol.as_deref(), Some("TLSv1.2"));
        assert_eq!(ok.cipher.as_deref(), Some("NULL-SHA256"), "{}", ok.output);
        let sha1 = s_client(
            server.port(),
            &["-tls1_2", "-cipher", "NULL-SHA:@SECLEVEL=0"],
        )
        .unwrap();
        assert_eq!(sha1.cipher.as_deref(), Some("NULL-SHA"), "{}", sha1.output);
        // A client with the default cipher list has nothing in common with it.
        let no = s_client(server.port(), &["-tls1_2"]).unwrap();
        assert!(!no.handshake_ok, "{}", no.output);
    }

    #[test]
    fn rsa1024_serves_a_1024_bit_key_chained_to_the_test_root() {
        let server = OpensslServer::rsa1024().unwrap();
        assert!(x509_text(server.cert_path()).contains("Public-Key: (1024 bit)"));
        let ca = server.ca_path().unwrap().display().to_string();
        let ok = s_client(
            server.port(),
            &[
                "-cipher",
                "DEFAULT:@SECLEVEL=0",
                "-CAfile",
                &ca,
                "-verify_return_error",
            ],
        )
        .unwrap();
        assert!(ok.handshake_ok, "{}", ok.output);
        assert!(
            ok.output.contains("Server public key is 1024 bit"),
            "{}",
            ok.output
        );
        assert!(
            ok.output.contains("Verify return code: 0 (ok)"),
            "{}",
            ok.output
        );
    }

    #[test]
    fn sha1_signature_is_sha1_with_rsa() {
        let server = OpensslServer::sha1_signature().unwrap();
        let text = x509_text(server.cert_path());
        assert!(
            text.contains("Signature Algorithm: sha1WithRSAEncryption"),
            "{text}"
        );
        assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
        assert!(
            text.contains("DNS:localhost, IP Address:127.0.0.1"),
            "{text}"
        );
        let ca = server.ca_path().unwrap().display().to_string();
        let lax = s_client(
            server.port(),
            &["-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", &ca],
        )
        .unwrap();
        assert!(lax.handshake_ok, "{}", lax.output);
        assert!(
            lax.output.contains("Verify return code: 0 (ok)"),
            "{}",
            lax.output
        );
        // At OpenSSL's default security level the SHA-1 signature is refused.
        let strict = s_client(server.port(), &["-CAfile", &ca]).unwrap();
        assert!(
            strict
                .output
                .contains("Verify return code: 68 (CA signature digest algorithm too weak)"),
            "{}",
            strict.output
        );
    }

    /// RC4 and 3DES: start and handshake where this OpenSSL has the suites, otherwise a clear
    /// error (Debian's 3.0 build).
    #[test]
    fn rc4_and_triple_des_work_or_say_why_not() {
        for (builder, suite, legacy) in [
            (OpensslBuilder::rc4(), "RC4-SHA", true),
            (OpensslBuilder::triple_des(), "DES-CBC3-SHA", false),
        ] {
            if cipher_available(suite, legacy) {
                let server = builder.start().unwrap();
                let mut args = vec!["-tls1_2", "-cipher", WEAK_OK];
                if legacy {
                    args.extend(["-provider", "legacy", "-provider", "default"]);
                }
                let ok = s_client(server.port(), &args).unwrap();
                assert!(ok.handshake_ok, "{}", ok.output);
                assert_eq!(ok.cipher.as_deref(), Some(suite));
            } else {
                let err = format!("{:#}", builder.start().unwrap_err());
                assert!(err.contains("matches no cipher suite"), "{err}");
                assert!(err.contains("enable-weak-ssl-ciphers"), "{err}");
            }
        }
    }

    #[test]
    fn default_builder_serves_https_to_rustls() {
        use std::io::Write as _;
        let server = OpensslBuilder::new().start().unwrap();
        let pki = TestPki::shared();
        let mut conn = rustls::ClientConnection::new(
            pki.client_config(),
            rustls_pki_types::ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut tcp = TcpStream::connect(server.addr()).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        tls.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut response = Vec::new();
        let _ = tls.read_to_end(&mut response); // s_server may close without close_notify
        let response = String::from_utf8_lossy(&response);
        assert!(response.starts_with("HTTP/1.0 200 ok"), "{response}");
        assert_eq!(
            conn.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
    }

    #[test]
    fn self_signed_and_drop() {
        let server = OpensslBuilder::new().self_signed(true).start().unwrap();
        assert!(server.ca_path().is_none());
        let text = x509_text(server.cert_path());
        assert!(
            text.contains("Issuer: C = VN, O = canhgac test, CN = localhost"),
            "{text}"
        );
        let addr = server.addr();
        drop(server);
        assert!(TcpStream::connect(addr).is_err());
    }

    #[test]
    fn missing_binary_and_bad_arguments_are_explained() {
        let err = OpensslBuilder::new()
            .binary("/nonexistent/openssl")
            .start()
            .unwrap_err();
        assert!(format!("{err:#}").contains("not found"), "{err:#}");
        let err = OpensslBuilder::new()
            .arg("-no-such-option")
            .start()
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("exited") && text.contains("no-such-option"),
            "{text}"
        );
    }
}
