//! SPF (RFC 7208): the record of the mail domain, parsed, and its DNS-lookup count.
//!
//! The parser is pure and total (any text in, a description out; property-tested); it finds
//! the `all` mechanism and its qualifier, counts the terms that cost a DNS lookup (`include`,
//! `a`, `mx`, `ptr`, `exists`, `redirect`) and notes what RFC 7208 calls errors (unknown
//! mechanisms, malformed terms, duplicate modifiers) plus `+all`. The evaluator then follows
//! `include:` and `redirect=` through DNS, adding the nested records' lookups to the count,
//! within caps on depth, records fetched and time, so that a hostile or looping SPF tree
//! cannot keep the probe busy. Observations only: whether `~all` is good enough is decided by
//! the policies, not here.

use std::collections::HashMap;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use canhgac_policies::report::{ProbeError, Spf};

/// The RFC 7208 section 4.6.4 limit on DNS-querying terms.
pub const LOOKUP_LIMIT: u32 = 10;
/// Nesting followed at most (includes within includes).
const MAX_DEPTH: usize = 10;
/// Records fetched at most while following includes.
const MAX_FETCHES: usize = 25;
/// Problems kept per record.
const MAX_PROBLEMS: usize = 20;
/// Longest record kept in `raw`, in bytes.
const MAX_RAW: usize = 4096;

/// One SPF record, parsed without any lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The `all` mechanism with its qualifier made explicit (`-all`, `~all`, `?all`, `+all`).
    pub all: Option<String>,
    /// Terms of this record that query DNS (`redirect` counted only when it applies).
    pub lookups: u32,
    /// Domains of `include:` mechanisms, in order.
    pub includes: Vec<String>,
    /// The `redirect=` domain, when it applies (no `all` in the record).
    pub redirect: Option<String>,
    /// What is wrong with the record.
    pub problems: Vec<String>,
}

/// Whether a TXT string is an SPF record (`v=spf1` then a space or the end).
pub fn is_spf(txt: &str) -> bool {
    let t = txt.trim_start();
    t.len() >= 6
        && t.is_char_boundary(6)
        && t[..6].eq_ignore_ascii_case("v=spf1")
        && t[6..].chars().next().is_none_or(|c| c == ' ')
}

fn push(problems: &mut Vec<String>, p: String) {
    if problems.len() < MAX_PROBLEMS && !problems.contains(&p) {
        problems.push(p);
    }
}

fn valid_domain_spec(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253 + 64
        && d.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
}

fn valid_cidr(s: &str, max: u8) -> bool {
    s.parse::<u8>().is_ok_and(|n| n <= max) && !s.starts_with('+')
}

/// Splits `a:domain/24//64` style arguments into the domain part and the CIDR parts.
fn split_cidr(arg: &str) -> (&str, Vec<&str>) {
    let mut parts = arg.split('/');
    let domain = parts.next().unwrap_or("");
    (domain, parts.collect())
}

