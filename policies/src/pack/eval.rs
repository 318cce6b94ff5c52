//! Evaluation: a scan report against the rules of one level, as a pure function.
//!
//! Each rule reads its observations by JSON Pointer from the report's JSON form, so a report
//! with any field missing evaluates without panicking: the rule is then `unknown` (or what its
//! `missing` says), never a silent pass. The grade is computed from the statuses only (see
//! [`grade`]), so a report that is strictly better never grades lower.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Pack;
use super::rule::{Kind, LevelOverride, Missing, Outcome, Rule, Severity};
use crate::report::ScanReport;

/// The result of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The check holds.
    Pass,
    /// It does not, and the level makes that a failure.
    Fail,
    /// It does not, and the level makes that a warning.
    Warn,
    /// Not applicable (nothing to check, e.g. no cookies).
    Na,
    /// Could not be decided (the observation is missing).
    Unknown,
    /// A failure (or warning) accepted for a while by a waiver the server holds: never produced
    /// by [`evaluate`], only by [`apply_waivers`].
    Waived,
}

/// One rule's result with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    /// The rule id.
    pub rule: String,
    /// The result.
    pub status: Status,
    /// The rule's severity.
    pub severity: Severity,
    /// Vietnamese title.
    pub title_vi: Arc<str>,
    /// English title.
    pub title_en: Arc<str>,
    /// What was observed (`/tls/protocols/tls1.0 = true`).
    pub evidence: String,
    /// How to fix it (Vietnamese), for failures and warnings.
    pub remediation_vi: Option<Arc<str>>,
    /// How to fix it (English), for failures and warnings.
    pub remediation_en: Option<Arc<str>>,
    /// References of the rule.
    pub references: Arc<[String]>,
}

/// Counts of results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Passed.
    pub pass: u32,
    /// Failed.
    pub fail: u32,
    /// Warnings.
    pub warn: u32,
    /// Not applicable.
    pub na: u32,
    /// Unknown.
    pub unknown: u32,
    /// Failures and warnings accepted by a waiver (see [`apply_waivers`]).
    #[serde(default)]
    pub waived: u32,
    /// Failures by severity (`critical`, `high`, `medium`, `low`, `info`).
    pub fail_by_severity: std::collections::BTreeMap<String, u32>,
}

/// A report evaluated against one level of one pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The pack id.
    pub pack: String,
    /// The pack version.
    pub pack_version: String,
    /// The level evaluated against.
    pub level: u8,
    /// `A` to `F` (see `docs/policies.md`).
    pub grade: String,
    /// The score behind the grade, 0 to 100.
    pub score: u32,
    /// Counts.
    pub counts: Counts,
    /// Results: failures first (most severe first), then warnings, unknowns, passes, n/a.
    pub results: Vec<RuleResult>,
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) if a.len() > 5 => format!("[{} items]", a.len()),
        Value::Object(o) if o.len() > 4 => format!("{{{} fields}}", o.len()),
        other => {
            let s = other.to_string();
            if s.len() > 160 {
                format!("{}...", &s[..s.floor_char_boundary(160)])
            } else {
                s
            }
        }
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// The first segment of a pointer: the probe section (`/tls/...` -> `tls`).
fn section(pointer: &str) -> &str {
    pointer
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
}

/// A check's answer before the level is applied.
enum Check {
    Holds(String),
    Fails(String),
    Na(String),
    Missing(String),
    ProbeAbsent(String),
}

fn lookup<'a>(report: &'a Value, pointer: &str) -> Result<&'a Value, Check> {
    let sec = section(pointer);
    if report.get(sec).is_none_or(Value::is_null) {
        return Err(Check::ProbeAbsent(format!(
            "no {sec} observations in the report"
        )));
    }
    match report.pointer(pointer) {
        Some(Value::Null) | None => Err(Check::Missing(format!("{pointer} is not known"))),
        Some(v) => Ok(v),
    }
}

