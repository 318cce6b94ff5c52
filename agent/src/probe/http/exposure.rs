//! Non-intrusive checks for files that should never be public, confirmed by content.
//!
//! A fixed, small list of GET requests (no guessing, no crawling). Many sites answer 200 with
//! their home page for any path, so a status code alone never counts: each check names the
//! signature its content must show.

use canhgac_policies::report::Exposure;

/// One path to request and how to recognise a real exposure.
struct Check {
    check: &'static str,
    path: &'static str,
    confirm: fn(&[u8]) -> Option<String>,
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(4096)]).into_owned()
}

fn git_head(body: &[u8]) -> Option<String> {
    let t = text(body);
    let first = t.lines().next()?.trim();
    let is_ref = first.starts_with("ref: refs/");
    let is_sha = first.len() == 40 && first.chars().all(|c| c.is_ascii_hexdigit());
    (is_ref || is_sha).then(|| first.chars().take(80).collect())
}

fn env_file(body: &[u8]) -> Option<String> {
    let t = text(body);
    if t.trim_start().starts_with('<') {
        return None; // an HTML page, not a dotenv file
    }
    const KEYS: [&str; 10] = [
        "APP_KEY",
        "APP_ENV",
        "DB_PASSWORD",
        "DB_HOST",
        "DB_USERNAME",
        "DATABASE_URL",
        "SECRET_KEY",
        "MAIL_PASSWORD",
        "AWS_SECRET",
        "REDIS_PASSWORD",
    ];
    let key = t.lines().find_map(|l| {
        let (k, _) = l.split_once('=')?;
        let k = k.trim();
        KEYS.iter().any(|known| k.starts_with(known)).then_some(k)
    })?;
    Some(format!("{key}=..."))
}

fn phpinfo(body: &[u8]) -> Option<String> {
    let t = text(body);
    (t.contains("phpinfo()") || (t.contains("PHP Version") && t.contains("System")))
        .then(|| "phpinfo() page".to_string())
}

fn server_status(body: &[u8]) -> Option<String> {
    text(body)
        .contains("Apache Server Status")
        .then(|| "Apache Server Status page".to_string())
}

fn directory_listing(body: &[u8]) -> Option<String> {
    let t = text(body);
    (t.contains("<title>Index of /") || t.contains("<h1>Index of /"))
        .then(|| "\"Index of /\" listing".to_string())
}

fn archive(body: &[u8]) -> Option<String> {
    if body.starts_with(b"PK\x03\x04") {
        Some("ZIP archive".into())
    } else if body.starts_with(&[0x1f, 0x8b]) {
        Some("gzip archive".into())
    } else if body.starts_with(b"Rar!") {
        Some("RAR archive".into())
    } else if body.starts_with(b"7z\xbc\xaf\x27\x1c") {
        Some("7-Zip archive".into())
    } else {
        None
    }
}

fn sql_dump(body: &[u8]) -> Option<String> {
    let t = text(body);
    (t.contains("-- MySQL dump")
        || t.contains("-- PostgreSQL database dump")
        || (t.contains("CREATE TABLE") && t.contains("INSERT INTO")))
    .then(|| "SQL dump".to_string())
}

const CHECKS: [Check; 10] = [
    Check {
        check: "git",
        path: "/.git/HEAD",
        confirm: git_head,
    },
    Check {
        check: "env",
        path: "/.env",
        confirm: env_file,
    },
    Check {
        check: "phpinfo",
        path: "/phpinfo.php",
        confirm: phpinfo,
    },
    Check {
        check: "phpinfo",
        path: "/info.php",
        confirm: phpinfo,
    },
    Check {
        check: "server_status",
        path: "/server-status",
        confirm: server_status,
    },
    Check {
        check: "directory_listing",
        path: "/uploads/",
        confirm: directory_listing,
    },
    Check {
        check: "backup_archive",
        path: "/backup.zip",
        confirm: archive,
    },
    Check {
        check: "backup_archive",
        path: "/backup.tar.gz",
        confirm: archive,
    },
    Check {
        check: "backup_archive",
        path: "/www.zip",
        confirm: archive,
    },
    Check {
        check: "backup_archive",
        path: "/backup.sql",
        confirm: sql_dump,
    },
];

/// The paths requested, in order.
pub fn paths() -> impl Iterator<Item = &'static str> {
    CHECKS.iter().map(|c| c.path)
}

/// Judges the answer to the `index`-th path: exposed only when the content confirms it.
pub fn judge(index: usize, status: Option<u16>, body: &[u8]) -> Exposure {
    let c = &CHECKS[index];
    let evidence = match status {
        Some(s) if (200..300).contains(&s) => (c.confirm)(body),
        _ => None,
    };
    Exposure {
        check: c.check.to_string(),
        path: c.path.to_string(),
        status,
        exposed: evidence.is_some(),
        evidence,
    }
}

/// Whether the home page itself is a directory listing (checked on `/` too).
pub fn home_is_listing(status: Option<u16>, body: &[u8]) -> Option<Exposure> {
    let evidence = directory_listing(body)?;
    Some(Exposure {
        check: "directory_listing".into(),
        path: "/".into(),
        status,
        exposed: true,
        evidence: Some(evidence),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(path: &str) -> usize {
        paths().position(|p| p == path).unwrap()
    }

    #[test]
    fn a_200_home_page_is_not_an_exposure() {
        let page = b"<!doctype html><html><title>So Cong Thuong</title></html>";
        for (i, _) in paths().enumerate() {
            assert!(!judge(i, Some(200), page).exposed, "{}", CHECKS[i].path);
        }
    }

    #[test]
    fn real_exposures_are_confirmed_by_content() {
        let git = judge(index_of("/.git/HEAD"), Some(200), b"ref: refs/heads/main\n");
        assert!(git.exposed);
        let env = judge(
            index_of("/.env"),
            Some(200),
            b"APP_ENV=production\nDB_PASSWORD=x\n",
        );
        assert_eq!(env.evidence.as_deref(), Some("APP_ENV=..."));
        let zip = judge(index_of("/backup.zip"), Some(200), b"PK\x03\x04rest");
        assert!(zip.exposed);
        let missing = judge(index_of("/backup.zip"), Some(404), b"PK\x03\x04");
        assert!(!missing.exposed, "a 404 is never an exposure");
    }
}
