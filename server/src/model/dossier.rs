//! The level-proposal dossier (hồ sơ đề xuất cấp độ, Decree 85 art. 15) as stored: its
//! documents, covering letter, supplementation rounds, running deadline and decision.
//!
//! A dossier only changes through `crate::workflow::apply`, which checks who may do what and
//! keeps the invariants documented on each field.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use canhgac_policies::pack::workflow::DayCount;

use super::id::{DocumentId, DossierId, SystemId, UserId};
use super::letter::LetterRef;
use super::level::Level;
use super::state::DossierState;
use super::system::Approval;

/// What is wrong with an uploaded document's record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// A kind that is not a snake_case id.
    #[error(
        "loại tài liệu \"{0}\" không hợp lệ: dùng mã như overview_report (document kind {0:?} is not a snake_case id)"
    )]
    BadKind(String),
    /// No file name.
    #[error("tài liệu chưa có tên tệp (the document has no file name)")]
    NoFileName,
    /// An empty file.
    #[error("tệp \"{0}\" rỗng (the file {0:?} is empty)")]
    EmptyFile(String),
    /// A SHA-256 that is not 64 lowercase hex digits.
    #[error(
        "mã băm SHA-256 của tệp \"{0}\" không hợp lệ (the SHA-256 of {0:?} is not 64 lowercase hex digits)"
    )]
    BadSha256(String),
}

/// A document uploaded to a dossier. The file itself is kept by the storage layer, found by
/// its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentRef {
    /// Id.
    pub id: DocumentId,
    /// Which document of the pack it is (e.g. `overview_report`), or another snake_case kind
    /// for attachments the pack does not list.
    pub kind: String,
    /// The file name as uploaded.
    pub file_name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// When it was uploaded.
    pub uploaded_at: Timestamp,
}

impl DocumentRef {
    /// Checks the kind, name, size and hash.
    pub fn validate(&self) -> Result<(), DocumentError> {
        let kind_ok = self
            .kind
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
            && self
                .kind
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !kind_ok {
            return Err(DocumentError::BadKind(self.kind.clone()));
        }
        if self.file_name.trim().is_empty() {
            return Err(DocumentError::NoFileName);
        }
        if self.size == 0 {
            return Err(DocumentError::EmptyFile(self.file_name.clone()));
        }
        let hex = self.sha256.len() == 64
            && self
                .sha256
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        if !hex {
            return Err(DocumentError::BadSha256(self.file_name.clone()));
        }
        Ok(())
    }
}

/// One request for supplementation and the agency's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplementRound {
    /// 1 for the first request, then 2, 3...
    pub number: u32,
    /// When the appraiser asked.
    pub requested_at: Timestamp,
    /// The appraiser's letter, if the request was sent by letter.
    pub letter: Option<LetterRef>,
    /// What is missing or must be corrected, one item each (never empty).
    pub missing_items: Vec<String>,
    /// When the agency answered (set by resubmission).
    pub answered_at: Option<Timestamp>,
    /// The agency's covering letter for the answer.
    #[serde(default)]
    pub answer_letter: Option<LetterRef>,
    /// The documents sent in answer.
    pub documents: Vec<DocumentRef>,
    /// Files the appraiser attached to the request while the round was open (the signed
    /// request letter, annotated pages). They are not the agency's documents: they never count
    /// towards the documents the pack requires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_documents: Vec<DocumentRef>,
}

/// Which time limit a deadline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineStage {
    /// The appraisal limit (thời hạn thẩm định), from submission.
    Appraisal,
    /// The approval limit (thời hạn phê duyệt), from the appraisal.
    Approval,
}

impl DeadlineStage {
    /// The Vietnamese label.
    pub fn label_vi(self) -> &'static str {
        match self {
            DeadlineStage::Appraisal => "thời hạn thẩm định",
            DeadlineStage::Approval => "thời hạn phê duyệt",
        }
    }
}

/// The time limit the authority is running against.
///
/// While the clock runs, `due` is the last day allowed and `paused_since`/`days_left` are
/// `None`. While the dossier waits for supplementation the clock is paused: `paused_since` is
/// the day it stopped and `days_left` the days that were left after that day, counted in
/// `count` units (negative if the limit had already passed). On resubmission `due` is
/// recomputed from `days_left` and both go back to `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    /// Appraisal or approval.
    pub stage: DeadlineStage,
    /// Working days or calendar days, as the pack says for the level.
    pub count: DayCount,
    /// The last day allowed (when paused: the one that applied when the clock stopped).
    pub due: Date,
    /// When the clock was paused.
    pub paused_since: Option<Date>,
    /// Days left when the clock was paused.
    pub days_left: Option<i64>,
}

