//! Browser sessions and sign-in throttling.
//!
//! A session is a random 256-bit id sent as the `canhgac_session` cookie and stored only as its
//! SHA-256 in [`Table::Sessions`], with the account, the times and a CSRF token. It ends after
//! [`SessionSettings::idle`] without a request, after [`SessionSettings::lifetime`] whatever
//! happens, when the user signs out, when the account's password changes (its other sessions),
//! and when the account is disabled. See `docs/access.md`.
//!
//! Failed sign-ins are counted per login and per client address in memory ([`Throttle`]):
//! a restart forgets them, which only gives an attacker one more small batch of guesses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::auth::{self, Account, AuthError};
use crate::model::UserId;
use crate::store::{Batch, Store, StoreError, Table};

/// The session cookie's name.
pub const COOKIE: &str = "canhgac_session";

/// The header that carries the CSRF token on cookie-authenticated API writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How often a session's `last_seen_at` is written at most (each write is a durable commit);
/// the idle timeout is therefore exact to this much.
pub const LAST_SEEN_GRANULARITY: SignedDuration = SignedDuration::from_secs(60);

/// Session lifetimes and cookie flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// A session without a request for this long ends (default 30 minutes).
    pub idle: SignedDuration,
    /// A session ends this long after sign-in whatever happens (default 8 hours: a working day).
    pub lifetime: SignedDuration,
    /// Mark the cookie `Secure` even when the request did not come over HTTPS (default false:
    /// HTTPS requests, from the server's own TLS or a trusted proxy's `X-Forwarded-Proto`,
    /// always get it; set it when a proxy not listed in `trusted_proxies` terminates TLS).
    pub secure_cookies: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle: SignedDuration::from_mins(30),
            lifetime: SignedDuration::from_hours(8),
            secure_cookies: false,
        }
    }
}

impl SessionSettings {
    /// Applies the config file's keys (`session_idle_minutes`: 1 to 1440,
    /// `session_lifetime_hours`: 1 to 168, `secure_cookies`).
    pub fn with_file(
        mut self,
        idle_minutes: Option<u32>,
        lifetime_hours: Option<u32>,
        secure_cookies: Option<bool>,
    ) -> Result<SessionSettings, String> {
        if let Some(m) = idle_minutes {
            if !(1..=1440).contains(&m) {
                return Err(format!(
                    "session_idle_minutes = {m}: choose 1 to 1440 minutes"
                ));
            }
            self.idle = SignedDuration::from_mins(i64::from(m));
        }
        if let Some(h) = lifetime_hours {
            if !(1..=168).contains(&h) {
                return Err(format!(
                    "session_lifetime_hours = {h}: choose 1 to 168 hours"
                ));
            }
            self.lifetime = SignedDuration::from_hours(i64::from(h));
        }
        self.secure_cookies = secure_cookies.unwrap_or(self.secure_cookies);
        Ok(self)
    }
}

/// A session as stored under the SHA-256 of its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The account's login.
    pub login: String,
    /// The account's id (so a login deleted and created again does not inherit the session).
    pub account_id: UserId,
    /// Sign-in time.
    pub created_at: Timestamp,
    /// The last request (to [`LAST_SEEN_GRANULARITY`]).
    pub last_seen_at: Timestamp,
    /// The absolute end.
    pub expires_at: Timestamp,
    /// The token every cookie-authenticated write must echo (`X-CSRF-Token` or a form field).
    pub csrf_token: String,
}

impl SessionRecord {
    /// Whether the session is still alive at `now`.
    pub fn alive(&self, settings: &SessionSettings, now: Timestamp) -> bool {
        now < self.expires_at && now.duration_since(self.last_seen_at) < settings.idle
    }

    /// When the session ends if no further request comes.
    pub fn ends_at(&self, settings: &SessionSettings) -> Timestamp {
        let idle_end = self
            .last_seen_at
            .checked_add(settings.idle)
            .unwrap_or(self.expires_at);
        idle_end.min(self.expires_at)
    }
}

/// 256 random bits, hex.
pub fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The key a session id is stored under (its SHA-256, hex).
pub fn session_key(id: &str) -> String {
    auth::token_key(id)
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("session records serialise")
}

