//! Policy packs: a regulation as data files in one directory.
//!
//! A pack directory (e.g. `policies/packs/decree85/`) holds `pack.toml` (identity), `rules.toml`
//! (what each security level requires of a scan), `workflow.toml` (who appraises and approves
//! a dossier, time limits, required documents) and `calendar.toml` (holidays and working days).
//! Loading validates everything and reports `file:line:column: message`; a pack never needs
//! code, only data. The format is documented with an example in `docs/policies.md`.

pub mod eval;
pub mod rule;
pub mod workflow;

use std::path::Path;

use serde::Deserialize;

use crate::calendar::CalendarRules;
use crate::source::Location;
pub use eval::{Evaluation, RuleResult, Status, apply_waivers, evaluate, evaluate_value};
pub use rule::{Kind, Outcome, Rule, RuleSpec, Severity};
pub use workflow::{MonthDay, Workflow};

/// Why a pack could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A file could not be read.
    #[error("cannot read {file}: {reason}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        reason: String,
    },
    /// A file is not valid for its format.
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    id: String,
    name_vi: String,
    name_en: String,
    version: String,
    #[serde(default)]
    references: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rule: Vec<RuleSpec>,
}

/// A loaded, validated pack.
#[derive(Debug, Clone)]
pub struct Pack {
    /// Stable id, e.g. `decree85`.
    pub id: String,
    /// Vietnamese name.
    pub name_vi: String,
    /// English name.
    pub name_en: String,
    /// Version of the pack data.
    pub version: String,
    /// The regulation's references.
    pub references: Vec<String>,
    /// Rules, in file order.
    pub rules: Vec<Rule>,
    /// The dossier workflow.
    pub workflow: Workflow,
    /// Holidays and working days.
    pub calendar: CalendarRules,
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str, file: &str) -> Result<T, PackError> {
    toml::from_str(text).map_err(|e| PackError::Invalid {
        location: Location::of_toml_error(file, text, &e),
        message: e.message().to_string(),
    })
}

/// Finds the line of `needle` (e.g. `id = "x"`) in `text`, for errors found after parsing.
fn line_of(file: &str, text: &str, needle: &str) -> Location {
    Location::at(file, text, text.find(needle))
}

/// The texts of a pack's four files, labelled by their paths.
#[derive(Debug, Clone)]
pub struct PackSources<'a> {
    /// Label of the directory, prefixed to file names in errors.
    pub dir: &'a str,
    /// pack.toml.
    pub pack: &'a str,
    /// rules.toml.
    pub rules: &'a str,
    /// workflow.toml.
    pub workflow: &'a str,
    /// calendar.toml.
    pub calendar: &'a str,
}

const DECREE85: PackSources<'static> = PackSources {
    dir: "policies/packs/decree85",
    pack: include_str!("../../packs/decree85/pack.toml"),
    rules: include_str!("../../packs/decree85/rules.toml"),
    workflow: include_str!("../../packs/decree85/workflow.toml"),
    calendar: include_str!("../../packs/decree85/calendar.toml"),
};

impl Pack {
    /// The Decree 85/2016 pack shipped in `policies/packs/decree85/`.
    pub fn decree85() -> Pack {
        Pack::from_sources(&DECREE85).expect("the shipped decree85 pack is valid (tested)")
    }

