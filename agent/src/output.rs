//! Rendering reports for people: one compact table per target.

use canhgac_policies::pack::{Evaluation, Pack, Status};
use canhgac_policies::report::{
    ContentReport, DnsReport, DomainReport, HttpReport, Protocols, ScanReport, TlsReport,
};
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

fn http_rows(table: &mut Table, h: &HttpReport) {
    if let Some(e) = &h.error {
        table.add_row(vec![
            "HTTP".to_string(),
            format!("{}: {}", e.code, e.message),
        ]);
        return;
    }
    for e in &h.endpoints {
        let path: Vec<String> = e
            .hops
            .iter()
            .map(|hop| format!("{} {}", hop.status, hop.url))
            .collect();
        let mut line = path.join(" -> ");
        if let Some(err) = &e.error {
            line.push_str(&format!(" [{}: {}]", err.code, err.message));
        }
        table.add_row(vec![format!("  {}", e.url), line]);
    }
    table.add_row(vec![
        "HTTP -> HTTPS".to_string(),
        format!(
            "redirects: {}, downgrades: {}",
            yes_no(h.redirects_to_https),
            yes_no(h.downgrades)
        ),
    ]);
    let hd = &h.headers;
    let hsts = match (hd.hsts.present, hd.hsts.max_age) {
        (true, Some(age)) => format!(
            "max-age {age}{}{}",
            if hd.hsts.include_subdomains {
                ", includeSubDomains"
            } else {
                ""
            },
            if hd.hsts.preload { ", preload" } else { "" }
        ),
        _ => "missing".to_string(),
    };
    let csp = if hd.csp.present {
        let mut c = format!("from {}", hd.csp.source.as_deref().unwrap_or("?"));
        if hd.csp.unsafe_inline {
            c.push_str(", 'unsafe-inline'");
        }
        if hd.csp.unsafe_eval {
            c.push_str(", 'unsafe-eval'");
        }
        c
    } else if hd.csp.report_only {
        "report-only (not enforced)".to_string()
    } else {
        "missing".to_string()
    };
    let or_missing = |v: &Option<String>| v.clone().unwrap_or_else(|| "missing".into());
    table.add_row(vec![
        "Headers".to_string(),
        format!(
            "HSTS {hsts}; CSP {csp}; X-Frame-Options {}; X-Content-Type-Options {}; Referrer-Policy {}",
            or_missing(&hd.x_frame_options),
            or_missing(&hd.x_content_type_options),
            or_missing(&hd.referrer_policy)
        ),
    ]);
    let insecure: Vec<&str> = h
        .cookies
        .iter()
        .filter(|c| c.set_by.starts_with("https://") && !c.secure)
        .map(|c| c.name.as_str())
        .collect();
    if !h.cookies.is_empty() {
        table.add_row(vec![
            "Cookies".to_string(),
            format!(
                "{} set; without Secure on HTTPS: {}",
                h.cookies.len(),
                if insecure.is_empty() {
                    "none".to_string()
                } else {
                    insecure.join(", ")
                }
            ),
        ]);
    }
    let versions: Vec<String> = h
        .disclosures
        .iter()
        .filter(|d| d.version.is_some())
        .map(|d| format!("{}: {}", d.source, d.value))
        .collect();
    table.add_row(vec![
        "Versions shown".to_string(),
        if versions.is_empty() {
            "none".to_string()
        } else {
            versions.join("; ")
        },
    ]);
    let exposed: Vec<String> = h
        .exposures
        .iter()
        .filter(|e| e.exposed)
        .map(|e| format!("{} ({})", e.path, e.evidence.as_deref().unwrap_or("")))
        .collect();
    table.add_row(vec![
        "Exposed files".to_string(),
        if exposed.is_empty() {
            "none found".to_string()
        } else {
            exposed.join("; ")
        },
    ]);
    let st = &h.security_txt;
    table.add_row(vec![
        "security.txt".to_string(),
        if st.present {
            format!(
                "present{}",
                if st.expired == Some(true) {
                    ", EXPIRED"
                } else {
                    ""
                }
            )
        } else {
            "missing".to_string()
        },
    ]);
}

