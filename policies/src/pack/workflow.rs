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
    /// Notes and references.
    #[serde(default)]
    pub references: Vec<String>,
}

/// The whole workflow file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
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

    /// The documents a dossier at `level` must contain.
    pub fn documents_for(&self, level: u8) -> Vec<&Document> {
        self.document
            .iter()
            .filter(|d| d.levels.is_empty() || d.levels.contains(&level))
            .collect()
    }
}