fn check(rule: &Rule, setting: &LevelOverride, report: &Value) -> Check {
    let spec = &rule.spec;
    let path = spec.path.as_deref().unwrap_or("");
    let verdict = |ok: bool, evidence: String| {
        if ok {
            Check::Holds(evidence)
        } else {
            Check::Fails(evidence)
        }
    };
    match spec.kind {
        Kind::True | Kind::False => {
            let want = spec.kind == Kind::True;
            match lookup(report, path) {
                Ok(Value::Bool(b)) => verdict(*b == want, format!("{path} = {b}")),
                Ok(other) => Check::Missing(format!("{path} = {} is not a boolean", show(other))),
                Err(c) => c,
            }
        }
        Kind::AllFalse => {
            let mut bad = Vec::new();
            let mut unknown = Vec::new();
            let mut seen = Vec::new();
            for p in spec.paths.iter().flatten() {
                match lookup(report, p) {
                    Ok(Value::Bool(true)) => bad.push(format!("{p} = true")),
                    Ok(Value::Bool(false)) => seen.push(format!("{p} = false")),
                    Ok(_) | Err(Check::Missing(_)) => unknown.push(p.clone()),
                    Err(c) => return c,
                }
            }
            if !bad.is_empty() {
                Check::Fails(bad.join(", "))
            } else if !unknown.is_empty() {
                Check::Missing(format!("not known: {}", unknown.join(", ")))
            } else {
                Check::Holds(seen.join(", "))
            }
        }
        Kind::AtLeast => {
            let min = match (&spec.by, &spec.min_by) {
                (Some(by), Some(map)) => {
                    let key = report.pointer(by).and_then(Value::as_str).unwrap_or("");
                    map.get(key).copied().or(setting.min).or(spec.min)
                }
                _ => setting.min.or(spec.min),
            };
            let Some(min) = min else {
                return Check::Na(format!(
                    "no threshold for this case ({})",
                    spec.by.as_deref().unwrap_or("")
                ));
            };
            match lookup(report, path) {
                Ok(v) => match v.as_f64() {
                    Some(n) => verdict(n >= min, format!("{path} = {} (minimum {min})", show(v))),
                    None => Check::Missing(format!("{path} = {} is not a number", show(v))),
                },
                Err(c) => c,
            }
        }
        Kind::OneOf | Kind::NoneOf => match lookup(report, path) {
            Ok(Value::String(s)) => {
                if spec.kind == Kind::OneOf {
                    let allowed = setting.allowed.as_ref().or(spec.allowed.as_ref());
                    let ok = allowed.is_some_and(|a| a.iter().any(|x| x == s));
                    verdict(
                        ok,
                        format!(
                            "{path} = {s:?} (allowed: {})",
                            allowed.map(|a| a.join(", ")).unwrap_or_default()
                        ),
                    )
                } else {
                    let forbidden = setting.forbidden.as_ref().or(spec.forbidden.as_ref());
                    let ok = !forbidden.is_some_and(|f| f.iter().any(|x| x == s));
                    verdict(ok, format!("{path} = {s:?}"))
                }
            }
            Ok(other) => Check::Missing(format!("{path} = {} is not text", show(other))),
            Err(c) => c,
        },
        Kind::AnyPresent => {
            let mut absent = Vec::new();
            for p in spec.paths.iter().flatten() {
                match lookup(report, p) {
                    Ok(v) if present(v) => return Check::Holds(format!("{p} = {}", show(v))),
                    Ok(_) | Err(Check::Missing(_)) => absent.push(p.clone()),
                    Err(c) => return c,
                }
            }
            Check::Fails(format!("none present: {}", absent.join(", ")))
        }
        Kind::ListNone | Kind::ListAll => {
            let field = spec.field.as_deref().unwrap_or("");
            let list = match lookup(report, path) {
                Ok(Value::Array(a)) => a,
                Ok(other) => {
                    return Check::Missing(format!("{path} = {} is not a list", show(other)));
                }
                Err(c) => return c,
            };
            if spec.kind == Kind::ListNone {
                let hits: Vec<String> = list
                    .iter()
                    .filter(|e| match (&spec.equals, e.get(field)) {
                        (Some(want), Some(got)) => toml_eq(want, got),
                        (None, Some(got)) => present(got),
                        _ => false,
                    })
                    .map(show)
                    .take(5)
                    .collect();
                verdict(
                    hits.is_empty(),
                    if hits.is_empty() {
                        format!("{path}: {} item(s), none with {field}", list.len())
                    } else {
                        format!("{path}: {}", hits.join("; "))
                    },
                )
            } else {
                let selected: Vec<&Value> = list
                    .iter()
                    .filter(|e| match (&spec.where_field, &spec.where_prefix) {
                        (Some(f), Some(prefix)) => e
                            .get(f.as_str())
                            .and_then(Value::as_str)
                            .is_some_and(|v| v.starts_with(prefix.as_str())),
                        _ => true,
                    })
                    .collect();
                if selected.is_empty() {
                    return Check::Na(format!("{path}: nothing to check"));
                }
                let bad: Vec<String> = selected
                    .iter()
                    .filter(|e| e.get(field) != Some(&Value::Bool(true)))
                    .map(|e| show(e))
                    .take(5)
                    .collect();
                verdict(
                    bad.is_empty(),
                    if bad.is_empty() {
                        format!("{path}: all {} with {field}", selected.len())
                    } else {
                        format!("{path}: without {field}: {}", bad.join("; "))
                    },
                )
            }
        }
        Kind::EndsWith => match lookup(report, path) {
            Ok(Value::String(s)) => {
                let s = s.to_ascii_lowercase();
                let ok = spec.suffixes.iter().flatten().any(|suffix| {
                    let suffix = suffix.to_ascii_lowercase();
                    s.ends_with(&suffix) || s == suffix.trim_start_matches('.')
                });
                verdict(ok, format!("{path} = {s:?}"))
            }
            Ok(other) => Check::Missing(format!("{path} = {} is not text", show(other))),
            Err(c) => c,
        },
    }
}