fn content_rows(table: &mut Table, c: &ContentReport) {
    if let Some(e) = &c.error {
        table.add_row(vec![
            "Content".to_string(),
            format!("{}: {}", e.code, e.message),
        ]);
    }
    let mut found = Vec::new();
    if c.gambling_spam {
        found.push("GAMBLING SPAM".to_string());
    }
    if c.defacement {
        found.push("DEFACEMENT".to_string());
    }
    if !c.hidden_links.is_empty() {
        found.push(format!("{} hidden link(s)", c.hidden_links.len()));
    }
    if let Some(b) = &c.baseline {
        found.push(format!(
            "{:.0}% like the baseline of {}{}",
            b.similarity * 100.0,
            b.baseline_at.strftime("%Y-%m-%d"),
            if b.changed { " (CHANGED)" } else { "" }
        ));
    }
    found.push(format!(
        "trust badge: {}",
        if c.trust_badge { "yes" } else { "no" }
    ));
    table.add_row(vec!["Content".to_string(), found.join("; ")]);
    for hit in c.keyword_hits.iter().take(5) {
        table.add_row(vec![
            format!("  {}", hit.category),
            format!("\"{}\" in {}: {}", hit.keyword, hit.location, hit.context),
        ]);
    }
}

fn dns_rows(table: &mut Table, d: &DnsReport) {
    table.add_row(vec![
        "DNS".to_string(),
        format!(
            "A {}; AAAA {}; IPv6 reachable: {}; DNSSEC {}{}",
            if d.a.is_empty() {
                "-".to_string()
            } else {
                d.a.join(" ")
            },
            if d.aaaa.is_empty() {
                "-".to_string()
            } else {
                d.aaaa.join(" ")
            },
            yes_no(d.ipv6),
            d.dnssec,
            d.dnssec_detail
                .as_deref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default()
        ),
    ]);
    let ns: Vec<String> =
        d.ns.iter()
            .map(|n| format!("{} ({})", n.name, yes_no(n.answers)))
            .collect();
    table.add_row(vec!["  NS (answers)".to_string(), ns.join(", ")]);
    table.add_row(vec![
        "  CAA".to_string(),
        if d.caa.is_empty() {
            "none".to_string()
        } else {
            d.caa.join("; ")
        },
    ]);
    let spf = d
        .spf
        .as_ref()
        .map(|s| {
            format!(
                "{} ({} lookups)",
                s.all.as_deref().unwrap_or("no all"),
                s.lookups
            )
        })
        .unwrap_or_else(|| "none".into());
    let dmarc = d
        .dmarc
        .as_ref()
        .map(|m| format!("p={}", m.policy.as_deref().unwrap_or("?")))
        .unwrap_or_else(|| "none".into());
    let mx: Vec<String> =
        d.mx.iter()
            .map(|m| format!("{} STARTTLS {}", m.exchange, yes_no(m.starttls)))
            .collect();
    table.add_row(vec![
        "  Mail".to_string(),
        format!(
            "SPF {spf}; DMARC {dmarc}; MX {}",
            if mx.is_empty() {
                "none".to_string()
            } else {
                mx.join(", ")
            }
        ),
    ]);
    for (kind, e) in &d.errors {
        table.add_row(vec![
            format!("  {kind}?"),
            format!("{}: {}", e.code, e.message),
        ]);
    }
}

fn domain_rows(table: &mut Table, d: &DomainReport) {
    let mut line = format!(
        "{} (.gov.vn: {})",
        d.name,
        if d.gov_vn { "yes" } else { "NO" }
    );
    if let (Some(days), Some(src)) = (d.expires_in_days, &d.source) {
        line.push_str(&format!(", expires in {days} days (from {src})"));
    }
    if !d.statuses.is_empty() {
        line.push_str(&format!(", status {}", d.statuses.join(" ")));
    }
    if let Some(e) = &d.error {
        line.push_str(&format!(" [{}: {}]", e.code, e.message));
    }
    table.add_row(vec!["Domain".to_string(), line]);
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
    if let Some(tls) = &report.tls {
        tls_rows(&mut table, tls, &t.host);
    }
    if let Some(h) = &report.http {
        http_rows(&mut table, h);
    }
    if let Some(c) = &report.content {
        content_rows(&mut table, c);
    }
    if let Some(d) = &report.dns {
        dns_rows(&mut table, d);
    }
    if let Some(d) = &report.domain {
        domain_rows(&mut table, d);
    }
    table.to_string()
}