/// Starts a session for an account: returns the id (for the cookie only) and the record.
/// Ended sessions of every account are swept out at the same time.
pub fn create(
    store: &dyn Store,
    account: &Account,
    settings: &SessionSettings,
    now: Timestamp,
) -> Result<(String, SessionRecord), StoreError> {
    let id = random_secret();
    let record = SessionRecord {
        login: account.login.clone(),
        account_id: account.id,
        created_at: now,
        last_seen_at: now,
        expires_at: now.checked_add(settings.lifetime).unwrap_or(now),
        csrf_token: random_secret(),
    };
    let key = session_key(&id);
    let mut batch = Batch::new().if_absent(Table::Sessions, key.as_bytes()).put(
        Table::Sessions,
        key.as_bytes(),
        json(&record),
    );
    for (k, v) in store.scan(Table::Sessions, b"", None, usize::MAX)? {
        let ended = serde_json::from_slice::<SessionRecord>(&v)
            .map(|r| !r.alive(settings, now))
            .unwrap_or(true);
        if ended {
            batch = batch.delete(Table::Sessions, k);
        }
    }
    store.apply(batch)?;
    Ok((id, record))
}

/// The account and record of a live session, if the id names one and its account exists and
/// is enabled; records the request as the session's last use (at most once per
/// [`LAST_SEEN_GRANULARITY`]). An ended session is deleted.
pub fn lookup(
    store: &dyn Store,
    id: &str,
    settings: &SessionSettings,
    now: Timestamp,
) -> Result<Option<(Account, String, SessionRecord)>, StoreError> {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let key = session_key(id);
    let Some(raw) = store.get(Table::Sessions, key.as_bytes())? else {
        return Ok(None);
    };
    let record = serde_json::from_slice::<SessionRecord>(&raw).ok();
    let account = match &record {
        Some(r) if r.alive(settings, now) => {
            auth::get_account(store, &r.login)?.filter(|a| !a.disabled && a.id == r.account_id)
        }
        _ => None,
    };
    let (Some(mut record), Some(account)) = (record, account) else {
        end_if_unchanged(store, &key, raw)?;
        return Ok(None);
    };
    if now.duration_since(record.last_seen_at) >= LAST_SEEN_GRANULARITY {
        record.last_seen_at = now;
        match store.apply(
            Batch::new()
                .if_equals(Table::Sessions, key.as_bytes(), raw)
                .put(Table::Sessions, key.as_bytes(), json(&record)),
        ) {
            Ok(()) => {}
            // Signed out (or touched) meanwhile: never resurrect it; look again.
            Err(StoreError::Conflict(_)) => {
                return match store.get(Table::Sessions, key.as_bytes())? {
                    Some(_) => Ok(Some((account, key, record))),
                    None => Ok(None),
                };
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Some((account, key, record)))
}

fn end_if_unchanged(store: &dyn Store, key: &str, raw: Vec<u8>) -> Result<(), StoreError> {
    match store.apply(
        Batch::new()
            .if_equals(Table::Sessions, key.as_bytes(), raw)
            .delete(Table::Sessions, key.as_bytes()),
    ) {
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Ends one session by key (signing out).
pub fn end(store: &dyn Store, key: &str) -> Result<(), StoreError> {
    store.apply(Batch::new().delete(Table::Sessions, key.as_bytes()))
}

/// Adds to `batch` the deletion of every session of `login` except `keep` (a session key).
pub fn end_sessions_of(
    store: &dyn Store,
    mut batch: Batch,
    login: &str,
    keep: Option<&str>,
) -> Result<Batch, StoreError> {
    for (k, v) in store.scan(Table::Sessions, b"", None, usize::MAX)? {
        if keep.is_some_and(|keep| keep.as_bytes() == k.as_slice()) {
            continue;
        }
        let mine = serde_json::from_slice::<SessionRecord>(&v)
            .map(|r| r.login == login)
            .unwrap_or(false);
        if mine {
            batch = batch.delete(Table::Sessions, k);
        }
    }
    Ok(batch)
}

/// Applies `change` to an account atomically (the write fails with a conflict if the account
/// changed meanwhile); when `end_sessions` is true, the account's sessions other than `keep`
/// end in the same batch. Returns the account as saved.
pub fn update_account(
    store: &dyn Store,
    login: &str,
    change: impl FnOnce(&mut Account) -> Result<(), AuthError>,
    end_sessions: bool,
    keep: Option<&str>,
) -> Result<Account, AuthError> {
    let login = login.trim().to_lowercase();
    let raw = store
        .get(Table::Users, login.as_bytes())?
        .ok_or_else(|| AuthError::NoAccount(login.clone()))?;
    let mut account: Account = serde_json::from_slice(&raw)
        .map_err(|e| StoreError::Corrupt(format!("users {login}: {e}")))?;
    change(&mut account)?;
    let mut batch = Batch::new()
        .if_equals(Table::Users, login.as_bytes(), raw)
        .put(Table::Users, login.as_bytes(), json(&account));
    if end_sessions {
        batch = end_sessions_of(store, batch, &login, keep)?;
    }
    store.apply(batch)?;
    Ok(account)
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Set-Cookie` value that stores a session id in the browser: `HttpOnly`,
/// `SameSite=Strict`, `Path=/`, `Secure` when asked; no `Max-Age`, so closing the browser
/// forgets it (the server ends it anyway after the idle timeout or the lifetime).
pub fn set_cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that makes the browser forget the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// The session id in a `Cookie` header value, if any.
pub fn cookie_value(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Whether the `Origin` (or, without one, the `Referer`) of a request names the host it was
/// sent to (`host`: the `Host` header or the URI's authority). A request with neither passes
/// (non-browser clients; browsers send `Origin` on every cross-site write); `Origin: null` and
/// unparsable values fail.
pub fn same_origin(origin: Option<&str>, referer: Option<&str>, host: Option<&str>) -> bool {
    let Some(source) = origin.or(referer) else {
        return true;
    };
    let Some(host) = host else {
        return false;
    };
    let Ok(url) = url::Url::parse(source.trim()) else {
        return false;
    };
    let Some(source_host) = url.host_str() else {
        return false;
    };
    let source_port = url.port_or_known_default();
    let Ok(authority) = host.trim().parse::<axum::http::uri::Authority>() else {
        return false;
    };
    let same_name = authority
        .host()
        .trim_matches(|c| c == '[' || c == ']')
        .eq_ignore_ascii_case(source_host.trim_matches(|c| c == '[' || c == ']'));
    let same_port = match authority.port_u16() {
        Some(p) => source_port == Some(p),
        // No port in Host: the scheme's default, which is what the source must use too.
        None => url.port().is_none(),
    };
    same_name && same_port
}

/// When to refuse sign-in attempts: after `free` failures in a row the key is blocked for
/// `base`, doubling with each further failure up to `max`; a key without failure for `forget`
/// starts again from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed per login before a block.
    pub free_per_login: u32,
    /// Failures allowed per client address (or IPv6 /64) before a block: higher, since an
    /// agency's staff often share one address behind NAT.
    pub free_per_client: u32,
    /// The first block.
    pub base: Duration,
    /// The longest block.
    pub max: Duration,
    /// Failures older than this are forgotten.
    pub forget: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_per_login: 5,
            free_per_client: 20,
            base: Duration::from_secs(30),
            max: Duration::from_secs(15 * 60),
            forget: Duration::from_secs(60 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

/// Keys tracked at most; beyond it, keys that are not blocked are forgotten first.
const THROTTLE_CAPACITY: usize = 100_000;

/// Counts failed sign-ins (and wrong current passwords) per login and per client, in memory.
#[derive(Debug, Default)]
pub struct Throttle {
    policy: ThrottlePolicy,
    failures: Mutex<HashMap<String, Failures>>,
}

/// The throttling keys of an attempt: its login and, when known, its client address (IPv6
/// addresses by their /64, which one machine usually owns whole).
pub fn throttle_keys(login: &str, client: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![format!("login:{}", login.trim().to_lowercase())];
    match client {
        Some(IpAddr::V4(a)) => keys.push(format!("client:{a}")),
        Some(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
            Some(v4) => keys.push(format!("client:{v4}")),
            None => {
                let s = a.segments();
                keys.push(format!(
                    "client:{:x}:{:x}:{:x}:{:x}::/64",
                    s[0], s[1], s[2], s[3]
                ));
            }
        },
        None => {}
    }
    keys
}

impl Throttle {
    /// A throttle with a policy.
    pub fn new(policy: ThrottlePolicy) -> Throttle {
        Throttle {
            policy,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(wait)` when any key is blocked at `now`.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        let map = self.map();
        let wait = keys
            .iter()
            .filter_map(|k| map.get(k)?.blocked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(w) => Err(w),
            None => Ok(()),
        }
    }

    /// Records a failure for every key.
    pub fn failure(&self, keys: &[String], now: Instant) {
        let p = self.policy;
        let mut map = self.map();
        if map.len() >= THROTTLE_CAPACITY {
            map.retain(|_, f| {
                now.duration_since(f.last) < p.forget && f.blocked_until.is_some_and(|u| u > now)
            });
        }
        for key in keys {
            let free = if key.starts_with("client:") {
                p.free_per_client
            } else {
                p.free_per_login
            };
            let f = map.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
                blocked_until: None,
            });
            if now.duration_since(f.last) >= p.forget {
                *f = Failures {
                    count: 0,
                    last: now,
                    blocked_until: None,
                };
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
            if f.count >= free {
                let doublings = (f.count - free).min(20);
                let block = p.base.saturating_mul(1 << doublings).min(p.max);
                f.blocked_until = Some(now + block);
            }
        }
    }

    /// Forgets the failures of a key (a successful sign-in clears its login, not its client).
    pub fn success(&self, key: &str) {
        self.map().remove(key);
    }
}

/// Sessions and throttling, shared by every request.
#[derive(Debug, Default)]
pub struct Access {
    /// Lifetimes and cookie flags.
    pub settings: SessionSettings,
    /// Failed sign-ins.
    pub throttle: Throttle,
}

impl Access {
    /// Sessions with these settings and the default throttling policy.
    pub fn new(settings: SessionSettings) -> Access {
        Access {
            settings,
            throttle: Throttle::new(ThrottlePolicy::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;
    use crate::store::memory::MemoryStore;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn store_with_admin() -> (MemoryStore, Account) {
        let store = MemoryStore::new();
        let a = auth::add_account(
            &store,
            "admin",
            "Quản trị",
            Role::Administrator,
            None,
            Some("mật khẩu quản trị"),
            at("2026-11-23T00:00:00Z"),
        )
        .unwrap();
        (store, a)
    }

    #[test]
    fn sessions_are_stored_hashed_and_end_when_idle_or_old() {
        let (store, admin) = store_with_admin();
        let s = SessionSettings::default();
        let t0 = at("2026-11-23T08:00:00Z");
        let (id, record) = create(&store, &admin, &s, t0).unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(record.csrf_token, id);
        assert!(store.get(Table::Sessions, id.as_bytes()).unwrap().is_none());
        assert!(
            store
                .get(Table::Sessions, session_key(&id).as_bytes())
                .unwrap()
                .is_some()
        );
        // Used every 20 minutes, it lives until the absolute end (8 h), not longer.
        let mut t = t0;
        for _ in 0..23 {
            t = t.checked_add(SignedDuration::from_mins(20)).unwrap();
            assert!(lookup(&store, &id, &s, t).unwrap().is_some(), "{t}");
        }
        let t8 = t0.checked_add(SignedDuration::from_hours(8)).unwrap();
        assert!(lookup(&store, &id, &s, t8).unwrap().is_none());
        assert!(
            store
                .get(Table::Sessions, session_key(&id).as_bytes())
                .unwrap()
                .is_none(),
            "ended sessions are deleted"
        );
        // Idle for 30 minutes: ended.
        let (id, _) = create(&store, &admin, &s, t0).unwrap();
        let t29 = t0.checked_add(SignedDuration::from_mins(29)).unwrap();
        assert!(lookup(&store, &id, &s, t29).unwrap().is_some());
        let t59 = t29.checked_add(SignedDuration::from_mins(30)).unwrap();
        assert!(lookup(&store, &id, &s, t59).unwrap().is_none());
        assert!(lookup(&store, "00", &s, t0).unwrap().is_none());
        assert!(lookup(&store, &random_secret(), &s, t0).unwrap().is_none());
    }

    #[test]
    fn disabled_accounts_and_password_changes_end_sessions() {
        let (store, admin) = store_with_admin();
        let s = SessionSettings::default();
        let t0 = at("2026-11-23T08:00:00Z");
        let (a, _) = create(&store, &admin, &s, t0).unwrap();
        let (b, _) = create(&store, &admin, &s, t0).unwrap();
        let keep = session_key(&a);
        update_account(
            &store,
            "admin",
            |acc| {
                acc.password_hash = auth::hash_password("mật khẩu mới hơn")?;
                Ok(())
            },
            true,
            Some(&keep),
        )
        .unwrap();
        assert!(lookup(&store, &a, &s, t0).unwrap().is_some());
        assert!(lookup(&store, &b, &s, t0).unwrap().is_none());
        update_account(
            &store,
            "admin",
            |acc| {
                acc.disabled = true;
                Ok(())
            },
            false,
            None,
        )
        .unwrap();
        assert!(lookup(&store, &a, &s, t0).unwrap().is_none());
        assert!(matches!(
            update_account(&store, "nobody", |_| Ok(()), false, None),
            Err(AuthError::NoAccount(_))
        ));
    }

    #[test]
    fn cookies_and_origins() {
        assert_eq!(
            set_cookie("ab", true),
            "canhgac_session=ab; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!set_cookie("ab", false).contains("Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
        assert_eq!(cookie_value("a=1; canhgac_session=xyz; b=2"), Some("xyz"));
        assert_eq!(cookie_value("canhgac_sessionx=1"), None);
        assert_eq!(cookie_value("canhgac_session="), None);
        let h = Some("127.0.0.1:8440");
        assert!(same_origin(None, None, h));
        assert!(same_origin(Some("http://127.0.0.1:8440"), None, h));
        assert!(!same_origin(Some("http://127.0.0.1:8441"), None, h));
        assert!(!same_origin(Some("http://evil.example"), None, h));
        assert!(!same_origin(Some("null"), None, h));
        assert!(same_origin(None, Some("http://127.0.0.1:8440/ui/x?y"), h));
        assert!(!same_origin(None, Some("https://evil.example/"), h));
        let h = Some("AnToan.Example.gov.vn");
        assert!(same_origin(Some("https://antoan.example.gov.vn"), None, h));
        assert!(!same_origin(
            Some("https://antoan.example.gov.vn:8443"),
            None,
            h
        ));
        assert!(!same_origin(
            Some("https://antoan.example.gov.vn"),
            None,
            None
        ));
        assert!(same_origin(Some("http://[::1]:80"), None, Some("[::1]")));
    }

    #[test]
    fn throttling_blocks_after_repeated_failures_with_growing_delays() {
        let p = ThrottlePolicy::default();
        let t = Throttle::new(p);
        let keys = throttle_keys("An", Some("10.0.0.7".parse().unwrap()));
        assert_eq!(keys, ["login:an", "client:10.0.0.7"]);
        let now = Instant::now();
        for _ in 0..4 {
            assert!(t.check(&keys, now).is_ok());
            t.failure(&keys, now);
        }
        assert!(t.check(&keys, now).is_ok());
        t.failure(&keys, now);
        assert_eq!(t.check(&keys, now), Err(Duration::from_secs(30)));
        let later = now + Duration::from_secs(31);
        assert!(t.check(&keys, later).is_ok());
        t.failure(&keys, later);
        assert_eq!(t.check(&keys, later), Err(Duration::from_secs(60)));
        // Another login from another address is not affected; the same address is counted.
        let other = throttle_keys("binh", Some("10.0.0.8".parse().unwrap()));
        assert!(t.check(&other, later).is_ok());
        // Success clears the login but not the client.
        t.success("login:an");
        assert!(t.check(&keys[..1], later).is_ok());
        // Twenty failures from one address block it for every login.
        let t = Throttle::new(p);
        for i in 0..20 {
            t.failure(
                &throttle_keys(&format!("u{i}"), Some("10.0.0.9".parse().unwrap())),
                now,
            );
        }
        let fresh = throttle_keys("fresh", Some("10.0.0.9".parse().unwrap()));
        assert!(t.check(&fresh, now).is_err());
        // Delays are capped, and failures are forgotten after an hour.
        let t = Throttle::new(p);
        let k = throttle_keys("c", None);
        for _ in 0..30 {
            t.failure(&k, now);
        }
        assert_eq!(t.check(&k, now), Err(p.max));
        let v6 = throttle_keys("d", Some("2001:db8:1:2:3:4:5:6".parse().unwrap()));
        assert_eq!(v6[1], "client:2001:db8:1:2::/64");
    }

    #[test]
    fn settings_from_the_config_file_are_bounded() {
        let d = SessionSettings::default();
        assert_eq!((d.idle.as_secs(), d.lifetime.as_secs()), (1800, 8 * 3600));
        let s = d.clone().with_file(Some(15), Some(10), Some(true)).unwrap();
        assert_eq!(
            (s.idle.as_secs(), s.lifetime.as_secs(), s.secure_cookies),
            (900, 36000, true)
        );
        assert!(d.clone().with_file(Some(0), None, None).is_err());
        assert!(d.clone().with_file(None, Some(169), None).is_err());
        assert_eq!(d.clone().with_file(None, None, None).unwrap(), d);
    }

    #[test]
    fn secrets_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