fn toml_eq(want: &toml::Value, got: &Value) -> bool {
    match (want, got) {
        (toml::Value::Boolean(a), Value::Bool(b)) => a == b,
        (toml::Value::String(a), Value::String(b)) => a == b,
        (toml::Value::Integer(a), Value::Number(b)) => b.as_i64() == Some(*a),
        _ => false,
    }
}

/// Score and grade from statuses: 100 minus penalties (failures: critical 40, high 20,
/// medium 10, low 5; warnings half of that), then caps (a critical failure caps at F, a high
/// one at C); A >= 90, B >= 80, C >= 65, D >= 50, else F.
pub fn grade(results: &[RuleResult]) -> (u32, String) {
    let penalty = |s: Severity| match s {
        Severity::Critical => 40.0,
        Severity::High => 20.0,
        Severity::Medium => 10.0,
        Severity::Low => 5.0,
        Severity::Info => 0.0,
    };
    let mut score: f64 = 100.0;
    let mut cap = 'A';
    for r in results {
        match r.status {
            Status::Fail => {
                score -= penalty(r.severity);
                if r.severity == Severity::Critical {
                    cap = 'F';
                } else if r.severity == Severity::High && cap < 'C' {
                    cap = 'C';
                }
            }
            Status::Warn => score -= penalty(r.severity) / 2.0,
            _ => {}
        }
    }
    let score = score.max(0.0).round() as u32;
    let by_score = match score {
        90.. => 'A',
        80..=89 => 'B',
        65..=79 => 'C',
        50..=64 => 'D',
        _ => 'F',
    };
    (score, by_score.max(cap).to_string())
}

fn order(s: Status) -> u8 {
    match s {
        Status::Fail => 0,
        Status::Warn => 1,
        Status::Unknown => 2,
        Status::Waived => 3,
        Status::Pass => 4,
        Status::Na => 5,
    }
}

