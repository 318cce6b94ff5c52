//! A small headless-browser driver for the web UI tests: Debian's `/usr/bin/chromium` driven by
//! `/usr/bin/chromedriver` over the W3C WebDriver HTTP protocol, with the testkit's own reqwest.
//! A hand-written client of the dozen commands the officers' pages need (navigate, find, click,
//! type, select, upload, screenshot, script) keeps heavy browser crates out of the tree, and a
//! real Chromium catches what an HTTP client cannot: forms, redirects, cookies, scripts, layout.
//!
//! Each [`Browser`] owns one chromedriver process on a free loopback port, one session and a
//! fresh profile directory. Chromium gets a dead loopback proxy for every non-loopback address,
//! so a page can never reach outside this machine. Dropping the [`Browser`] ends the session
//! (Chromium quits) and kills chromedriver.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::Method;
use serde_json::{Value, json};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The environment variable that makes [`Browser::for_test`] skip browser tests.
pub const SKIP_ENV: &str = "CANHGAC_SKIP_BROWSER";

/// How long chromedriver gets to answer `GET /status` as ready (2 loaded cores are slow).
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one WebDriver command may take; creating the session starts Chromium.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How many chromedriver ports are tried (a chosen free port can be taken before it binds).
const DRIVER_ATTEMPTS: u32 = 3;
/// How often [`Browser::wait_for`] looks again.
const POLL: Duration = Duration::from_millis(100);
/// The W3C key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium's command line: headless, no first-run work, no background traffic, a fixed window
/// and Vietnamese as the page language. The proxy on 127.0.0.1:9 (nothing listens there) makes
/// every non-loopback request fail; Chromium always bypasses proxies for loopback addresses.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
    "--lang=vi-VN",
    "--proxy-server=http://127.0.0.1:9",
];

/// A WebDriver error answer (`value.error`, `value.message`), e.g. `no such element`.
#[derive(Debug, Clone)]
pub struct WebDriverError {
    /// The command, e.g. `POST element`.
    pub command: String,
    /// The W3C error code, e.g. `no such element`.
    pub error: String,
    /// chromedriver's message.
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WebDriver {}: {}: {}",
            self.command, self.error, self.message
        )
    }
}

impl std::error::Error for WebDriverError {}

/// The HTTP side of one WebDriver session, shared by the browser and its elements.
#[derive(Debug, Clone)]
struct Session {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    url: String,
}

impl Session {
    /// Sends one command (`path` relative to the session, empty for the session itself) and
    /// returns its `value`.
    async fn cmd(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = if path.is_empty() {
            self.url.clone()
        } else {
            format!("{}/{path}", self.url)
        };
        call(&self.http, method, &url, path, body).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.cmd(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.cmd(Method::POST, path, Some(body)).await
    }
}

/// Sends one WebDriver request and turns an error answer into a [`WebDriverError`].
async fn call(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    label: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let command = format!(
        "{method} {}",
        if label.is_empty() { "session" } else { label }
    );
    let mut req = http.request(method, url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("WebDriver {command}: no answer"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .with_context(|| format!("WebDriver {command}: body"))?;
    let mut answer: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "WebDriver {command}: HTTP {status}, not JSON: {}",
            snippet(&text)
        )
    })?;
    let value = answer["value"].take();
    if let Some(error) = value["error"].as_str() {
        return Err(WebDriverError {
            command,
            error: error.to_string(),
            message: value["message"].as_str().unwrap_or_default().to_string(),
        }
        .into());
    }
    if !status.is_success() {
        bail!("WebDriver {command}: HTTP {status}: {}", snippet(&text));
    }
    Ok(value)
}

fn snippet(s: &str) -> String {
    s.chars().take(300).collect()
}

/// A headless Chromium with one WebDriver session. See the module documentation.
#[derive(Debug)]
pub struct Browser {
    session: Session,
    session_id: String,
    port: u16,
    driver: Child,
    /// Holds the chromedriver log and Chromium's `--user-data-dir`; removed after the drop.
    dir: tempfile::TempDir,
    ended: bool,
}

impl Browser {
    /// True when both `/usr/bin/chromium` and `/usr/bin/chromedriver` exist.
    pub fn available() -> bool {
        Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file()
    }

