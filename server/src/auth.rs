//! People and machines: accounts with argon2 password hashes, random API tokens stored only as
//! their SHA-256, and the principal a request acts as.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jiff::Timestamp;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{AgencyId, Role, User, UserId};
use crate::store::{Batch, Store, StoreError, Table};

/// An account as stored (never sent to clients: it holds the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The user id (UUIDv7) recorded in audit events.
    pub id: UserId,
    /// Login name, lower case.
    pub login: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// The agency an agency officer (or agent) belongs to.
    pub agency: Option<String>,
    /// Argon2id PHC string; empty for machine accounts (agents), which use tokens only.
    pub password_hash: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// Disabled accounts cannot sign in or use tokens.
    pub disabled: bool,
}

impl Account {
    /// The user as the workflow sees it (an agency that is not an agency id is ignored).
    pub fn user(&self) -> User {
        User {
            id: self.id,
            login: self.login.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            agency: self
                .agency
                .as_deref()
                .and_then(|a| a.parse::<AgencyId>().ok()),
        }
    }
}

/// An API token as stored under the SHA-256 of the token: the secret itself is never kept.
///
/// Records written before tokens had ids, expiry and last use lack those fields: they read as
/// `None` (no expiry, never used), and their id is derived from the key ([`token_id`]), so no
/// migration is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The account it acts for.
    pub login: String,
    /// A label ("agent on So Cong Thuong LAN").
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// Revoked tokens are refused.
    pub revoked: bool,
    /// When it stops working (none: until revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// When it was last used (recorded at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
}

impl TokenRecord {
    /// Whether the token may act at `now` (not revoked, not expired).
    pub fn usable(&self, now: Timestamp) -> bool {
        !self.revoked && self.expires_at.is_none_or(|e| now < e)
    }
}

/// What clients see of a token: never the secret nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The token's id (16 hex digits), used to revoke it.
    pub id: String,
    /// The account it acts for.
    pub login: String,
    /// Its label.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last used, if ever (to the minute).
    pub last_used_at: Option<Timestamp>,
    /// When it expires, if it does.
    pub expires_at: Option<Timestamp>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Whether it has expired.
    pub expired: bool,
}

impl TokenInfo {
    fn of(key: &str, record: &TokenRecord, now: Timestamp) -> TokenInfo {
        TokenInfo {
            id: token_id(key),
            login: record.login.clone(),
            name: record.name.clone(),
            created_at: record.created_at,
            last_used_at: record.last_used_at,
            expires_at: record.expires_at,
            revoked: record.revoked,
            expired: record.expires_at.is_some_and(|e| e <= now),
        }
    }
}

/// Length of a token id, in hex digits.
pub const TOKEN_ID_LEN: usize = 16;

/// A token's id: the first 16 hex digits of its key (the SHA-256 of the secret). Revealing
/// them reveals nothing usable about a 256-bit random secret, and a prefix scan finds the
/// record, so old records need no migration.
pub fn token_id(key: &str) -> String {
    key.chars().take(TOKEN_ID_LEN).collect()
}

/// The shortest password accepted (in characters).
pub const PASSWORD_MIN_CHARS: usize = 12;
/// The longest password accepted (in characters), to bound hashing work.
pub const PASSWORD_MAX_CHARS: usize = 256;

/// Passwords refused whatever their length: common ones and the product's own name.
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789abc",
    "123456789qwe",
    "qwertyuiop12",
    "qwertyuiop123",
    "qwertyuiopasdf",
    "password1234",
    "password12345",
    "password@123",
    "passw0rd1234",
    "matkhau12345",
    "matkhau123456",
    "matkhau@1234",
    "admin1234567",
    "administrator",
    "administrator1",
    "canhgac12345",
    "canhgac@1234",
    "abc123456789",
    "1qaz2wsx3edc",
    "1q2w3e4r5t6y",
    "zaq12wsxcde3",
    "iloveyou1234",
];

