//! DMARC (RFC 7489): the `_dmarc` record of the mail domain, parsed.
//!
//! Pure and total like the SPF parser: tags are read as published (`p`, `sp`, `pct`, `rua`
//! and the others), and what a receiver would reject or ignore is listed as a problem: no
//! `v=DMARC1` first, a missing or invalid `p`, values outside their ranges, report addresses
//! that are not `mailto:` URIs, duplicate tags. The policy itself is only reported: how strict
//! it must be is for the policies to say.

use canhgac_policies::report::Dmarc;

/// Problems kept per record.
const MAX_PROBLEMS: usize = 20;
/// `rua` addresses kept.
const MAX_RUA: usize = 20;
/// Longest record kept in `raw`, in bytes.
const MAX_RAW: usize = 4096;

/// Whether a TXT string is a DMARC record (`v=DMARC1` as its first tag).
pub fn is_dmarc(txt: &str) -> bool {
    let first = txt.split(';').next().unwrap_or("");
    match first.split_once('=') {
        Some((k, v)) => k.trim() == "v" && v.trim() == "DMARC1",
        None => false,
    }
}

fn push(problems: &mut Vec<String>, p: String) {
    if problems.len() < MAX_PROBLEMS && !problems.contains(&p) {
        problems.push(p);
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

fn policy(value: &str) -> Option<String> {
    let v = value.to_ascii_lowercase();
    matches!(v.as_str(), "none" | "quarantine" | "reject").then_some(v)
}

/// Parses the TXT strings published at `_dmarc.<domain>`; `None` when none is a DMARC record.
pub fn from_txts(txts: &[String]) -> Option<Dmarc> {
    let records: Vec<&String> = txts.iter().filter(|t| is_dmarc(t)).collect();
    let first = records.first()?;
    let mut d = parse(first);
    if records.len() > 1 {
        d.problems.insert(
            0,
            format!(
                "{} DMARC records are published; receivers then apply none of them",
                records.len()
            ),
        );
        d.problems.truncate(MAX_PROBLEMS);
    }
    Some(d)
}

/// Parses one DMARC record.
pub fn parse(record: &str) -> Dmarc {
    let mut raw = record.to_string();
    if raw.len() > MAX_RAW {
        let mut cut = MAX_RAW;
        while !raw.is_char_boundary(cut) {
            cut -= 1;
        }
        raw.truncate(cut);
    }
    let mut d = Dmarc {
        raw,
        ..Dmarc::default()
    };
    if !is_dmarc(record) {
        push(
            &mut d.problems,
            "the record does not start with v=DMARC1".into(),
        );
    }
    let mut seen: Vec<String> = Vec::new();
    for (i, part) in record.split(';').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((key, value)) = part.split_once('=') else {
            push(
                &mut d.problems,
                format!("tag without a value: {:?}", clip(part)),
            );
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim();
        if seen.contains(&key) {
            push(&mut d.problems, format!("tag {key} appears more than once"));
            continue;
        }
        if seen.len() < 64 {
            seen.push(key.clone());
        }
        match key.as_str() {
            "v" => {
                if i != 0 {
                    push(&mut d.problems, "v= must be the first tag".into());
                }
            }
            "p" => match policy(value) {
                Some(p) => d.policy = Some(p),
                None => push(
                    &mut d.problems,
                    format!("invalid p={:?} (none, quarantine or reject)", clip(value)),
                ),
            },
            "sp" => match policy(value) {
                Some(p) => d.subdomain_policy = Some(p),
                None => push(
                    &mut d.problems,
                    format!("invalid sp={:?} (none, quarantine or reject)", clip(value)),
                ),
            },
            "pct" => match value.parse::<u8>() {
                Ok(n) if n <= 100 && !value.starts_with('+') => d.pct = Some(n),
                _ => push(
                    &mut d.problems,
                    format!("invalid pct={:?} (0 to 100)", clip(value)),
                ),
            },
            "rua" | "ruf" => {
                for uri in value.split(',').map(str::trim) {
                    let ok = uri
                        .get(..7)
                        .is_some_and(|s| s.eq_ignore_ascii_case("mailto:"))
                        && uri.get(7..).is_some_and(|rest| rest.contains('@'));
                    if !ok {
                        push(
                            &mut d.problems,
                            format!("{key} address {:?} is not a mailto: URI", clip(uri)),
                        );
                    } else if key == "rua" && d.rua.len() < MAX_RUA {
                        d.rua.push(uri.to_string());
                    }
                }
            }
            "adkim" | "aspf" => {
                if !matches!(value.to_ascii_lowercase().as_str(), "r" | "s") {
                    push(
                        &mut d.problems,
                        format!("invalid {key}={:?} (r or s)", clip(value)),
                    );
                }
            }
            "fo" => {
                let ok = value
                    .split(':')
                    .all(|o| matches!(o.trim(), "0" | "1" | "d" | "s"));
                if !ok {
                    push(
                        &mut d.problems,
                        format!("invalid fo={:?} (0, 1, d, s)", clip(value)),
                    );
                }
            }
            "rf" => {
                if !value
                    .split(':')
                    .all(|f| f.trim().eq_ignore_ascii_case("afrf"))
                {
                    push(
                        &mut d.problems,
                        format!("invalid rf={:?} (afrf)", clip(value)),
                    );
                }
            }
            "ri" => {
                if value.parse::<u32>().is_err() {
                    push(
                        &mut d.problems,
                        format!("invalid ri={:?} (seconds)", clip(value)),
                    );
                }
            }
            // DMARCbis tags, accepted by current receivers.
            "np" | "psd" | "t" => {}
            other => push(&mut d.problems, format!("unknown tag {:?}", clip(other))),
        }
    }
    if d.policy.is_none() && !d.problems.iter().any(|p| p.starts_with("invalid p=")) {
        push(
            &mut d.problems,
            "no p= tag: receivers ignore the record (or treat it as p=none with rua)".into(),
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_complete_record() {
        let d = parse(
            "v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:dmarc@example.gov.vn,mailto:x@report.example; adkim=s; fo=1",
        );
        assert_eq!(d.policy.as_deref(), Some("reject"));
        assert_eq!(d.subdomain_policy.as_deref(), Some("quarantine"));
        assert_eq!(d.pct, Some(50));
        assert_eq!(d.rua.len(), 2);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
    }

    #[test]
    fn missing_and_invalid_values() {
        let d = parse("v=DMARC1; rua=mailto:a@example.gov.vn");
        assert!(d.policy.is_none());
        assert!(d.problems[0].starts_with("no p= tag"));

        let d = parse("v=DMARC1; p=block; pct=150; rua=https://x.example; adkim=x; zz=1");
        assert!(d.policy.is_none());
        assert_eq!(d.problems.len(), 5, "{:?}", d.problems);

        let d = parse("p=none; v=DMARC1");
        assert!(d.problems.iter().any(|p| p.contains("v=DMARC1")));
    }

    #[test]
    fn several_records() {
        let d = from_txts(&[
            "v=DMARC1; p=none".to_string(),
            "v=DMARC1; p=reject".to_string(),
        ])
        .unwrap();
        assert!(d.problems[0].starts_with("2 DMARC records"));
        assert!(from_txts(&["v=spf1 -all".to_string()]).is_none());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,400}") {
            let _ = parse(&s);
            let d = parse(&format!("v=DMARC1; {s}"));
            prop_assert!(d.problems.len() <= MAX_PROBLEMS);
        }

        #[test]
        fn parse_never_panics_on_tag_soup(
            tags in proptest::collection::vec("(v|p|sp|pct|rua|ruf|adkim|aspf|fo|rf|ri|x)=[a-zA-Z0-9:@.,+-]{0,12}", 0..20)
        ) {
            let d = parse(&tags.join(";"));
            prop_assert!(d.rua.len() <= MAX_RUA);
        }
    }
}