    /// For tests: `Ok(None)` (with a note on stderr) when `CANHGAC_SKIP_BROWSER=1`, an error
    /// saying what to install when Chromium or chromedriver is missing, else a started browser.
    pub async fn for_test() -> anyhow::Result<Option<Browser>> {
        if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
            eprintln!("note: {SKIP_ENV}=1: browser test skipped");
            return Ok(None);
        }
        if !Self::available() {
            bail!(
                "the browser tests need {CHROMIUM} and {CHROMEDRIVER}: run scripts/test (it \
                 installs them) or `apt-get install chromium chromium-driver`; set {SKIP_ENV}=1 \
                 to skip these tests"
            );
        }
        Self::start().await.map(Some)
    }

    /// Starts chromedriver on a free loopback port and opens a session in a fresh profile.
    pub async fn start() -> anyhow::Result<Browser> {
        if !Self::available() {
            bail!(
                "{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("canhgac-browser-")
            .tempdir()
            .context("browser profile directory")?;
        // No proxy from the environment: chromedriver is on loopback.
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(COMMAND_TIMEOUT)
            .build()
            .context("WebDriver HTTP client")?;

        let mut failures = Vec::new();
        let mut started = None;
        for attempt in 1..=DRIVER_ATTEMPTS {
            let log = dir.path().join(format!("chromedriver-{attempt}.log"));
            match start_driver(&http, &log, dir.path()).await {
                Ok(ok) => {
                    started = Some((ok, log));
                    break;
                }
                Err(e) => failures.push(format!("attempt {attempt}: {e:#}")),
            }
        }
        let Some(((mut driver, port), log)) = started else {
            bail!("chromedriver did not start: {}", failures.join("; "));
        };

        let profile = dir.path().join("profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "pageLoadStrategy": "normal",
            "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 30_000},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": CHROMIUM_ARGS.iter().map(|a| a.to_string())
                    .chain([format!("--user-data-dir={}", profile.display())])
                    .collect::<Vec<_>>(),
            },
        }}});
        let base = format!("http://127.0.0.1:{port}");
        let created = call(
            &http,
            Method::POST,
            &format!("{base}/session"),
            "",
            Some(caps),
        )
        .await;
        let session_id = match created {
            Ok(v) => v["sessionId"].as_str().map(str::to_string),
            Err(e) => {
                stop_processes(&mut driver, &profile);
                return Err(e.context(format!(
                    "starting Chromium; chromedriver log: {}",
                    log_tail(&log)
                )));
            }
        };
        let Some(session_id) = session_id else {
            stop_processes(&mut driver, &profile);
            bail!("WebDriver POST session: answer without sessionId");
        };
        Ok(Browser {
            session: Session {
                http,
                url: format!("{base}/session/{session_id}"),
            },
            session_id,
            port,
            driver,
            dir,
            ended: false,
        })
    }

    /// Opens `url` and waits for the page load.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.session.post("url", json!({ "url": url })).await?;
        Ok(())
    }

    /// The address of the current page.
    pub async fn current_url(&self) -> anyhow::Result<String> {
        as_string(self.session.get("url").await?)
    }

    /// The title of the current page.
    pub async fn title(&self) -> anyhow::Result<String> {
        as_string(self.session.get("title").await?)
    }

    /// The current DOM serialized as HTML.
    pub async fn page_source(&self) -> anyhow::Result<String> {
        as_string(self.session.get("source").await?)
    }

    /// The first element matching the CSS selector, or an error (`no such element`).
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let v = self
            .session
            .post("element", json!({"using": "css selector", "value": css}))
            .await
            .with_context(|| format!("find `{css}`"))?;
        self.element(&v)
    }

    /// Every element matching the CSS selector (possibly none).
    pub async fn find_all(&self, css: &str) -> anyhow::Result<Vec<Element>> {
        let v = self
            .session
            .post("elements", json!({"using": "css selector", "value": css}))
            .await
            .with_context(|| format!("find all `{css}`"))?;
        let Some(list) = v.as_array() else {
            bail!("find all `{css}`: not a list: {v}");
        };
        list.iter().map(|e| self.element(e)).collect()
    }

    /// Waits until an element matches the CSS selector, looking every 100 ms.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> anyhow::Result<Element> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.find(css).await {
                Ok(e) => return Ok(e),
                Err(e) if is_no_such_element(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => {
                    let url = self.current_url().await.unwrap_or_default();
                    return Err(e.context(format!("waited {timeout:?} for `{css}` on {url}")));
                }
            }
        }
    }

    /// The rendered text of the first element matching the CSS selector.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        self.find(css).await?.text().await
    }

    /// Chooses the `<option value="value">` of the `<select>` matching `select_css`.
    pub async fn select_option(&self, select_css: &str, value: &str) -> anyhow::Result<()> {
        let css = format!("{select_css} option[value=\"{}\"]", css_string(value));
        self.find(&css).await?.click().await
    }

    /// Puts a file into the `<input type=file>` matching the CSS selector.
    pub async fn upload_file(&self, input_css: &str, path: impl AsRef<Path>) -> anyhow::Result<()> {
        let path = path.as_ref();
        let abs = std::path::absolute(path).with_context(|| format!("{}", path.display()))?;
        if !abs.is_file() {
            bail!("upload: {} is not a file", abs.display());
        }
        let text = abs
            .to_str()
            .with_context(|| format!("upload: {} is not UTF-8", abs.display()))?;
        self.find(input_css).await?.send_keys(text).await
    }

    /// Takes a PNG screenshot of the viewport, writes it to `path` (creating its folder) and
    /// returns its bytes.
    pub async fn screenshot_png(&self, path: impl AsRef<Path>) -> anyhow::Result<Vec<u8>> {
        let path = path.as_ref();
        let png = decode_base64(&as_string(self.session.get("screenshot").await?)?)
            .context("screenshot: base64")?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("{}", parent.display()))?;
        }
        std::fs::write(path, &png).with_context(|| format!("{}", path.display()))?;
        Ok(png)
    }

    /// Prints the current page as the browser prints it (print media styles, A4 portrait) and
    /// writes the PDF to `path`; returns its bytes.
    pub async fn print_pdf(&self, path: impl AsRef<Path>) -> anyhow::Result<Vec<u8>> {
        let path = path.as_ref();
        let pdf = decode_base64(&as_string(
            self.session
                .post(
                    "print",
                    json!({"orientation": "portrait", "page": {"width": 21.0, "height": 29.7}}),
                )
                .await?,
        )?)
        .context("print: base64")?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("{}", parent.display()))?;
        }
        std::fs::write(path, &pdf).with_context(|| format!("{}", path.display()))?;
        Ok(pdf)
    }

    /// Resizes the window (the viewport is a little smaller), e.g. 390×844 for a phone.
    pub async fn set_window_size(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.session
            .post("window/rect", json!({"width": width, "height": height}))
            .await?;
        Ok(())
    }

    /// Runs `script` (a function body: `return ...;`, `arguments[i]`) and returns its result.
    /// Pass elements with [`Element::as_arg`].
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.session
            .post("execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Deletes every cookie of the current page's domain.
    pub async fn delete_cookies(&self) -> anyhow::Result<()> {
        self.session.cmd(Method::DELETE, "cookie", None).await?;
        Ok(())
    }

    /// Ends the session (Chromium quits) and stops chromedriver; dropping does the same.
    pub async fn quit(mut self) -> anyhow::Result<()> {
        self.ended = true;
        // Dropping `self` then stops chromedriver and anything left.
        self.session.cmd(Method::DELETE, "", None).await.map(drop)
    }

    /// Stops at once without ending the session, as a crash would: kills chromedriver and
    /// every Chromium process of this profile (what dropping falls back to when Chromium does
    /// not quit; killing chromedriver alone leaves Chromium running).
    pub fn kill(mut self) {
        self.ended = true;
    }

    /// Chromium's `--user-data-dir` (every Chromium process of this browser names it).
    pub fn profile_dir(&self) -> PathBuf {
        self.dir.path().join("profile")
    }

    /// chromedriver's log so far (its last lines), for failure messages.
    pub fn driver_log(&self) -> String {
        let newest = std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .max();
        newest.map(|p| log_tail(&p)).unwrap_or_default()
    }

    fn element(&self, v: &Value) -> anyhow::Result<Element> {
        let id = v[ELEMENT_KEY]
            .as_str()
            .with_context(|| format!("not an element reference: {v}"))?;
        Ok(Element {
            session: self.session.clone(),
            id: id.to_string(),
        })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.ended {
            // Blocking and best effort: Drop cannot await, and the testkit has no blocking
            // reqwest. chromedriver answers once Chromium has quit.
            let _ = delete_session_blocking(self.port, &self.session_id);
        }
        let profile = self.profile_dir();
        stop_processes(&mut self.driver, &profile);
    }
}

