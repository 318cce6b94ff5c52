//! What a user can do to a dossier: the [`Action`] payloads the HTTP layer deserializes, and
//! their [`ActionKind`] names used by the audit trail, the permission table and the messages.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::model::{DocumentRef, LetterRef, Level, UserId};

/// One step in a dossier's life, with what it needs. In JSON the kind is the `action` field:
/// `{"action": "reject", "reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The agency sends the dossier with its covering letter.
    Submit {
        /// The covering letter (công văn đề nghị thẩm định).
        letter: LetterRef,
    },
    /// An appraiser takes a submitted or resubmitted dossier into appraisal.
    StartAppraisal,
    /// An appraiser returns the dossier for supplementation; the clock pauses.
    RequestSupplement {
        /// The letter asking for it, if one was sent.
        #[serde(default)]
        letter: Option<LetterRef>,
        /// What is missing or must be corrected (at least one item).
        missing_items: Vec<String>,
    },
    /// The agency answers a supplementation request; the clock resumes. The documents of the
    /// answer are those uploaded to the open round beforehand ([`Action::AddDocument`]).
    Resubmit {
        /// The covering letter of the answer.
        #[serde(default)]
        letter: Option<LetterRef>,
    },
    /// The appraisal is done (for levels 4-5: the central authority's result is recorded).
    MarkAppraised {
        /// The conclusion, e.g. "Đạt yêu cầu, đề nghị phê duyệt cấp độ 3".
        note: String,
        /// The appraisal result document (required when a central authority appraises).
        #[serde(default)]
        letter: Option<LetterRef>,
    },
    /// The approval decision is recorded.
    Approve {
        /// The approved level (may differ from the proposed one).
        level: Level,
        /// The decision's number and symbol, e.g. "2168/QĐ-UBND".
        decision_number: String,
        /// The decision's date.
        decision_date: Date,
    },
    /// The level is not approved.
    Reject {
        /// Why.
        reason: String,
    },
    /// The dossier is withdrawn.
    Withdraw {
        /// Why.
        reason: String,
    },
    /// A document is added: to the dossier while a draft, to the open round while it awaits
    /// supplementation. Built by the server from an upload (size and SHA-256 computed from the
    /// stored bytes), never read from a client's JSON: the variant is not deserialized.
    #[serde(skip_deserializing)]
    AddDocument {
        /// The uploaded document.
        document: DocumentRef,
    },
    /// An appraiser attaches a file to the open supplementation request (the signed letter,
    /// annotated pages). Built by the server from an upload, like [`Action::AddDocument`].
    #[serde(skip_deserializing)]
    AddRequestDocument {
        /// The uploaded file.
        document: DocumentRef,
    },
    /// The appraiser in charge is set (or cleared).
    Assign {
        /// The appraiser; the caller checks it is an appraiser's id.
        assignee: Option<UserId>,
    },
    /// A comment (ý kiến) in the dossier's trail, in any state; the state is unchanged.
    Comment {
        /// The text.
        text: String,
    },
}

/// The name of an action, stable in JSON and the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A draft is created (`crate::workflow::create_draft`).
    Create,
    /// [`Action::Submit`].
    Submit,
    /// [`Action::StartAppraisal`].
    StartAppraisal,
    /// [`Action::RequestSupplement`].
    RequestSupplement,
    /// [`Action::Resubmit`].
    Resubmit,
    /// [`Action::MarkAppraised`].
    MarkAppraised,
    /// [`Action::Approve`].
    Approve,
    /// [`Action::Reject`].
    Reject,
    /// [`Action::Withdraw`].
    Withdraw,
    /// [`Action::AddDocument`].
    AddDocument,
    /// [`Action::Assign`].
    Assign,
    /// [`Action::AddRequestDocument`].
    AddRequestDocument,
    /// [`Action::Comment`].
    Comment,
}

impl ActionKind {
    /// Every kind.
    pub const ALL: [ActionKind; 13] = [
        ActionKind::Create,
        ActionKind::Submit,
        ActionKind::StartAppraisal,
        ActionKind::RequestSupplement,
        ActionKind::Resubmit,
        ActionKind::MarkAppraised,
        ActionKind::Approve,
        ActionKind::Reject,
        ActionKind::Withdraw,
        ActionKind::AddDocument,
        ActionKind::Assign,
        ActionKind::AddRequestDocument,
        ActionKind::Comment,
    ];