/// The password rule (NIST SP 800-63B style: length, not composition): at least
/// [`PASSWORD_MIN_CHARS`] and at most [`PASSWORD_MAX_CHARS`] characters (any Unicode,
/// Vietnamese diacritics and spaces welcome), at least 5 distinct characters, not containing
/// the login (of 3 characters or more), and not one of a list of common passwords.
pub fn check_password_rule(login: &str, password: &str) -> Result<(), AuthError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(AuthError::Invalid(format!(
            "Mật khẩu cần ít nhất {PASSWORD_MIN_CHARS} ký tự / the password must have at least {PASSWORD_MIN_CHARS} characters"
        )));
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(AuthError::Invalid(format!(
            "Mật khẩu không được dài quá {PASSWORD_MAX_CHARS} ký tự / the password must have at most {PASSWORD_MAX_CHARS} characters"
        )));
    }
    let lower = password.to_lowercase();
    let distinct: std::collections::BTreeSet<char> = lower.chars().collect();
    let login = login.trim().to_lowercase();
    if distinct.len() < 5
        || (login.chars().count() >= 3 && lower.contains(&login))
        || COMMON_PASSWORDS.contains(&lower.as_str())
    {
        return Err(AuthError::Invalid(
            "Mật khẩu quá dễ đoán (lặp ký tự, chứa tên đăng nhập hoặc quá phổ biến) / the password is too easy to guess (repetitive, contains the login, or common)".into(),
        ));
    }
    Ok(())
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The login exists already.
    #[error("the account {0} exists already")]
    Exists(String),
    /// No such account.
    #[error("no account {0}")]
    NoAccount(String),
    /// Input refused.
    #[error("{0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Hashes a password with Argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Invalid(format!("cannot hash the password: {e}")))
}

/// Checks a password against a stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The SHA-256 of a token, hex: the key it is stored under.
pub fn token_key(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: `cgk_` and 43 URL-safe characters (256 bits).
pub fn new_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    let body: String = (0..43)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("cgk_{body}")
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("account types serialise")
}

/// Whether the store has no account yet (the first one must be an administrator).
pub fn no_accounts(store: &dyn Store) -> Result<bool, StoreError> {
    Ok(store.scan(Table::Users, b"", None, 1)?.is_empty())
}

/// Creates an account; the first account of a store must be an administrator.
pub fn add_account(
    store: &dyn Store,
    login: &str,
    display_name: &str,
    role: Role,
    agency: Option<String>,
    password: Option<&str>,
    now: Timestamp,
) -> Result<Account, AuthError> {
    let login = login.trim().to_lowercase();
    if login.is_empty()
        || !login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(AuthError::Invalid(format!(
            "login {login:?}: use letters, digits, '.', '_', '-', '@'"
        )));
    }
    if no_accounts(store)? && role != Role::Administrator {
        return Err(AuthError::Invalid(
            "the first account of an empty store must be an administrator (--role administrator)"
                .into(),
        ));
    }
    if matches!(role, Role::AgencyOfficer | Role::Agent) && agency.is_none() {
        return Err(AuthError::Invalid(format!(
            "a {role:?} account needs --agency"
        )));
    }
    let password_hash = match password {
        Some(p) => {
            check_password_rule(&login, p)?;
            hash_password(p)?
        }
        None if role == Role::Agent => String::new(),
        None => return Err(AuthError::Invalid("a password is required".into())),
    };
    let account = Account {
        id: UserId::derived(now, login.as_bytes()),
        login: login.clone(),
        display_name: display_name.to_string(),
        role,
        agency,
        password_hash,
        created_at: now,
        disabled: false,
    };
    store
        .apply(Batch::new().if_absent(Table::Users, login.as_bytes()).put(
            Table::Users,
            login.as_bytes(),
            to_json(&account),
        ))
        .map_err(|e| match e {
            StoreError::Conflict(_) => AuthError::Exists(login.clone()),
            other => AuthError::Store(other),
        })?;
    Ok(account)
}

/// How often `last_used_at` of a token is written at most (each write is a durable commit).
pub const LAST_USED_GRANULARITY: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Issues a token for an account: the secret (shown once, stored hashed) and what lists show.
pub fn issue_token(
    store: &dyn Store,
    login: &str,
    name: &str,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(String, TokenInfo), AuthError> {
    let login = login.trim().to_lowercase();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AuthError::Invalid(
            "the token needs a name of 1 to 200 characters".into(),
        ));
    }
    if expires_at.is_some_and(|e| e <= now) {
        return Err(AuthError::Invalid(
            "expires_at must be in the future".into(),
        ));
    }
    if store.get(Table::Users, login.as_bytes())?.is_none() {
        return Err(AuthError::NoAccount(login));
    }
    let token = new_token();
    let key = token_key(&token);
    let record = TokenRecord {
        login,
        name: name.to_string(),
        created_at: now,
        revoked: false,
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    store.apply(Batch::new().if_absent(Table::Tokens, key.as_bytes()).put(
        Table::Tokens,
        key.as_bytes(),
        to_json(&record),
    ))?;
    Ok((token.clone(), TokenInfo::of(&key, &record, now)))
}

