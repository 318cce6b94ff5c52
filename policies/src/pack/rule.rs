//! Rules as a pack author writes them, and their validation into a checked form.
//!
//! A rule reads observations of the scan report by JSON Pointer (RFC 6901: `/tls/protocols/tls1.0`)
//! and applies one of a fixed vocabulary of kinds, parameterised by the pack. Each level says
//! whether the rule is off, a warning or a failure there, and may override parameters.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// How bad a failed rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational only.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// All severities, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What a rule does at one level when its check does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The rule does not apply at this level.
    Off,
    /// Reported as a warning.
    Warn,
    /// Reported as a failure.
    Fail,
}

/// What a rule concludes when the observation it reads is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Missing {
    /// Unknown (the default: never a silent pass).
    #[default]
    Unknown,
    /// The absence is the failure (e.g. no HSTS header means no max-age).
    Fail,
    /// Not applicable.
    Na,
}

/// The check vocabulary. Every kind is documented in `docs/policies.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The value at `path` is `true`.
    True,
    /// The value at `path` is `false`.
    False,
    /// Every value at `paths` is `false`.
    AllFalse,
    /// The number at `path` is at least `min` (or `min_by[value at by]`).
    AtLeast,
    /// The string at `path` is one of `allowed`.
    OneOf,
    /// The string at `path` is none of `forbidden`.
    NoneOf,
    /// At least one value at `paths` is present (not null, not false, not empty).
    AnyPresent,
    /// No element of the list at `path` has `field` equal to `equals` (or present, when
    /// `equals` is not given).
    ListNone,
    /// Every element of the list at `path` whose `where_field` starts with `where_prefix` has
    /// `field` true; `na` when there is no such element.
    ListAll,
    /// The string at `path` equals one of `suffixes` without its leading dot, or ends with one.
    EndsWith,
}

/// Per-level setting: an outcome alone, or an outcome with parameter overrides.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum LevelSetting {
    /// `3 = "fail"`.
    Outcome(Outcome),
    /// `3 = { outcome = "fail", min = 31536000 }`.
    Detailed(LevelOverride),
}

/// Parameter overrides for one level.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelOverride {
    /// The outcome at this level.
    pub outcome: Outcome,
    /// Overrides `min`.
    pub min: Option<f64>,
    /// Overrides `allowed`.
    pub allowed: Option<Vec<String>>,
    /// Overrides `forbidden`.
    pub forbidden: Option<Vec<String>>,
}

/// A rule as written in `rules.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable id, e.g. `tls.legacy_protocols`.
    pub id: String,
    /// Vietnamese title.
    pub title_vi: String,
    /// English title.
    pub title_en: String,
    /// Severity when it fails.
    pub severity: Severity,
    /// The check.
    pub kind: Kind,
    /// One observation (JSON Pointer).
    pub path: Option<String>,
    /// Several observations (JSON Pointers).
    pub paths: Option<Vec<String>>,
    /// Threshold for `at_least`.
    pub min: Option<f64>,
    /// Thresholds by the value at `by`, for `at_least`.
    pub min_by: Option<BTreeMap<String, f64>>,
    /// The pointer whose value selects from `min_by`.
    pub by: Option<String>,
    /// Allowed values for `one_of`.
    pub allowed: Option<Vec<String>>,
    /// Forbidden values for `none_of`.
    pub forbidden: Option<Vec<String>>,
    /// Element field for `list_none` / `list_all`.
    pub field: Option<String>,
    /// The value `list_none` looks for.
    pub equals: Option<toml::Value>,
    /// Filter field for `list_all`.
    pub where_field: Option<String>,
    /// Filter prefix for `list_all`.
    pub where_prefix: Option<String>,
    /// Suffixes for `ends_with`.
    pub suffixes: Option<Vec<String>>,
    /// What an absent observation means (default `unknown`).
    #[serde(default)]
    pub missing: Missing,
    /// How to fix it, in Vietnamese.
    pub remediation_vi: String,
    /// How to fix it, in English.
    pub remediation_en: String,
    /// Legal and standard references.
    pub references: Vec<String>,
    /// Per level ("1".."5"): off, warn, fail, or a table with overrides.
    pub levels: BTreeMap<String, LevelSetting>,
}