    /// The stable snake_case id.
    pub fn id(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Submit => "submit",
            ActionKind::StartAppraisal => "start_appraisal",
            ActionKind::RequestSupplement => "request_supplement",
            ActionKind::Resubmit => "resubmit",
            ActionKind::MarkAppraised => "mark_appraised",
            ActionKind::Approve => "approve",
            ActionKind::Reject => "reject",
            ActionKind::Withdraw => "withdraw",
            ActionKind::AddDocument => "add_document",
            ActionKind::Assign => "assign",
            ActionKind::AddRequestDocument => "add_request_document",
            ActionKind::Comment => "comment",
        }
    }

    /// The Vietnamese verb, as in "không thể rút".
    pub fn verb_vi(self) -> &'static str {
        match self {
            ActionKind::Create => "tạo",
            ActionKind::Submit => "nộp",
            ActionKind::StartAppraisal => "bắt đầu thẩm định",
            ActionKind::RequestSupplement => "yêu cầu bổ sung",
            ActionKind::Resubmit => "nộp bổ sung",
            ActionKind::MarkAppraised => "ghi nhận kết quả thẩm định",
            ActionKind::Approve => "phê duyệt",
            ActionKind::Reject => "từ chối",
            ActionKind::Withdraw => "rút",
            ActionKind::AddDocument => "thêm tài liệu",
            ActionKind::Assign => "phân công xử lý",
            ActionKind::AddRequestDocument => "đính kèm tài liệu vào yêu cầu bổ sung",
            ActionKind::Comment => "ghi ý kiến",
        }
    }

    /// The Vietnamese verb with its object, as in "không được rút hồ sơ".
    pub fn phrase_vi(self) -> String {
        match self {
            ActionKind::AddDocument => "thêm tài liệu vào hồ sơ".to_owned(),
            ActionKind::AddRequestDocument => {
                "đính kèm tài liệu vào yêu cầu bổ sung hồ sơ".to_owned()
            }
            ActionKind::Comment => "ghi ý kiến vào hồ sơ".to_owned(),
            other => format!("{} hồ sơ", other.verb_vi()),
        }
    }

    /// The English verb phrase, as in "cannot withdraw it".
    pub fn verb_en(self) -> &'static str {
        match self {
            ActionKind::Create => "create it",
            ActionKind::Submit => "submit it",
            ActionKind::StartAppraisal => "start appraising it",
            ActionKind::RequestSupplement => "request supplementation",
            ActionKind::Resubmit => "resubmit it",
            ActionKind::MarkAppraised => "mark it appraised",
            ActionKind::Approve => "approve it",
            ActionKind::Reject => "reject it",
            ActionKind::Withdraw => "withdraw it",
            ActionKind::AddDocument => "add a document to it",
            ActionKind::Assign => "assign it",
            ActionKind::AddRequestDocument => "attach a file to its supplementation request",
            ActionKind::Comment => "comment on it",
        }
    }

    /// The Vietnamese label of the action in the audit trail ("Rút hồ sơ").
    pub fn label_vi(self) -> &'static str {
        match self {
            ActionKind::Create => "Tạo hồ sơ",
            ActionKind::Submit => "Nộp hồ sơ",
            ActionKind::StartAppraisal => "Bắt đầu thẩm định",
            ActionKind::RequestSupplement => "Yêu cầu bổ sung",
            ActionKind::Resubmit => "Nộp bổ sung",
            ActionKind::MarkAppraised => "Ghi nhận kết quả thẩm định",
            ActionKind::Approve => "Phê duyệt",
            ActionKind::Reject => "Từ chối",
            ActionKind::Withdraw => "Rút hồ sơ",
            ActionKind::AddDocument => "Thêm tài liệu",
            ActionKind::Assign => "Phân công xử lý",
            ActionKind::AddRequestDocument => "Đính kèm tài liệu yêu cầu bổ sung",
            ActionKind::Comment => "Ý kiến",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Action {
    /// Its kind.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Submit { .. } => ActionKind::Submit,
            Action::StartAppraisal => ActionKind::StartAppraisal,
            Action::RequestSupplement { .. } => ActionKind::RequestSupplement,
            Action::Resubmit { .. } => ActionKind::Resubmit,
            Action::MarkAppraised { .. } => ActionKind::MarkAppraised,
            Action::Approve { .. } => ActionKind::Approve,
            Action::Reject { .. } => ActionKind::Reject,
            Action::Withdraw { .. } => ActionKind::Withdraw,
            Action::AddDocument { .. } => ActionKind::AddDocument,
            Action::Assign { .. } => ActionKind::Assign,
            Action::AddRequestDocument { .. } => ActionKind::AddRequestDocument,
            Action::Comment { .. } => ActionKind::Comment,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_in_json() {
        let reject: Action =
            serde_json::from_str(r#"{"action":"reject","reason":"Thiếu phương án"}"#).unwrap();
        assert_eq!(reject.kind(), ActionKind::Reject);
        let start: Action = serde_json::from_str(r#"{"action":"start_appraisal"}"#).unwrap();
        assert_eq!(start, Action::StartAppraisal);
        let request: Action = serde_json::from_str(
            r#"{"action":"request_supplement","missing_items":["Bổ sung sơ đồ mạng"]}"#,
        )
        .unwrap();
        assert!(matches!(
            request,
            Action::RequestSupplement { letter: None, .. }
        ));
        let err = serde_json::from_str::<Action>(r#"{"action":"reject","reason":"x","why":"y"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
        assert!(serde_json::from_str::<Action>(r#"{"action":"delete"}"#).is_err());
        // Document records come from uploads, never from a client's JSON.
        let invented = r#"{"action":"add_document","document":{"id":"0193aaaa-5b7a-7cc0-9a8e-3a5c1f1d2e3f","kind":"overview_report","file_name":"a.pdf","size":1,"sha256":"00","uploaded_at":"2026-11-20T02:00:00Z"}}"#;
        assert!(serde_json::from_str::<Action>(invented).is_err());
        assert!(serde_json::from_str::<Action>(r#"{"action":"resubmit","documents":[]}"#).is_err());
        let resubmit: Action = serde_json::from_str(r#"{"action":"resubmit"}"#).unwrap();
        assert_eq!(resubmit, Action::Resubmit { letter: None });
        let back = serde_json::to_string(&reject).unwrap();
        assert_eq!(back, r#"{"action":"reject","reason":"Thiếu phương án"}"#);
    }

    #[test]
    fn kinds_have_stable_ids() {
        for kind in ActionKind::ALL {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.id())
            );
        }
    }
}