/// Parses one SPF record.
pub fn parse(record: &str) -> Parsed {
    let mut p = Parsed::default();
    if !is_spf(record) {
        push(
            &mut p.problems,
            "the record does not start with v=spf1".into(),
        );
        return p;
    }
    let body = &record.trim_start()[6..];
    let mut redirect: Option<String> = None;
    let mut redirects = 0;
    let mut exps = 0;
    let mut after_all = false;
    for term in body.split(' ').filter(|t| !t.is_empty()) {
        if term.chars().any(|c| !c.is_ascii_graphic()) {
            push(
                &mut p.problems,
                format!(
                    "term {:?} has characters outside printable ASCII",
                    clip(term)
                ),
            );
            continue;
        }
        // Modifiers: name=value, where name starts with a letter and has no ':' or '/'.
        if let Some((name, value)) = term.split_once('=')
            && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            match name.to_ascii_lowercase().as_str() {
                "redirect" => {
                    redirects += 1;
                    if valid_domain_spec(value) {
                        redirect = Some(value.to_ascii_lowercase());
                    } else {
                        push(&mut p.problems, "redirect= has no valid domain".into());
                    }
                }
                "exp" => {
                    exps += 1;
                    if !valid_domain_spec(value) {
                        push(&mut p.problems, "exp= has no valid domain".into());
                    }
                }
                _ => {} // Unknown modifiers are ignored (RFC 7208 section 6).
            }
            continue;
        }
        let (qualifier, mechanism) = match term.chars().next() {
            Some(q @ ('+' | '-' | '~' | '?')) => (q, &term[1..]),
            _ => ('+', term),
        };
        let (name, arg) = match mechanism.find([':', '/']) {
            Some(i) => (&mechanism[..i], Some(&mechanism[i..])),
            None => (mechanism, None),
        };
        let lower = name.to_ascii_lowercase();
        if after_all && lower != "all" {
            push(
                &mut p.problems,
                "terms after the all mechanism are never evaluated".into(),
            );
        }
        match lower.as_str() {
            "all" => {
                if arg.is_some() {
                    push(&mut p.problems, "all takes no argument".into());
                }
                if p.all.is_none() {
                    p.all = Some(format!("{qualifier}all"));
                    if qualifier == '+' {
                        push(
                            &mut p.problems,
                            "+all: every server on the internet may send mail for the domain"
                                .into(),
                        );
                    }
                }
                after_all = true;
            }
            "include" | "exists" => {
                p.lookups += 1;
                match arg.and_then(|a| a.strip_prefix(':')) {
                    Some(d) if valid_domain_spec(d) && !d.contains('/') => {
                        if lower == "include" {
                            p.includes.push(d.to_ascii_lowercase());
                        }
                    }
                    _ => push(
                        &mut p.problems,
                        format!("{lower} needs a domain ({:?})", clip(term)),
                    ),
                }
            }
            "a" | "mx" => {
                p.lookups += 1;
                if let Some(arg) = arg {
                    let (domain, cidrs) = match arg.strip_prefix(':') {
                        Some(rest) => {
                            let (d, c) = split_cidr(rest);
                            (Some(d), c)
                        }
                        None => {
                            let (_, c) = split_cidr(arg);
                            (None, c)
                        }
                    };
                    let domain_ok = domain.is_none_or(valid_domain_spec);
                    let cidr_ok = match cidrs.as_slice() {
                        [] => true,
                        [v4] => valid_cidr(v4, 32),
                        [v4, "", v6] => {
                            (v4.is_empty() || valid_cidr(v4, 32)) && valid_cidr(v6, 128)
                        }
                        _ => false,
                    };
                    if !(domain_ok && cidr_ok) {
                        push(
                            &mut p.problems,
                            format!("malformed {lower} term {:?}", clip(term)),
                        );
                    }
                }
            }
            "ptr" => {
                p.lookups += 1;
                push(
                    &mut p.problems,
                    "ptr is deprecated (RFC 7208 section 5.5) and slow for receivers".into(),
                );
                if let Some(arg) = arg
                    && !arg.strip_prefix(':').is_some_and(valid_domain_spec)
                {
                    push(
                        &mut p.problems,
                        format!("malformed ptr term {:?}", clip(term)),
                    );
                }
            }
            "ip4" => {
                let ok = arg.and_then(|a| a.strip_prefix(':')).is_some_and(|a| {
                    let (ip, cidrs) = split_cidr(a);
                    ip.parse::<Ipv4Addr>().is_ok()
                        && match cidrs.as_slice() {
                            [] => true,
                            [c] => valid_cidr(c, 32),
                            _ => false,
                        }
                });
                if !ok {
                    push(
                        &mut p.problems,
                        format!("malformed ip4 term {:?}", clip(term)),
                    );
                }
            }
            "ip6" => {
                let ok = arg.and_then(|a| a.strip_prefix(':')).is_some_and(|a| {
                    let (ip, cidrs) = split_cidr(a);
                    ip.parse::<Ipv6Addr>().is_ok()
                        && match cidrs.as_slice() {
                            [] => true,
                            [c] => valid_cidr(c, 128),
                            _ => false,
                        }
                });
                if !ok {
                    push(
                        &mut p.problems,
                        format!("malformed ip6 term {:?}", clip(term)),
                    );
                }
            }
            _ => push(
                &mut p.problems,
                format!(
                    "unknown mechanism {:?} (a permanent error for receivers)",
                    clip(term)
                ),
            ),
        }
    }
    if redirects > 1 {
        push(&mut p.problems, "redirect= appears more than once".into());
    }
    if exps > 1 {
        push(&mut p.problems, "exp= appears more than once".into());
    }
    if let Some(r) = redirect {
        if p.all.is_some() {
            push(
                &mut p.problems,
                "redirect= is ignored because the record has an all mechanism".into(),
            );
        } else {
            p.lookups += 1;
            p.redirect = Some(r);
        }
    }
    p
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Builds the report for a domain's TXT strings, following includes and redirects with
/// `fetch` (which returns the TXT strings of a domain) until `deadline`.
pub async fn evaluate<F, Fut>(txts: &[String], fetch: F, deadline: Instant) -> Option<Spf>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Vec<String>, ProbeError>>,
{
    let records: Vec<&String> = txts.iter().filter(|t| is_spf(t)).collect();
    let first = records.first()?;
    let top = parse(first);
    let mut problems = Vec::new();
    if records.len() > 1 {
        push(
            &mut problems,
            format!(
                "{} SPF records are published; receivers treat that as a permanent error",
                records.len()
            ),
        );
    }
    for p in &top.problems {
        push(&mut problems, p.clone());
    }
    let mut lookups = top.lookups;
    let mut all = top.all.clone();
    let mut cache: HashMap<String, Result<Vec<String>, ProbeError>> = HashMap::new();
    // (domain, depth, via redirect)
    let mut work: Vec<(String, usize, bool)> = top
        .includes
        .iter()
        .rev()
        .map(|d| (d.clone(), 1, false))
        .collect();
    if let Some(r) = &top.redirect {
        work.insert(0, (r.clone(), 1, true));
    }
    let mut fetches = 0usize;
    let mut complete = true;
    while let Some((domain, depth, redirect)) = work.pop() {
        if depth > MAX_DEPTH || fetches >= MAX_FETCHES || Instant::now() >= deadline {
            complete = false;
            break;
        }
        if domain.contains('%') {
            // A macro needs the sender's address: it cannot be followed here.
            continue;
        }
        let txts = match cache.get(&domain) {
            Some(r) => r.clone(),
            None => {
                fetches += 1;
                let r = fetch(domain.clone()).await;
                cache.insert(domain.clone(), r.clone());
                r
            }
        };
        let kind = if redirect { "redirect=" } else { "include:" };
        let txts = match txts {
            Ok(t) => t,
            Err(e) => {
                push(
                    &mut problems,
                    format!(
                        "{kind}{domain} could not be fetched ({}: {})",
                        e.code, e.message
                    ),
                );
                complete = false;
                continue;
            }
        };
        let nested: Vec<&String> = txts.iter().filter(|t| is_spf(t)).collect();
        let Some(record) = nested.first() else {
            push(
                &mut problems,
                format!("{kind}{domain} has no SPF record (a permanent error for receivers)"),
            );
            continue;
        };
        if nested.len() > 1 {
            push(
                &mut problems,
                format!("{kind}{domain} publishes {} SPF records", nested.len()),
            );
        }
        let parsed = parse(record);
        lookups += parsed.lookups;
        if redirect && all.is_none() {
            all.clone_from(&parsed.all);
        }
        for d in parsed.includes.iter().rev() {
            work.push((d.clone(), depth + 1, false));
        }
        if let Some(r) = parsed.redirect {
            // Only the redirect of the top record (or of a redirect) decides `all`.
            work.insert(0, (r, depth + 1, redirect));
        }
    }
    if !complete {
        push(
            &mut problems,
            format!(
                "includes were not all followed (depth {MAX_DEPTH}, {MAX_FETCHES} records or time limit): the lookup count is a lower bound"
            ),
        );
    }
    if lookups > LOOKUP_LIMIT {
        push(
            &mut problems,
            format!(
                "{lookups} DNS-querying terms, over the RFC 7208 limit of {LOOKUP_LIMIT} (a permanent error for receivers)"
            ),
        );
    }
    let mut raw: String = first.to_string();
    if raw.len() > MAX_RAW {
        let mut cut = MAX_RAW;
        while !raw.is_char_boundary(cut) {
            cut -= 1;
        }
        raw.truncate(cut);
    }
    Some(Spf {
        raw,
        all,
        lookups,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn recognises_spf_records() {
        assert!(is_spf("v=spf1 -all"));
        assert!(is_spf("V=SPF1"));
        assert!(!is_spf("v=spf10 -all"));
        assert!(!is_spf("v=DMARC1; p=none"));
        assert!(!is_spf("v=sp"));
        assert!(!is_spf("v=spfé"));
    }

    #[test]
    fn all_and_lookups() {
        let p = parse("v=spf1 a mx include:_spf.example.com ip4:192.0.2.0/24 ~all");
        assert_eq!(p.all.as_deref(), Some("~all"));
        assert_eq!(p.lookups, 3);
        assert_eq!(p.includes, vec!["_spf.example.com"]);
        assert!(p.problems.is_empty(), "{:?}", p.problems);

        let p = parse("v=spf1 ip6:2001:db8::/32 exists:%{i}.x.example ptr -all");
        assert_eq!(p.all.as_deref(), Some("-all"));
        assert_eq!(p.lookups, 2);
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems); // ptr deprecated
    }

    #[test]
    fn plus_all_and_bare_all_are_flagged() {
        for r in ["v=spf1 +all", "v=spf1 all"] {
            let p = parse(r);
            assert_eq!(p.all.as_deref(), Some("+all"));
            assert!(p.problems.iter().any(|x| x.starts_with("+all")), "{r}");
        }
    }

    #[test]
    fn redirect_counts_only_without_all() {
        let p = parse("v=spf1 redirect=_spf.example.net");
        assert_eq!(p.lookups, 1);
        assert_eq!(p.redirect.as_deref(), Some("_spf.example.net"));
        let p = parse("v=spf1 -all redirect=_spf.example.net");
        assert_eq!(p.lookups, 0);
        assert!(p.redirect.is_none());
        assert!(!p.problems.is_empty());
    }

    #[test]
    fn errors_are_reported() {
        let p = parse("v=spf1 foo:bar ip4:300.1.1.1 ip6:zz include a:/99 -all");
        assert_eq!(p.problems.len(), 5, "{:?}", p.problems);
        let p = parse("v=spf1 redirect=a.example redirect=b.example");
        assert!(p.problems.iter().any(|x| x.contains("more than once")));
        let p = parse("v=spf1 a:mail.example.gov.vn/24//64 mx/24 -all");
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    fn tree(domain: String) -> std::future::Ready<Result<Vec<String>, ProbeError>> {
        let txt = match domain.as_str() {
            "one.example" => "v=spf1 include:two.example a mx -all",
            "two.example" => "v=spf1 a mx ptr exists:x.example -all",
            "loop.example" => "v=spf1 include:loop.example -all",
            "redir.example" => "v=spf1 mx ~all",
            "none.example" => "some text",
            _ => {
                return std::future::ready(Err(ProbeError::new("timeout", "no answer")));
            }
        };
        std::future::ready(Ok(vec![txt.to_string()]))
    }

    fn run(txts: &[&str]) -> Spf {
        let txts: Vec<String> = txts.iter().map(|s| s.to_string()).collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        futures::executor::block_on(evaluate(&txts, tree, deadline)).unwrap()
    }

    #[test]
    fn nested_lookups_are_counted() {
        let spf = run(&["v=spf1 include:one.example include:one.example a -all"]);
        // 2 includes + a, then 2 x (include + a + mx), then 2 x (a + mx + ptr + exists).
        assert_eq!(spf.lookups, 3 + 2 * 3 + 2 * 4);
        assert!(
            spf.problems
                .iter()
                .any(|p| p.contains("over the RFC 7208 limit"))
        );
    }

    #[test]
    fn redirect_gives_all() {
        let spf = run(&["v=spf1 redirect=redir.example"]);
        assert_eq!(spf.all.as_deref(), Some("~all"));
        assert_eq!(spf.lookups, 2);
    }

    #[test]
    fn loops_and_missing_records_end() {
        let spf = run(&["v=spf1 include:loop.example -all"]);
        assert!(spf.problems.iter().any(|p| p.contains("lower bound")));
        let spf = run(&["v=spf1 include:none.example include:gone.example -all"]);
        assert!(spf.problems.iter().any(|p| p.contains("has no SPF record")));
        assert!(
            spf.problems
                .iter()
                .any(|p| p.contains("could not be fetched"))
        );
    }

    #[test]
    fn several_records_are_a_problem() {
        let spf = run(&["v=spf1 -all", "v=spf1 ~all", "google-site-verification=x"]);
        assert!(spf.problems[0].starts_with("2 SPF records"));
        assert!(
            futures::executor::block_on(evaluate(&["hello".to_string()], tree, Instant::now()))
                .is_none()
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,400}") {
            let _ = parse(&s);
            let _ = parse(&format!("v=spf1 {s}"));
        }

        #[test]
        fn parse_never_panics_on_spf_like_terms(
            terms in proptest::collection::vec(
                "[+~?-]?(all|include|a|mx|ptr|ip4|ip6|exists|redirect|exp|x)[:=/]?[a-z0-9.:/%{}-]{0,20}",
                0..30,
            )
        ) {
            let p = parse(&format!("v=spf1 {}", terms.join(" ")));
            prop_assert!(p.problems.len() <= MAX_PROBLEMS);
            prop_assert!(p.lookups as usize <= terms.len());
        }
    }
}