/// Evaluates a report's JSON form against `level` of `pack`.
pub fn evaluate_value(pack: &Pack, report: &Value, level: u8) -> Evaluation {
    let mut results = Vec::new();
    for rule in &pack.rules {
        let Some(setting) = rule.at_level(level) else {
            continue;
        };
        if setting.outcome == Outcome::Off {
            continue;
        }
        let (status, evidence) = match check(rule, setting, report) {
            Check::Holds(e) => (Status::Pass, e),
            Check::Fails(e) => (
                if setting.outcome == Outcome::Warn {
                    Status::Warn
                } else {
                    Status::Fail
                },
                e,
            ),
            Check::Na(e) => (Status::Na, e),
            Check::ProbeAbsent(e) => (Status::Unknown, e),
            Check::Missing(e) => match rule.spec.missing {
                Missing::Unknown => (Status::Unknown, e),
                Missing::Na => (Status::Na, e),
                Missing::Fail => (
                    if setting.outcome == Outcome::Warn {
                        Status::Warn
                    } else {
                        Status::Fail
                    },
                    e,
                ),
            },
        };
        let failing = matches!(status, Status::Fail | Status::Warn);
        results.push(RuleResult {
            rule: rule.spec.id.clone(),
            status,
            severity: rule.spec.severity,
            title_vi: rule.texts.title_vi.clone(),
            title_en: rule.texts.title_en.clone(),
            evidence,
            remediation_vi: failing.then(|| rule.texts.remediation_vi.clone()),
            remediation_en: failing.then(|| rule.texts.remediation_en.clone()),
            references: rule.texts.references.clone(),
        });
    }
    results.sort_by_key(|r| (order(r.status), std::cmp::Reverse(r.severity)));
    let counts = count(&results);
    let (score, grade) = grade(&results);
    Evaluation {
        pack: pack.id.clone(),
        pack_version: pack.version.clone(),
        level,
        grade,
        score,
        counts,
        results,
    }
}

fn count(results: &[RuleResult]) -> Counts {
    let mut counts = Counts::default();
    for r in results {
        match r.status {
            Status::Pass => counts.pass += 1,
            Status::Fail => {
                counts.fail += 1;
                *counts
                    .fail_by_severity
                    .entry(r.severity.name().to_string())
                    .or_default() += 1;
            }
            Status::Warn => counts.warn += 1,
            Status::Na => counts.na += 1,
            Status::Unknown => counts.unknown += 1,
            Status::Waived => counts.waived += 1,
        }
    }
    counts
}

/// `evaluation` with the failures and warnings of the rules `waived` accepts marked
/// [`Status::Waived`]: they no longer count against the grade (which is computed again), the
/// counts move them to `waived`, and the order puts them after the open findings. Passes and
/// unknowns are left as they are (a waiver accepts a known failure, it does not turn an
/// unknown into a pass).
pub fn apply_waivers(evaluation: &Evaluation, waived: &dyn Fn(&str) -> bool) -> Evaluation {
    let mut out = evaluation.clone();
    for r in &mut out.results {
        if matches!(r.status, Status::Fail | Status::Warn) && waived(&r.rule) {
            r.status = Status::Waived;
        }
    }
    out.results
        .sort_by_key(|r| (order(r.status), std::cmp::Reverse(r.severity)));
    out.counts = count(&out.results);
    let (score, grade) = grade(&out.results);
    out.score = score;
    out.grade = grade;
    out
}