/// Issues a token without expiry for an account; returns the token (shown once, stored hashed).
pub fn add_token(
    store: &dyn Store,
    login: &str,
    name: &str,
    now: Timestamp,
) -> Result<String, AuthError> {
    issue_token(store, login, name, None, now).map(|(token, _)| token)
}

fn decode<T: serde::de::DeserializeOwned>(
    table: Table,
    key: &[u8],
    raw: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(raw).map_err(|e| {
        StoreError::Corrupt(format!(
            "{} {}: {e}",
            table.name(),
            String::from_utf8_lossy(key)
        ))
    })
}

/// Every token (of one account when `login` is given), oldest first.
pub fn list_tokens(
    store: &dyn Store,
    login: Option<&str>,
    now: Timestamp,
) -> Result<Vec<TokenInfo>, StoreError> {
    let login = login.map(|l| l.trim().to_lowercase());
    let mut out = Vec::new();
    for (k, v) in store.scan(Table::Tokens, b"", None, usize::MAX)? {
        let record: TokenRecord = decode(Table::Tokens, &k, &v)?;
        if login.as_ref().is_none_or(|l| *l == record.login) {
            out.push(TokenInfo::of(&String::from_utf8_lossy(&k), &record, now));
        }
    }
    out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(out)
}

/// A token record found by id: its stored key, its raw value (for conditional writes) and the
/// record.
pub type FoundToken = (Vec<u8>, Vec<u8>, TokenRecord);

/// The stored key, raw value and record of the token with this id, if any.
pub fn find_token(store: &dyn Store, id: &str) -> Result<Option<FoundToken>, StoreError> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() != TOKEN_ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let mut found = store.scan(Table::Tokens, id.as_bytes(), None, 2)?;
    if found.len() != 1 {
        // None, or (with odds of 2^-64) two tokens sharing an id: refuse to guess.
        return Ok(None);
    }
    let (k, v) = found.remove(0);
    let record = decode(Table::Tokens, &k, &v)?;
    Ok(Some((k, v, record)))
}

/// Revokes a token by id (idempotent); `Ok(None)` when there is no such token.
pub fn revoke_token(
    store: &dyn Store,
    id: &str,
    now: Timestamp,
) -> Result<Option<TokenInfo>, StoreError> {
    for _ in 0..5 {
        let Some((key, raw, mut record)) = find_token(store, id)? else {
            return Ok(None);
        };
        if record.revoked {
            return Ok(Some(TokenInfo::of(
                &String::from_utf8_lossy(&key),
                &record,
                now,
            )));
        }
        record.revoked = true;
        record.revoked_at = Some(now);
        match store.apply(Batch::new().if_equals(Table::Tokens, key.clone(), raw).put(
            Table::Tokens,
            key.clone(),
            to_json(&record),
        )) {
            Ok(()) => {
                return Ok(Some(TokenInfo::of(
                    &String::from_utf8_lossy(&key),
                    &record,
                    now,
                )));
            }
            // Its last use was recorded meanwhile: read again.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict(
        "the token keeps changing; try again".into(),
    ))
}

/// Reads an account by login.
pub fn get_account(store: &dyn Store, login: &str) -> Result<Option<Account>, StoreError> {
    let login = login.trim().to_lowercase();
    match store.get(Table::Users, login.as_bytes())? {
        Some(raw) => decode(Table::Users, login.as_bytes(), &raw).map(Some),
        None => Ok(None),
    }
}

