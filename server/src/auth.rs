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

/// An API token as stored: only its hash is kept.
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
        Some(p) if p.chars().count() >= 10 => hash_password(p)?,
        Some(_) => {
            return Err(AuthError::Invalid(
                "the password must have at least 10 characters".into(),
            ));
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

/// Issues a token for an account; returns the token (shown once, stored hashed).
pub fn add_token(
    store: &dyn Store,
    login: &str,
    name: &str,
    now: Timestamp,
) -> Result<String, AuthError> {
    let login = login.trim().to_lowercase();
    if store.get(Table::Users, login.as_bytes())?.is_none() {
        return Err(AuthError::NoAccount(login));
    }
    let token = new_token();
    let record = TokenRecord {
        login,
        name: name.to_string(),
        created_at: now,
        revoked: false,
    };
    store.apply(
        Batch::new()
            .if_absent(Table::Tokens, token_key(&token))
            .put(Table::Tokens, token_key(&token), to_json(&record)),
    )?;
    Ok(token)
}

/// The account a token acts for, if the token is known, not revoked, and the account enabled.
pub fn account_for_token(store: &dyn Store, token: &str) -> Result<Option<Account>, StoreError> {
    let Some(raw) = store.get(Table::Tokens, token_key(token).as_bytes())? else {
        return Ok(None);
    };
    let Ok(record) = serde_json::from_slice::<TokenRecord>(&raw) else {
        return Ok(None);
    };
    if record.revoked {
        return Ok(None);
    }
    let Some(raw) = store.get(Table::Users, record.login.as_bytes())? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<Account>(&raw)
        .ok()
        .filter(|a| !a.disabled))
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
            Some("0123456789"),
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
            Some("0123456789"),
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
                Some("0123456789"),
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
}
