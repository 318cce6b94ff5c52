//! Rendering reports for people: one compact table per target.

use canhgac_policies::report::{Protocols, ScanReport, TlsReport};
use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{Cell, ContentArrangement, Table};

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn protocols_line(p: &Protocols) -> String {
    Protocols::KEYS
        .iter()
        .map(|k| {
            let mark = match p.get(k).flatten() {
                Some(true) => "+",
                Some(false) => "-",
                None => "?",
            };
            format!("{mark}{k}")
        })
        .collect::<Vec<_>>()
        .join("  ")
}

fn weak_line(tls: &TlsReport) -> String {
    let w = &tls.ciphers.weaknesses;
    let mut found = Vec::new();
    let mut unknown = Vec::new();
    for (name, v) in [
        ("NULL", w.null),
        ("anonymous", w.anonymous),
        ("EXPORT", w.export),
        ("RC4", w.rc4),
        ("DES/3DES", w.des),
        ("CBC only", w.cbc_only),
        ("no forward secrecy", w.no_forward_secrecy),
    ] {
        match v {
            Some(true) => found.push(name),
            None => unknown.push(name),
            Some(false) => {}
        }
    }
    let mut s = if found.is_empty() {
        "none found".to_string()
    } else {
        found.join(", ")
    };
    if !unknown.is_empty() {
        s.push_str(&format!(" (not decided: {})", unknown.join(", ")));
    }
    s
}

/// A table describing one report.
pub fn render(report: &ScanReport) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(110);
    let t = &report.target;
    let addr = t.address.as_deref().unwrap_or("unresolved");
    table.set_header(vec![
        Cell::new(format!("{}:{}", t.host, t.port)),
        Cell::new(format!("{addr}  ({} ms)", report.duration_ms)),
    ]);
    let Some(tls) = &report.tls else {
        table.add_row(vec!["TLS", "not probed"]);
        return table.to_string();
    };
    if let Some(e) = &tls.error {
        table.add_row(vec![
            "Error".to_string(),
            format!("{}: {}", e.code, e.message),
        ]);
    }
    if !tls.reachable {
        return table.to_string();
    }
    table.add_row(vec![
        "Protocols".to_string(),
        protocols_line(&tls.protocols),
    ]);
    for (k, e) in &tls.protocol_errors {
        table.add_row(vec![
            format!("  {k}?"),
            format!("{}: {}", e.code, e.message),
        ]);
    }
    match (&tls.negotiated, &tls.negotiation_error) {
        (Some(n), _) => {
            let mut s = format!("{} {}", n.protocol, n.cipher_suite);
            if let Some(g) = &n.key_exchange_group {
                s.push_str(&format!(", group {g}"));
            }
            if let Some(a) = &n.alpn {
                s.push_str(&format!(", ALPN {a}"));
            }
            s.push_str(if n.ocsp_stapled {
                ", OCSP stapled"
            } else {
                ", no OCSP staple"
            });
            table.add_row(vec!["Negotiated".to_string(), s]);
        }
        (None, Some(e)) => {
            table.add_row(vec![
                "Negotiated".to_string(),
                format!("none with TLS 1.2/1.3 ({})", e.message),
            ]);
        }
        (None, None) => {}
    }
    for (proto, list) in &tls.ciphers.by_protocol {
        let order = match list.server_order {
            Some(true) => "server order",
            Some(false) => "client order",
            None => "order n/a",
        };
        let complete = if list.complete { "" } else { ", incomplete" };
        let preferred = list.suites.first().map(|s| s.name.as_str()).unwrap_or("-");
        let weak: Vec<&str> = list
            .suites
            .iter()
            .filter(|s| s.flags.iter().any(|f| f != "cbc"))
            .map(|s| s.name.as_str())
            .collect();
        let mut line = format!(
            "{} accepted ({order}{complete}), first: {preferred}",
            list.suites.len()
        );
        if !weak.is_empty() {
            line.push_str(&format!("; weak: {}", weak[..weak.len().min(4)].join(" ")));
            if weak.len() > 4 {
                line.push_str(&format!(" (+{} more, see --json)", weak.len() - 4));
            }
        }
        table.add_row(vec![format!("Suites {proto}"), line]);
    }
    table.add_row(vec!["Weak suites".to_string(), weak_line(tls)]);
    if let Some(c) = &tls.certificate {
        let mut names = c.san_dns.clone();
        names.extend(c.san_ip.iter().cloned());
        table.add_row(vec!["Certificate".to_string(), c.subject.clone()]);
        table.add_row(vec!["  names".to_string(), names.join(", ")]);
        table.add_row(vec!["  issuer".to_string(), c.issuer.clone()]);
        table.add_row(vec![
            "  valid".to_string(),
            format!(
                "{} .. {} ({} days left)",
                c.not_before.strftime("%Y-%m-%d"),
                c.not_after.strftime("%Y-%m-%d"),
                c.days_left
            ),
        ]);
        let curve = c
            .curve
            .as_deref()
            .map(|s| format!(" {s}"))
            .unwrap_or_default();
        table.add_row(vec![
            "  key".to_string(),
            format!(
                "{} {}{curve}, {}",
                c.key_type, c.key_bits, c.signature_algorithm
            ),
        ]);
    }
    let f = &tls.chain_facts;
    table.add_row(vec![
        "Chain".to_string(),
        format!(
            "{} served, in order: {}, root included: {}, missing intermediate: {}",
            f.served,
            yes_no(f.in_order),
            if f.includes_root { "yes" } else { "no" },
            yes_no(f.missing_intermediate)
        ),
    ]);
    let v = &tls.validation;
    let verdict = match (&v.error, &v.detail) {
        (None, _) => format!("TRUSTED ({})", v.trust_store),
        (Some(code), Some(detail)) => format!("{} - {code}: {detail}", v.status.to_uppercase()),
        (Some(code), None) => format!("{} - {code}", v.status.to_uppercase()),
    };
    table.add_row(vec!["Validation".to_string(), verdict]);
    table.add_row(vec![
        "Host name".to_string(),
        match v.hostname_match {
            Some(true) => "matches".to_string(),
            Some(false) => format!("does not match {}", t.host),
            None => "not checked".to_string(),
        },
    ]);
    table.to_string()
}