/// `DELETE /session/ID` over a plain socket, waiting (bounded) for the answer.
fn delete_session_blocking(port: u16, session_id: &str) -> std::io::Result<()> {
    let addr = (Ipv4Addr::LOCALHOST, port).into();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    write!(
        s,
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // chromedriver keeps the connection open whatever the request says: read the head and
    // `Content-Length` bytes of body instead of reading to the end.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if answer.len() >= end + 4 + length {
                return Ok(());
            }
        }
        match s.read(&mut chunk)? {
            0 => return Ok(()),
            n => answer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// One element of the page (a W3C element reference).
#[derive(Debug, Clone)]
pub struct Element {
    session: Session,
    id: String,
}

impl Element {
    /// Clicks the element (scrolled into view; an error if something covers it).
    pub async fn click(&self) -> anyhow::Result<()> {
        self.session.post(&self.path("click"), json!({})).await?;
        Ok(())
    }

    /// Types `text` into the element (any Unicode text; `\u{E007}` is Enter).
    pub async fn send_keys(&self, text: &str) -> anyhow::Result<()> {
        self.session
            .post(&self.path("value"), json!({ "text": text }))
            .await?;
        Ok(())
    }

    /// Same as [`Element::send_keys`].
    pub async fn type_text(&self, text: &str) -> anyhow::Result<()> {
        self.send_keys(text).await
    }

    /// Empties an input or textarea.
    pub async fn clear(&self) -> anyhow::Result<()> {
        self.session.post(&self.path("clear"), json!({})).await?;
        Ok(())
    }

    /// The rendered (visible) text.
    pub async fn text(&self) -> anyhow::Result<String> {
        as_string(self.session.get(&self.path("text")).await?)
    }

    /// An HTML attribute as written, `None` when absent.
    pub async fn attribute(&self, name: &str) -> anyhow::Result<Option<String>> {
        let v = self
            .session
            .get(&self.path(&format!("attribute/{name}")))
            .await?;
        Ok(v.as_str().map(str::to_string))
    }

    /// A DOM property (e.g. `value`, `checked`), as JSON.
    pub async fn property(&self, name: &str) -> anyhow::Result<Value> {
        self.session
            .get(&self.path(&format!("property/{name}")))
            .await
    }

    /// This element as an argument of [`Browser::execute`].
    pub fn as_arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    fn path(&self, cmd: &str) -> String {
        format!("element/{}/{cmd}", self.id)
    }
}

/// Where tests put screenshots: `<workspace>/target/screenshots` (or under `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("screenshots")
}