/// The account a token acts for and the token's id, if the token is known, neither revoked
/// nor expired, and the account exists and is enabled. Records the token's last use (at most
/// once per [`LAST_USED_GRANULARITY`], never resurrecting a token revoked meanwhile).
pub fn authenticate_token(
    store: &dyn Store,
    token: &str,
    now: Timestamp,
) -> Result<Option<(Account, String)>, StoreError> {
    let key = token_key(token);
    let Some(raw) = store.get(Table::Tokens, key.as_bytes())? else {
        return Ok(None);
    };
    let Ok(mut record) = serde_json::from_slice::<TokenRecord>(&raw) else {
        return Ok(None);
    };
    if !record.usable(now) {
        return Ok(None);
    }
    let Some(account) = get_account(store, &record.login)?.filter(|a| !a.disabled) else {
        return Ok(None);
    };
    if record
        .last_used_at
        .is_none_or(|t| now.duration_since(t) >= LAST_USED_GRANULARITY)
    {
        record.last_used_at = Some(now);
        match store.apply(
            Batch::new()
                .if_equals(Table::Tokens, key.as_bytes(), raw)
                .put(Table::Tokens, key.as_bytes(), to_json(&record)),
        ) {
            // A concurrent request recorded the use, or the token was revoked meanwhile
            // (checked again on the next request): either way this request proceeds as read.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some((account, token_id(&key))))
}

/// The account a token acts for, if the token is known, usable, and the account enabled.
pub fn account_for_token(store: &dyn Store, token: &str) -> Result<Option<Account>, StoreError> {
    Ok(authenticate_token(store, token, Timestamp::now())?.map(|(a, _)| a))
}

/// A hash verified when the login is unknown, so that a wrong login costs as much time as a
/// wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret: [u8; 16] = rand::random();
        hash_password(&hex::encode(secret)).expect("argon2 hashes a fixed-size password")
    })
}

