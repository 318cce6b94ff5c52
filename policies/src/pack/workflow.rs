//! The dossier workflow of a regulation, as data: per level, who appraises and who approves,
//! the time limits, and the documents a level-proposal dossier must contain. The server drives
//! its workflow from this; a successor decree is a new file, not new code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a time limit is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayCount {
    /// Working days (weekends and public holidays skipped, per the pack's calendar).
    WorkingDays,
    /// Calendar days.
    CalendarDays,
}

/// A time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// How many days.
    pub days: u32,
    /// How they are counted.
    pub count: DayCount,
}

/// A document a dossier must contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Stable id, e.g. `overview_report`.
    pub id: String,
    /// Vietnamese name.
    pub name_vi: String,
    /// English name.
    pub name_en: String,
    /// Levels that require it (all when empty).
    #[serde(default)]
    pub levels: Vec<u8>,
}

/// The workflow of one level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelWorkflow {
    /// Who appraises (thẩm định), as a role of the server: `appraiser`, `central_authority`.
    pub appraised_by: String,
    /// Who approves (phê duyệt): `approver`, `system_owner`, `prime_minister`.
    pub approved_by: String,
    /// Appraisal time limit, from a complete dossier.
    pub appraisal: Limit,
    /// Approval time limit, from the appraisal.
    pub approval: Limit,
    /// Whether the specialised unit's opinion is required before central appraisal.
    #[serde(default)]
    pub specialised_opinion: bool,
    /// Periodic assessment interval in months (Directive 14/CT-TTg), if any.
    pub assessment_every_months: Option<u32>,
    /// How many days a scan report stays current evidence for a system of this level; an
    /// older one makes the system's compliance `stale`. `None`: evidence never goes stale.
    #[serde(default)]
    pub evidence_fresh_days: Option<u32>,
    /// Notes and references.
    #[serde(default)]
    pub references: Vec<String>,
}

/// A day of the year, e.g. 14 December for Directive 14's yearly report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthDay {
    /// 1 to 12.
    pub month: i8,
    /// 1 to the month's length (29 February is refused: it is not a yearly day).
    pub day: i8,
}

impl MonthDay {
    /// This day in `year`, if the year is representable.
    pub fn in_year(self, year: i16) -> Option<jiff::civil::Date> {
        jiff::civil::Date::new(year, self.month, self.day).ok()
    }

    /// Whether the day exists in every year.
    pub fn is_valid(self) -> bool {
        self.in_year(2023).is_some()
    }
}

/// The whole workflow file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// Periodic assessments counted in whole years are reported before this day of the year
    /// (Directive 14/CT-TTg: 14 December). `None`: a yearly assessment is due one interval
    /// after the last one, like any other interval.
    #[serde(default)]
    pub yearly_report_before: Option<MonthDay>,
    /// Per level ("1".."5").
    pub level: BTreeMap<String, LevelWorkflow>,
    /// Documents of a level-proposal dossier.
    pub document: Vec<Document>,
}

impl Workflow {
    /// Checks levels 1..5 are all defined, document ids unique, document levels valid.
    pub fn validate(&self) -> Result<(), String> {
        for l in 1..=5 {
            if !self.level.contains_key(&l.to_string()) {
                return Err(format!("workflow: level {l} is not defined"));
            }
        }
        if let Some(k) = self
            .level
            .keys()
            .find(|k| !matches!(k.as_str(), "1" | "2" | "3" | "4" | "5"))
        {
            return Err(format!(
                "workflow: level {k:?} does not exist (levels are 1 to 5)"
            ));
        }
        for (l, w) in &self.level {
            if w.appraisal.days == 0 || w.approval.days == 0 {
                return Err(format!("workflow: level {l}: a time limit of 0 days"));
            }
            if w.evidence_fresh_days == Some(0) {
                return Err(format!(
                    "workflow: level {l}: evidence_fresh_days = 0 would make every report stale"
                ));
            }
        }
        if let Some(d) = self.yearly_report_before
            && !d.is_valid()
        {
            return Err(format!(
                "workflow: yearly_report_before = {{ month = {}, day = {} }} is not a day of every year",
                d.month, d.day
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for d in &self.document {
            if !ids.insert(d.id.as_str()) {
                return Err(format!("workflow: document {:?} is listed twice", d.id));
            }
            if let Some(bad) = d.levels.iter().find(|l| !(1..=5).contains(*l)) {
                return Err(format!(
                    "workflow: document {:?}: level {bad} does not exist",
                    d.id
                ));
            }
        }
        Ok(())
    }

    /// The workflow of a level.
    pub fn for_level(&self, level: u8) -> Option<&LevelWorkflow> {
        self.level.get(&level.to_string())
    }

    /// How long a report stays current evidence at `level`, in days (`None`: forever).
    pub fn evidence_fresh_days(&self, level: u8) -> Option<u32> {
        self.for_level(level)?.evidence_fresh_days
    }

    /// The documents a dossier at `level` must contain.
    pub fn documents_for(&self, level: u8) -> Vec<&Document> {
        self.document
            .iter()
            .filter(|d| d.levels.is_empty() || d.levels.contains(&level))
            .collect()
    }
}