    /// Loads a pack directory.
    pub fn load(dir: &Path) -> Result<Pack, PackError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| PackError::Read {
                file: path.display().to_string(),
                reason: e.to_string(),
            })
        };
        let (pack, rules, workflow, calendar) = (
            read("pack.toml")?,
            read("rules.toml")?,
            read("workflow.toml")?,
            read("calendar.toml")?,
        );
        let label = dir.display().to_string();
        Pack::from_sources(&PackSources {
            dir: &label,
            pack: &pack,
            rules: &rules,
            workflow: &workflow,
            calendar: &calendar,
        })
    }

    /// Loads a pack from the texts of its files.
    pub fn from_sources(src: &PackSources<'_>) -> Result<Pack, PackError> {
        let file = |name: &str| format!("{}/{name}", src.dir);
        let meta: PackFile = parse(src.pack, &file("pack.toml"))?;
        let rules_file: RulesFile = parse(src.rules, &file("rules.toml"))?;
        let mut rules: Vec<Rule> = Vec::new();
        for spec in rules_file.rule {
            let needle = format!("\"{}\"", spec.id);
            if rules.iter().any(|r| r.spec.id == spec.id) {
                let second = src.rules.rfind(&needle);
                return Err(PackError::Invalid {
                    location: Location::at(&file("rules.toml"), src.rules, second),
                    message: format!("rule {} is defined twice", spec.id),
                });
            }
            let rule = Rule::validate(spec.clone()).map_err(|message| PackError::Invalid {
                location: line_of(&file("rules.toml"), src.rules, &needle),
                message,
            })?;
            rules.push(rule);
        }
        let workflow: Workflow = parse(src.workflow, &file("workflow.toml"))?;
        workflow.validate().map_err(|message| PackError::Invalid {
            location: Location::at(&file("workflow.toml"), src.workflow, None),
            message,
        })?;
        let calendar = CalendarRules::from_toml_str(src.calendar, &file("calendar.toml")).map_err(
            |e| match e {
                crate::calendar::CalendarError::Rules { location, message } => {
                    PackError::Invalid { location, message }
                }
                other => PackError::Invalid {
                    location: Location::at(&file("calendar.toml"), src.calendar, None),
                    message: other.to_string(),
                },
            },
        )?;
        Ok(Pack {
            id: meta.id,
            name_vi: meta.name_vi,
            name_en: meta.name_en,
            version: meta.version,
            references: meta.references,
            rules,
            workflow,
            calendar,
        })
    }

    /// The rules that apply at `level`, with their setting there.
    pub fn rules_at(&self, level: u8) -> impl Iterator<Item = (&Rule, Outcome)> {
        self.rules.iter().filter_map(move |r| {
            r.at_level(level)
                .filter(|s| s.outcome != Outcome::Off)
                .map(|s| (r, s.outcome))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const IDS: [&str; 27] = [
        "tls.https_available",
        "tls.cert_trusted",
        "tls.cert_hostname",
        "tls.cert_expiry",
        "tls.legacy_protocols",
        "tls.weak_ciphers",
        "tls.forward_secrecy",
        "tls.key_strength",
        "http.redirect_https",
        "http.hsts",
        "http.csp",
        "http.frame_options",
        "http.content_type_options",
        "http.referrer_policy",
        "http.cookies_secure",
        "http.version_disclosure",
        "http.exposed_files",
        "content.gambling_spam",
        "content.defacement",
        "dns.resolves",
        "dns.ipv6",
        "dns.dnssec",
        "dns.caa",
        "dns.spf",
        "dns.dmarc",
        "domain.expiry",
        "domain.gov_vn",
    ];

    #[test]
    fn the_decree85_pack_has_every_stable_rule() {
        let pack = Pack::decree85();
        let ids: Vec<&str> = pack.rules.iter().map(|r| r.spec.id.as_str()).collect();
        assert_eq!(ids, IDS);
        assert!(pack.workflow.documents_for(4).len() > pack.workflow.documents_for(3).len());
    }

    fn outcome(pack: &Pack, id: &str, level: u8) -> Option<Outcome> {
        let rule = pack.rules.iter().find(|r| r.spec.id == id)?;
        rule.at_level(level).map(|s| s.outcome)
    }

    #[test]
    fn level_3_is_stricter_than_2_and_4_5_at_least_as_strict_as_3() {
        let pack = Pack::decree85();
        let rank = |o: Option<Outcome>| match o {
            None | Some(Outcome::Off) => 0,
            Some(Outcome::Warn) => 1,
            Some(Outcome::Fail) => 2,
        };
        let mut stricter = 0;
        for id in IDS {
            let (l2, l3, l4, l5) = (
                rank(outcome(&pack, id, 2)),
                rank(outcome(&pack, id, 3)),
                rank(outcome(&pack, id, 4)),
                rank(outcome(&pack, id, 5)),
            );
            assert!(
                l3 >= l2 && l4 >= l3 && l5 >= l3,
                "{id}: {l2} {l3} {l4} {l5}"
            );
            if l3 > l2 {
                stricter += 1;
            }
        }
        assert!(stricter >= 5);
        assert_eq!(
            outcome(&pack, "tls.legacy_protocols", 2),
            Some(Outcome::Warn)
        );
        assert_eq!(
            outcome(&pack, "tls.legacy_protocols", 3),
            Some(Outcome::Fail)
        );
        let hsts3 = pack
            .rules
            .iter()
            .find(|r| r.spec.id == "http.hsts")
            .unwrap();
        assert_eq!(hsts3.at_level(3).unwrap().min, Some(31_536_000.0));
    }

    fn sources<'a>(rules: &'a str) -> PackSources<'a> {
        PackSources { rules, ..DECREE85 }
    }

    #[test]
    fn broken_rules_fail_with_file_line_and_message() {
        let cases = [
            (
                "[[rule]]\nid = \"x\"\nkind = \"sometimes\"\n",
                "unknown variant",
            ),
            (
                "[[rule]]\nid = \"a.b\"\ntitle_vi = \"t\"\ntitle_en = \"t\"\nseverity = \"high\"\nkind = \"at_least\"\npath = \"/tls/x\"\nremediation_vi = \"r\"\nremediation_en = \"r\"\nreferences = []\nlevels = { 3 = \"fail\" }\n",
                "needs `min",
            ),
            (
                "[[rule]]\nid = \"a.b\"\ntitle_vi = \"t\"\ntitle_en = \"t\"\nseverity = \"high\"\nkind = \"true\"\npath = \"tls.x\"\nremediation_vi = \"r\"\nremediation_en = \"r\"\nreferences = []\nlevels = { 3 = \"fail\" }\n",
                "JSON Pointer",
            ),
            (
                "[[rule]]\nid = \"a.b\"\ntitle_vi = \"t\"\ntitle_en = \"t\"\nseverity = \"high\"\nkind = \"true\"\npath = \"/tls/x\"\nremediation_vi = \"r\"\nremediation_en = \"r\"\nreferences = []\nlevels = { 7 = \"fail\" }\n",
                "level \"7\" does not exist",
            ),
            (
                "[[rule]]\nid = \"a.b\"\ntitle_vi = \"t\"\ntitle_en = \"t\"\nseverity = \"hgih\"\nkind = \"true\"\npath = \"/tls/x\"\nremediation_vi = \"r\"\nremediation_en = \"r\"\nreferences = []\nlevels = { 3 = \"fail\" }\n",
                "unknown variant `hgih`",
            ),
            (
                "[[rule]]\nid = \"a.b\"\ntitle_vi = \"t\"\ntitle_en = \"t\"\nseverity = \"high\"\nkind = \"true\"\npath = \"/tls/x\"\npath_typo = 1\nremediation_vi = \"r\"\nremediation_en = \"r\"\nreferences = []\nlevels = { 3 = \"fail\" }\n",
                "unknown field `path_typo`",
            ),
        ];
        for (text, message) in cases {
            let err = Pack::from_sources(&sources(text)).unwrap_err().to_string();
            assert!(
                err.starts_with("policies/packs/decree85/rules.toml:"),
                "{err}"
            );
            assert!(err.contains(message), "{err} should contain {message}");
            let line: usize = err.split(':').nth(1).unwrap().parse().unwrap();
            assert!(line >= 1, "{err}");
        }
    }

    #[test]
    fn a_bad_report_fails_and_a_good_one_passes() {
        let pack = Pack::decree85();
        let bad = json!({
            "target": {"host": "sct.example.com", "port": 443},
            "tls": {
                "reachable": true, "negotiated": null,
                "protocols": {"ssl3": false, "tls1.0": true, "tls1.1": false, "tls1.2": true, "tls1.3": false},
                "validation": {"trusted": false, "hostname_match": false},
                "certificate": {"days_left": 3, "key_bits": 1024, "key_type": "RSA"},
                "ciphers": {"weaknesses": {"null": false, "anonymous": false, "export": false, "rc4": true, "des": false, "forward_secrecy_only": false}}
            },
            "http": null, "dns": null, "domain": null, "content": null
        });
        let e = evaluate_value(&pack, &bad, 3);
        let status = |id: &str| e.results.iter().find(|r| r.rule == id).unwrap().status;
        for id in [
            "tls.cert_trusted",
            "tls.cert_hostname",
            "tls.cert_expiry",
            "tls.legacy_protocols",
            "tls.weak_ciphers",
            "tls.key_strength",
            "domain.gov_vn",
        ] {
            assert_eq!(status(id), Status::Fail, "{id}");
        }
        assert_eq!(status("tls.forward_secrecy"), Status::Warn);
        assert_eq!(
            status("http.hsts"),
            Status::Unknown,
            "no HTTP observations: unknown, not a pass"
        );
        assert_eq!(e.grade, "F", "score {}", e.score);
        assert_eq!(e.results[0].status, Status::Fail, "failures first");
        assert!(e.results[0].remediation_vi.is_some());
        let at2 = evaluate_value(&pack, &bad, 2);
        let legacy2 = at2
            .results
            .iter()
            .find(|r| r.rule == "tls.legacy_protocols")
            .unwrap();
        assert_eq!(
            legacy2.status,
            Status::Warn,
            "TLS 1.0 is a warning at level 2"
        );
    }

    #[test]
    fn the_workflow_carries_freshness_and_the_yearly_report_day() {
        let pack = Pack::decree85();
        let day = pack.workflow.yearly_report_before.unwrap();
        assert_eq!((day.month, day.day), (12, 14));
        for level in 1..=5 {
            assert!(
                pack.workflow
                    .evidence_fresh_days(level)
                    .is_some_and(|d| d > 0)
            );
        }
        assert!(
            pack.workflow.evidence_fresh_days(4) <= pack.workflow.evidence_fresh_days(3)
                && pack.workflow.evidence_fresh_days(3) <= pack.workflow.evidence_fresh_days(2),
            "higher levels need fresher evidence"
        );
        for (text, message) in [
            (
                "yearly_report_before = { month = 2, day = 30 }\n",
                "not a day of every year",
            ),
            ("evidence_fresh_days = 0", "every report stale"),
        ] {
            let workflow = if text.starts_with("yearly") {
                DECREE85.workflow.replacen(
                    "yearly_report_before = { month = 12, day = 14 }\n",
                    text,
                    1,
                )
            } else {
                DECREE85
                    .workflow
                    .replacen("evidence_fresh_days = 14", text, 1)
            };
            let err = Pack::from_sources(&PackSources {
                workflow: &workflow,
                ..DECREE85
            })
            .map(|_| ())
            .unwrap_err()
            .to_string();
            assert!(err.contains(message), "{err}");
        }
    }

    #[test]
    fn waivers_turn_failures_into_waived_and_lift_the_grade() {
        let pack = Pack::decree85();
        let report = json!({
            "target": {"host": "sct.example.gov.vn", "port": 443},
            "tls": {
                "reachable": true, "negotiated": {"protocol": "tls1.3"},
                "protocols": {"ssl3": false, "tls1.0": false, "tls1.1": false, "tls1.2": true, "tls1.3": true},
                "validation": {"trusted": true, "hostname_match": true},
                "certificate": {"days_left": 3, "key_bits": 2048, "key_type": "RSA"},
                "ciphers": {"weaknesses": {"null": false, "anonymous": false, "export": false, "rc4": false, "des": false, "forward_secrecy_only": true}}
            },
            "http": null, "dns": null, "domain": null, "content": null
        });
        let e = evaluate_value(&pack, &report, 3);
        let failing: Vec<String> = e
            .results
            .iter()
            .filter(|r| r.status == Status::Fail)
            .map(|r| r.rule.clone())
            .collect();
        assert!(
            failing.contains(&"tls.cert_expiry".to_string()),
            "{failing:?}"
        );
        let waived = apply_waivers(&e, &|rule| rule == "tls.cert_expiry");
        let status =
            |e: &Evaluation, id: &str| e.results.iter().find(|r| r.rule == id).unwrap().status;
        assert_eq!(status(&waived, "tls.cert_expiry"), Status::Waived);
        assert_eq!(waived.counts.waived, 1);
        assert_eq!(waived.counts.fail, e.counts.fail - 1);
        assert!(waived.score > e.score, "{} > {}", waived.score, e.score);
        assert_eq!(waived.results.len(), e.results.len());
        // Unknowns stay unknown; nothing waived changes nothing.
        let all = apply_waivers(&e, &|_| true);
        assert_eq!(all.counts.unknown, e.counts.unknown);
        assert_eq!(apply_waivers(&e, &|_| false), e);
        let json = serde_json::to_value(&waived).unwrap();
        assert!(
            json["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["status"] == "waived")
        );
    }

    #[test]
    fn evaluation_never_panics_on_junk() {
        let pack = Pack::decree85();
        for junk in [
            json!(null),
            json!({}),
            json!({"tls": 3, "http": [], "dns": "x"}),
            json!([1, 2]),
        ] {
            let e = evaluate_value(&pack, &junk, 3);
            assert!(e.results.iter().all(|r| r.status != Status::Pass));
        }
    }
}