/// Picks a free loopback port, starts chromedriver on it and waits until it says it is ready.
/// Chromium inherits `config` as its XDG folders, so its crash database stays out of `$HOME`.
async fn start_driver(
    http: &reqwest::Client,
    log: &Path,
    config: &Path,
) -> anyhow::Result<(Child, u16)> {
    let port = crate::background::bind_loopback()?.local_addr()?.port();
    let out = std::fs::File::create(log).with_context(|| format!("{}", log.display()))?;
    let mut child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .env("XDG_CONFIG_HOME", config)
        .env("XDG_CACHE_HOME", config)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("running {CHROMEDRIVER}"))?;
    let status_url = format!("http://127.0.0.1:{port}/status");
    let deadline = Instant::now() + DRIVER_READY_TIMEOUT;
    loop {
        if let Some(exit) = child.try_wait()? {
            bail!("chromedriver exited ({exit}): {}", log_tail(log));
        }
        let ready = http
            .get(&status_url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()
            .map(|r| r.json::<Value>());
        if let Some(body) = ready
            && body.await.is_ok_and(|v| v["value"]["ready"] == true)
        {
            return Ok((child, port));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "chromedriver on port {port} not ready after {DRIVER_READY_TIMEOUT:?}: {}",
                log_tail(log)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Kills chromedriver, then any Chromium process still naming `profile`, and waits (at most
/// 5 s) until they are gone so that the profile folder can be removed.
fn stop_processes(driver: &mut Child, profile: &Path) {
    let _ = driver.kill();
    let _ = driver.wait();
    let needle = format!("--user-data-dir={}", profile.display());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = processes_mentioning(&needle);
        if pids.is_empty() || Instant::now() >= deadline {
            return;
        }
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(pids.iter().map(u32::to_string))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The ids of the processes whose command line contains `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(needle)
                .then_some(pid)
        })
        .collect()
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn is_no_such_element(e: &anyhow::Error) -> bool {
    e.downcast_ref::<WebDriverError>()
        .is_some_and(|w| w.error == "no such element")
}

fn as_string(v: Value) -> anyhow::Result<String> {
    match v {
        Value::String(s) => Ok(s),
        other => bail!("expected a string from WebDriver, got {other}"),
    }
}

/// Escapes a value for a double-quoted CSS string.
fn css_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Standard base64 (with or without padding), as WebDriver screenshots are sent.
fn decode_base64(s: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b'\r' | b'\n' => continue,
            _ => bail!("invalid base64 byte {c:#04x}"),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_every_padding() {
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert_eq!(decode_base64("iVBORw0KGgo=").unwrap(), b"\x89PNG\r\n\x1a\n");
        assert_eq!(decode_base64("+/+/").unwrap(), [0xfb, 0xff, 0xbf]);
        assert!(decode_base64("YW*=").is_err());
    }

    #[test]
    fn css_strings_are_escaped() {
        assert_eq!(css_string(r#"a"b\c"#), r#"a\"b\\c"#);
    }
}