fn tls_rows(table: &mut Table, tls: &TlsReport, host: &str) {
    if let Some(e) = &tls.error {
        table.add_row(vec![
            "Error".to_string(),
            format!("{}: {}", e.code, e.message),
        ]);
    }
    if !tls.reachable {
        return;
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
            Some(false) => format!("does not match {host}"),
            None => "not checked".to_string(),
        },
    ]);
}

/// The evaluation of a report: grade, counts, then every rule that did not pass (failures
/// first) with evidence and remediation, then the passes in one line.
pub fn render_evaluation(e: &Evaluation) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(110);
    table.set_header(vec![
        Cell::new(format!("Cấp độ {} / level {}", e.level, e.level)),
        Cell::new(format!(
            "grade {} ({} / 100): {} fail, {} warn, {} unknown, {} pass, {} n/a ({} {})",
            e.grade,
            e.score,
            e.counts.fail,
            e.counts.warn,
            e.counts.unknown,
            e.counts.pass,
            e.counts.na,
            e.pack,
            e.pack_version
        )),
    ]);
    let mut passed = Vec::new();
    for r in &e.results {
        match r.status {
            Status::Pass | Status::Na => passed.push(r.rule.as_str()),
            _ => {
                let status = match r.status {
                    Status::Fail => "FAIL",
                    Status::Warn => "WARN",
                    _ => "UNKNOWN",
                };
                let mut text = format!("{} / {}\n{}", r.title_vi, r.title_en, r.evidence);
                if let Some(fix) = &r.remediation_vi {
                    text.push_str(&format!("\nKhắc phục: {fix}"));
                }
                if !r.references.is_empty() {
                    text.push_str(&format!("\nCăn cứ: {}", r.references.join("; ")));
                }
                table.add_row(vec![
                    format!("{status} {}\n{}", r.severity.name(), r.rule),
                    text,
                ]);
            }
        }
    }
    if !passed.is_empty() {
        table.add_row(vec!["pass / n/a".to_string(), passed.join(", ")]);
    }
    table.to_string()
}

/// What a level requires: a table, or JSON.
pub fn render_level(pack: &Pack, level: u8, json: bool) -> Result<String, serde_json::Error> {
    if json {
        let rules: Vec<serde_json::Value> = pack
            .rules_at(level)
            .map(|(r, outcome)| {
                let setting = r.at_level(level);
                serde_json::json!({
                    "rule": r.spec.id,
                    "outcome": outcome,
                    "severity": r.spec.severity,
                    "title_vi": r.spec.title_vi,
                    "title_en": r.spec.title_en,
                    "kind": r.spec.kind,
                    "path": r.spec.path,
                    "paths": r.spec.paths,
                    "min": setting.and_then(|s| s.min).or(r.spec.min),
                    "references": r.spec.references,
                })
            })
            .collect();
        let doc = serde_json::json!({"pack": pack.id, "version": pack.version, "level": level, "rules": rules});
        return Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?));
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(110);
    table.set_header(vec!["Rule", "Outcome", "Severity", "Yêu cầu / requirement"]);
    for (r, outcome) in pack.rules_at(level) {
        let min = r
            .at_level(level)
            .and_then(|s| s.min)
            .or(r.spec.min)
            .map(|m| format!(" (min {m})"))
            .unwrap_or_default();
        table.add_row(vec![
            r.spec.id.clone(),
            format!("{outcome:?}").to_lowercase(),
            r.spec.severity.name().to_string(),
            format!("{}{min}\n{}", r.spec.title_vi, r.spec.title_en),
        ]);
    }
    Ok(format!(
        "{} ({}), cấp độ {level}: {} rules\n{table}\n",
        pack.name_vi,
        pack.version,
        pack.rules_at(level).count()
    ))
}