/// Checks a login and password (slow on purpose: one Argon2id verification whatever the
/// outcome). `None` for an unknown login, a wrong password, a disabled account or a machine
/// account without password: callers answer all of them the same way.
pub fn verify_login(
    store: &dyn Store,
    login: &str,
    password: &str,
) -> Result<Option<Account>, StoreError> {
    if password.chars().count() > PASSWORD_MAX_CHARS || login.len() > 200 {
        verify_password("", dummy_hash());
        return Ok(None);
    }
    let account = get_account(store, login)?;
    let hash = account
        .as_ref()
        .map(|a| a.password_hash.as_str())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| dummy_hash());
    let ok = verify_password(password, hash);
    Ok(account.filter(|a| ok && !a.disabled && !a.password_hash.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn now() -> Timestamp {
        "2026-11-23T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("mật khẩu dài lắm").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("mật khẩu dài lắm", &h));
        assert!(!verify_password("sai", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn first_account_is_an_administrator_and_tokens_are_stored_hashed() {
        let store = MemoryStore::new();
        let err = add_account(
            &store,
            "a",
            "A",
            Role::Viewer,
            None,
            Some("mật khẩu thử nghiệm"),
            now(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("administrator"));
        add_account(
            &store,
            "admin",
            "Admin",
            Role::Administrator,
            None,
            Some("mật khẩu thử nghiệm"),
            now(),
        )
        .unwrap();
        assert!(matches!(
            add_account(
                &store,
                "ADMIN",
                "x",
                Role::Administrator,
                None,
                Some("mật khẩu thử nghiệm"),
                now()
            ),
            Err(AuthError::Exists(_))
        ));
        add_account(
            &store,
            "agent1",
            "Agent",
            Role::Agent,
            Some("sct".into()),
            None,
            now(),
        )
        .unwrap();
        let token = add_token(&store, "agent1", "LAN", now()).unwrap();
        assert!(token.starts_with("cgk_") && token.len() == 47);
        assert!(
            store
                .get(Table::Tokens, token.as_bytes())
                .unwrap()
                .is_none(),
            "never stored in clear"
        );
        assert_eq!(
            account_for_token(&store, &token).unwrap().unwrap().login,
            "agent1"
        );
        assert!(account_for_token(&store, "cgk_wrong").unwrap().is_none());
    }

    #[test]
    fn the_password_rule_is_about_length_and_guessability() {
        assert!(check_password_rule("an", "mật khẩu dài lắm").is_ok());
        assert!(
            check_password_rule("an", "đúng 11 ký!").is_err(),
            "11 characters"
        );
        assert!(
            check_password_rule("an", "đúng 12 ký t").is_ok(),
            "12 characters, not bytes"
        );
        assert!(
            check_password_rule("an", "abababababababab").is_err(),
            "too few distinct"
        );
        assert!(
            check_password_rule("nguyenvana", "NguyenVanA-2026!").is_err(),
            "the login"
        );
        assert!(check_password_rule("an", "Password1234").is_err(), "common");
        assert!(
            check_password_rule("an", &"x1y2z3".repeat(50)).is_err(),
            "over 256"
        );
    }

    #[test]
    fn sign_in_checks_are_uniform() {
        let store = MemoryStore::new();
        add_account(
            &store,
            "admin",
            "A",
            Role::Administrator,
            None,
            Some("mật khẩu thử nghiệm"),
            now(),
        )
        .unwrap();
        add_account(
            &store,
            "agent1",
            "Agent",
            Role::Agent,
            Some("sct".into()),
            None,
            now(),
        )
        .unwrap();
        assert!(
            verify_login(&store, " ADMIN ", "mật khẩu thử nghiệm")
                .unwrap()
                .is_some()
        );
        assert!(
            verify_login(&store, "admin", "mật khẩu sai rồi")
                .unwrap()
                .is_none()
        );
        assert!(
            verify_login(&store, "nobody", "mật khẩu thử nghiệm")
                .unwrap()
                .is_none()
        );
        assert!(
            verify_login(&store, "agent1", "").unwrap().is_none(),
            "machines have no password"
        );
        let mut a = get_account(&store, "admin").unwrap().unwrap();
        a.disabled = true;
        store
            .apply(Batch::new().put(Table::Users, "admin", to_json(&a)))
            .unwrap();
        assert!(
            verify_login(&store, "admin", "mật khẩu thử nghiệm")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn tokens_have_ids_expire_are_revoked_and_old_records_still_read() {
        let store = MemoryStore::new();
        add_account(
            &store,
            "admin",
            "A",
            Role::Administrator,
            None,
            Some("mật khẩu thử nghiệm"),
            now(),
        )
        .unwrap();
        let later = |s: i64| {
            now()
                .checked_add(jiff::SignedDuration::from_secs(s))
                .unwrap()
        };
        let (secret, info) =
            issue_token(&store, "admin", " script ", Some(later(3600)), now()).unwrap();
        assert_eq!(info.id, token_key(&secret)[..16]);
        assert_eq!(info.name, "script");
        assert!(
            issue_token(&store, "admin", "x", Some(now()), now()).is_err(),
            "expiry in the past"
        );
        assert!(issue_token(&store, "admin", "  ", None, now()).is_err());
        assert!(matches!(
            issue_token(&store, "nobody", "x", None, now()),
            Err(AuthError::NoAccount(_))
        ));
        // Use is recorded, at most once a minute.
        let (account, id) = authenticate_token(&store, &secret, later(10))
            .unwrap()
            .unwrap();
        assert_eq!(
            (account.login.as_str(), id.as_str()),
            ("admin", info.id.as_str())
        );
        authenticate_token(&store, &secret, later(20))
            .unwrap()
            .unwrap();
        let listed = list_tokens(&store, Some("admin"), later(30)).unwrap();
        assert_eq!(listed[0].last_used_at, Some(later(10)));
        // Expired at expires_at.
        assert!(
            authenticate_token(&store, &secret, later(3599))
                .unwrap()
                .is_some()
        );
        assert!(
            authenticate_token(&store, &secret, later(3600))
                .unwrap()
                .is_none()
        );
        assert!(list_tokens(&store, None, later(3600)).unwrap()[0].expired);
        // A record written before ids, expiry and last use existed.
        let old = new_token();
        store
            .apply(Batch::new().put(
                Table::Tokens,
                token_key(&old),
                br#"{"login":"admin","name":"old","created_at":"2026-01-01T00:00:00Z","revoked":false}"#.to_vec(),
            ))
            .unwrap();
        let (_, old_id) = authenticate_token(&store, &old, later(5)).unwrap().unwrap();
        assert_eq!(list_tokens(&store, Some("admin"), now()).unwrap().len(), 2);
        assert!(
            list_tokens(&store, Some("other"), now())
                .unwrap()
                .is_empty()
        );
        // Revoked by id, idempotently; unknown and malformed ids are none.
        assert!(
            revoke_token(&store, &old_id, later(6))
                .unwrap()
                .unwrap()
                .revoked
        );
        assert!(revoke_token(&store, &old_id, later(7)).unwrap().is_some());
        assert!(
            authenticate_token(&store, &old, later(8))
                .unwrap()
                .is_none()
        );
        assert!(
            revoke_token(&store, "0000000000000000", now())
                .unwrap()
                .is_none()
        );
        assert!(revoke_token(&store, "zz", now()).unwrap().is_none());
        assert!(
            find_token(&store, &old_id[..8]).unwrap().is_none(),
            "a prefix is not an id"
        );
    }
}