/// A level-proposal dossier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dossier {
    /// Id.
    pub id: DossierId,
    /// The system whose level is proposed.
    pub system: SystemId,
    /// The covering letter it was submitted with (set on submission).
    pub submitted_letter: Option<LetterRef>,
    /// The level proposed.
    pub proposed_level: Level,
    /// The documents of the dossier as submitted (answers to supplementation are in `rounds`).
    pub documents: Vec<DocumentRef>,
    /// Where it stands.
    pub state: DossierState,
    /// The appraiser in charge.
    pub assignee: Option<UserId>,
    /// Supplementation rounds, numbered from 1 in order.
    pub rounds: Vec<SupplementRound>,
    /// The running (or paused) time limit; `None` in draft and final states.
    pub deadline: Option<Deadline>,
    /// The approval decision, once approved.
    pub decision: Option<Approval>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Dossier {
    /// An empty draft.
    pub fn new_draft(
        id: DossierId,
        system: SystemId,
        proposed_level: Level,
        now: Timestamp,
    ) -> Dossier {
        Dossier {
            id,
            system,
            submitted_letter: None,
            proposed_level,
            documents: Vec::new(),
            state: DossierState::Draft,
            assignee: None,
            rounds: Vec::new(),
            deadline: None,
            decision: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The agency's documents: those submitted, then the answers of each round.
    pub fn agency_documents(&self) -> impl Iterator<Item = &DocumentRef> {
        self.documents
            .iter()
            .chain(self.rounds.iter().flat_map(|r| r.documents.iter()))
    }

    /// Every document: the agency's, then the files appraisers attached to their requests.
    pub fn all_documents(&self) -> impl Iterator<Item = &DocumentRef> {
        self.agency_documents()
            .chain(self.rounds.iter().flat_map(|r| r.request_documents.iter()))
    }

    /// The round awaiting an answer, if any.
    pub fn open_round(&self) -> Option<&SupplementRound> {
        self.rounds.last().filter(|r| r.answered_at.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(n: u8, kind: &str) -> DocumentRef {
        let at: Timestamp = "2026-02-02T02:00:00Z".parse().unwrap();
        DocumentRef {
            id: DocumentId::derived(at, &[n]),
            kind: kind.to_owned(),
            file_name: format!("{kind}.pdf"),
            size: 1024,
            sha256: format!("{:064x}", u64::from(n) + 1),
            uploaded_at: at,
        }
    }

    #[test]
    fn documents_are_checked() {
        assert_eq!(document(1, "overview_report").validate(), Ok(()));
        let bad_kind = DocumentRef {
            kind: "Overview report".to_owned(),
            ..document(1, "x")
        };
        assert!(matches!(
            bad_kind.validate(),
            Err(DocumentError::BadKind(_))
        ));
        let empty = DocumentRef {
            size: 0,
            ..document(1, "x")
        };
        assert!(matches!(empty.validate(), Err(DocumentError::EmptyFile(_))));
        let hash = DocumentRef {
            sha256: "ABC".to_owned(),
            ..document(1, "x")
        };
        assert!(matches!(hash.validate(), Err(DocumentError::BadSha256(_))));
        let unnamed = DocumentRef {
            file_name: " ".to_owned(),
            ..document(1, "x")
        };
        assert_eq!(unnamed.validate(), Err(DocumentError::NoFileName));
    }

    #[test]
    fn a_dossier_round_trips_through_json() {
        let at: Timestamp = "2026-02-02T02:00:00Z".parse().unwrap();
        let mut d = Dossier::new_draft(
            DossierId::derived(at, b"d"),
            SystemId::derived(at, b"s"),
            Level::new(3).unwrap(),
            at,
        );
        d.documents.push(document(1, "overview_report"));
        d.deadline = Some(Deadline {
            stage: DeadlineStage::Appraisal,
            count: DayCount::WorkingDays,
            due: jiff::civil::date(2026, 3, 2),
            paused_since: None,
            days_left: None,
        });
        let json = serde_json::to_string(&d).unwrap();
        assert!(json.contains(r#""state":"draft""#), "{json}");
        assert!(json.contains(r#""count":"working_days""#), "{json}");
        assert_eq!(serde_json::from_str::<Dossier>(&json).unwrap(), d);
    }
}