/// Evaluates a report against `level` of `pack`.
pub fn evaluate(pack: &Pack, report: &ScanReport, level: u8) -> Evaluation {
    let value = serde_json::to_value(report).unwrap_or(Value::Null);
    evaluate_value(pack, &value, level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::Pack;
    use proptest::prelude::*;
    use serde_json::json;

    /// Observations each rule reads, with a bad and a good value.
    fn fields() -> Vec<(&'static str, Value, Value)> {
        vec![
            (
                "/tls/negotiated",
                json!(null),
                json!({"protocol": "tls1.3"}),
            ),
            ("/tls/protocols/ssl3", json!(true), json!(false)),
            ("/tls/protocols/tls1.0", json!(true), json!(false)),
            ("/tls/protocols/tls1.1", json!(true), json!(false)),
            ("/tls/validation/trusted", json!(false), json!(true)),
            ("/tls/validation/hostname_match", json!(false), json!(true)),
            ("/tls/certificate/days_left", json!(2), json!(80)),
            ("/tls/certificate/key_bits", json!(1024), json!(4096)),
            ("/tls/ciphers/weaknesses/rc4", json!(true), json!(false)),
            (
                "/tls/ciphers/weaknesses/forward_secrecy_only",
                json!(false),
                json!(true),
            ),
            ("/http/redirects_to_https", json!(false), json!(true)),
            ("/http/headers/hsts/max_age", json!(null), json!(63072000)),
            ("/http/headers/csp/present", json!(false), json!(true)),
            ("/http/headers/x_frame_options", json!(null), json!("DENY")),
            (
                "/http/headers/x_content_type_options",
                json!(null),
                json!("nosniff"),
            ),
            (
                "/http/headers/referrer_policy",
                json!(null),
                json!("no-referrer"),
            ),
            (
                "/http/exposures",
                json!([{"exposed": true}]),
                json!([{"exposed": false}]),
            ),
            ("/content/gambling_spam", json!(true), json!(false)),
            ("/content/defacement", json!(true), json!(false)),
            ("/dns/a", json!([]), json!(["127.0.0.1"])),
            ("/dns/ipv6", json!(false), json!(true)),
            ("/dns/dnssec", json!("bogus"), json!("valid")),
            ("/dns/caa", json!([]), json!(["0 issue \"x\""])),
            ("/dns/spf", json!({"all": "+all"}), json!({"all": "-all"})),
            (
                "/dns/dmarc",
                json!({"policy": "none"}),
                json!({"policy": "reject"}),
            ),
            ("/domain/expires_in_days", json!(3), json!(400)),
            (
                "/target/host",
                json!("a.example.com"),
                json!("a.example.gov.vn"),
            ),
        ]
    }

    fn set(v: &mut Value, pointer: &str, x: Value) {
        let mut cur = v;
        let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
        for (i, p) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                cur[*p] = x;
                return;
            }
            if !cur[*p].is_object() {
                cur[*p] = json!({});
            }
            cur = &mut cur[*p];
        }
    }

    fn build(mask: &[bool]) -> Value {
        // TLS 1.2 stays on: turning a legacy protocol off is then strictly better (with no
        // protocol left at all the site would lose HTTPS, which is not).
        let mut v =
            json!({"tls": {"certificate": {"key_type": "RSA"}, "protocols": {"tls1.2": true}}});
        for ((pointer, bad, good), is_good) in fields().into_iter().zip(mask) {
            set(&mut v, pointer, if *is_good { good } else { bad });
        }
        v
    }

    proptest! {
        #[test]
        fn never_panics_with_fields_missing(mask in proptest::collection::vec(any::<bool>(), 27), drop in proptest::collection::vec(any::<bool>(), 27), level in 1u8..=5) {
            let pack = Pack::decree85();
            let mut v = build(&mask);
            for ((pointer, _, _), d) in fields().into_iter().zip(&drop) {
                if *d {
                    set(&mut v, pointer, Value::Null);
                }
            }
            let e = evaluate_value(&pack, &v, level);
            prop_assert!(["A", "B", "C", "D", "F"].contains(&e.grade.as_str()));
        }

        #[test]
        fn a_strictly_better_report_never_grades_lower(mask in proptest::collection::vec(any::<bool>(), 27), flip in 0usize..27, level in 1u8..=5) {
            let pack = Pack::decree85();
            let mut better = mask.clone();
            better[flip] = true;
            let before = evaluate_value(&pack, &build(&mask), level);
            let after = evaluate_value(&pack, &build(&better), level);
            prop_assert!(after.score >= before.score, "{} -> {}", before.score, after.score);
            prop_assert!(after.grade <= before.grade, "{} -> {}", before.grade, after.grade);
        }
    }

    #[test]
    fn all_good_is_a_and_all_bad_is_f() {
        let pack = Pack::decree85();
        let good = evaluate_value(&pack, &build(&[true; 27]), 3);
        assert_eq!(
            good.grade,
            "A",
            "{:?}",
            good.results
                .iter()
                .filter(|r| r.status != Status::Pass)
                .collect::<Vec<_>>()
        );
        assert_eq!(evaluate_value(&pack, &build(&[false; 27]), 3).grade, "F");
    }
}