/// A rule's texts, shared by every result that quotes them (evaluating thousands of reports
/// copies pointers, not strings).
#[derive(Debug, Clone, PartialEq)]
pub struct Texts {
    /// Vietnamese title.
    pub title_vi: Arc<str>,
    /// English title.
    pub title_en: Arc<str>,
    /// Vietnamese remediation.
    pub remediation_vi: Arc<str>,
    /// English remediation.
    pub remediation_en: Arc<str>,
    /// References.
    pub references: Arc<[String]>,
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The spec as written.
    pub spec: RuleSpec,
    /// Its texts, shared.
    pub texts: Texts,
    /// Settings for levels 1 to 5 (index 0 is level 1).
    pub by_level: [Option<LevelOverride>; 5],
}

fn is_pointer(p: &str) -> bool {
    p.starts_with('/') && !p.ends_with('/')
}

impl Rule {
    /// Checks a spec: parameters present for its kind, pointers well formed, levels 1..5.
    pub fn validate(spec: RuleSpec) -> Result<Rule, String> {
        let id = spec.id.clone();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_')
        {
            return Err(format!(
                "rule id {id:?}: use lower-case letters, digits, '.' and '_'"
            ));
        }
        let need = |what: &str, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(format!("rule {id}: kind {:?} needs `{what}`", spec.kind))
            }
        };
        let single = spec.path.as_deref().is_some_and(is_pointer);
        let several = spec
            .paths
            .as_ref()
            .is_some_and(|p| !p.is_empty() && p.iter().all(|x| is_pointer(x)));
        match spec.kind {
            Kind::True | Kind::False | Kind::EndsWith | Kind::OneOf | Kind::NoneOf => need(
                "path (a JSON Pointer such as /tls/validation/trusted)",
                single,
            )?,
            Kind::AllFalse | Kind::AnyPresent => need("paths (a list of JSON Pointers)", several)?,
            Kind::AtLeast => {
                need("path (a JSON Pointer)", single)?;
                need(
                    "min, or min_by with by",
                    spec.min.is_some() || (spec.min_by.is_some() && spec.by.is_some()),
                )?;
            }
            Kind::ListNone => {
                need("path (a JSON Pointer to a list)", single)?;
                need("field", spec.field.is_some())?;
            }
            Kind::ListAll => {
                need("path (a JSON Pointer to a list)", single)?;
                need("field", spec.field.is_some())?;
            }
        }
        match spec.kind {
            Kind::OneOf => need("allowed", spec.allowed.is_some())?,
            Kind::NoneOf => need("forbidden", spec.forbidden.is_some())?,
            Kind::EndsWith => need("suffixes", spec.suffixes.is_some())?,
            _ => {}
        }
        if let Some(by) = &spec.by
            && !is_pointer(by)
        {
            return Err(format!(
                "rule {id}: `by` must be a JSON Pointer, not {by:?}"
            ));
        }
        let mut by_level: [Option<LevelOverride>; 5] = Default::default();
        for (key, setting) in &spec.levels {
            let level: usize = match key.parse() {
                Ok(l @ 1..=5) => l,
                _ => {
                    return Err(format!(
                        "rule {id}: level {key:?} does not exist (levels are 1 to 5)"
                    ));
                }
            };
            by_level[level - 1] = Some(match setting {
                LevelSetting::Outcome(o) => LevelOverride {
                    outcome: *o,
                    min: None,
                    allowed: None,
                    forbidden: None,
                },
                LevelSetting::Detailed(d) => d.clone(),
            });
        }
        if by_level.iter().all(Option::is_none) {
            return Err(format!("rule {id}: `levels` names no level"));
        }
        let texts = Texts {
            title_vi: spec.title_vi.as_str().into(),
            title_en: spec.title_en.as_str().into(),
            remediation_vi: spec.remediation_vi.as_str().into(),
            remediation_en: spec.remediation_en.as_str().into(),
            references: spec.references.clone().into(),
        };
        Ok(Rule {
            spec,
            texts,
            by_level,
        })
    }

    /// The setting at `level` (1..=5); `None` when the rule is not set for it.
    pub fn at_level(&self, level: u8) -> Option<&LevelOverride> {
        let i = usize::from(level).checked_sub(1)?;
        self.by_level.get(i)?.as_ref()
    }
}
