//! Why the workflow refused an action. Each message is Vietnamese first (shown to officers as
//! is), then English in parentheses for logs and developers.

use jiff::civil::Date;

use crate::model::{
    DocumentError, DocumentId, DossierState, LetterRef, Level, Role, SystemId, format_date_vi,
};

use super::action::ActionKind;

/// A document the pack requires that the dossier lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingDocument {
    /// The pack's document id, e.g. `security_plan`.
    pub id: String,
    /// Its Vietnamese name.
    pub name_vi: String,
}

/// A refused action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// The action does not apply in the dossier's state.
    #[error(
        "Hồ sơ đang ở trạng thái '{}', không thể {} (the dossier is {}: cannot {})",
        .state.label_vi(), .action.verb_vi(), .state.label_en(), .action.verb_en()
    )]
    IllegalTransition {
        /// The dossier's state.
        state: DossierState,
        /// What was attempted.
        action: ActionKind,
    },
    /// The actor's role may not do this.
    #[error(
        "Vai trò '{}' không được {} (the role {} may not {})",
        .role.label_vi(), .action.phrase_vi(), .role.id(), .action.verb_en()
    )]
    Forbidden {
        /// The actor's role.
        role: Role,
        /// What was attempted.
        action: ActionKind,
    },
    /// An agency officer acting on a system outside their agency and its sub-agencies.
    #[error(
        "Hệ thống thông tin này không thuộc đơn vị của bạn hoặc đơn vị cấp dưới, không thể {} (the system is outside your agency and its sub-agencies: cannot {})",
        .action.verb_vi(), .action.verb_en()
    )]
    OutOfScope {
        /// What was attempted.
        action: ActionKind,
    },
    /// An agency officer account without an agency.
    #[error(
        "Tài khoản chưa được gắn với đơn vị nào, không thể {} (the account belongs to no agency: cannot {})",
        .action.verb_vi(), .action.verb_en()
    )]
    NoAgency {
        /// What was attempted.
        action: ActionKind,
    },
    /// The caller passed the scope of another system (a programming error upstream).
    #[error(
        "Phạm vi đơn vị được tính cho hệ thống {scope}, không phải hệ thống {system} của hồ sơ (the agency scope is for system {scope}, the dossier is for {system})"
    )]
    WrongSystem {
        /// The dossier's system.
        system: SystemId,
        /// The system the scope was built for.
        scope: SystemId,
    },
    /// The pack has no workflow for the level.
    #[error(
        "Bộ chính sách không quy định quy trình cho cấp độ {0} (the policy pack has no workflow for level {0})"
    )]
    LevelNotInPack(Level),
    /// Required documents are missing.
    #[error(
        "Hồ sơ đề xuất cấp độ {level} còn thiếu: {} (missing documents: {})",
        .missing.iter().map(|d| d.name_vi.as_str()).collect::<Vec<_>>().join("; "),
        .missing.iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(", ")
    )]
    MissingDocuments {
        /// The proposed level.
        level: Level,
        /// What is missing, in the pack's order.
        missing: Vec<MissingDocument>,
    },
    /// A supplementation request without items.
    #[error(
        "Cần nêu ít nhất một nội dung phải bổ sung (a supplementation request needs at least one missing item)"
    )]
    NoMissingItems,
    /// A reason, note or decision number left empty.
    #[error("Chưa nhập {field_vi} (the {field_en} is empty)")]
    EmptyText {
        /// What is empty, in Vietnamese.
        field_vi: &'static str,
        /// What is empty, in English.
        field_en: &'static str,
    },
    /// A text longer than allowed.
    #[error("{field_vi} dài quá {max} ký tự (the {field_en} is longer than {max} characters)")]
    TooLong {
        /// What is too long, in Vietnamese.
        field_vi: &'static str,
        /// What is too long, in English.
        field_en: &'static str,
        /// The limit, in characters.
        max: usize,
    },
    /// A letter dated after today.
    #[error(
        "Văn bản {letter} ghi ngày sau ngày hôm nay ({}) (the letter is dated after today)",
        format_date_vi(*.today)
    )]
    LetterInFuture {
        /// The letter.
        letter: LetterRef,
        /// Today.
        today: Date,
    },
    /// A decision dated after today.
    #[error(
        "Quyết định ghi ngày {} là sau ngày hôm nay ({}) (the decision is dated after today)",
        format_date_vi(*.date), format_date_vi(*.today)
    )]
    DecisionInFuture {
        /// The decision's date.
        date: Date,
        /// Today.
        today: Date,
    },
    /// A resubmission with neither documents nor a letter.
    #[error(
        "Chưa có tài liệu hay văn bản nào để nộp bổ sung (nothing to resubmit: no document and no letter)"
    )]
    NothingToResubmit,
    /// A central authority's result recorded without its document.
    #[error(
        "Hồ sơ cấp độ {level} do {authority} thẩm định: cần nhập số, ký hiệu và ngày văn bản kết quả thẩm định (level {level} is appraised by a central authority: give the number and date of its result)"
    )]
    ResultLetterRequired {
        /// The level.
        level: Level,
        /// Who appraises, in Vietnamese.
        authority: String,
    },
    /// A document record that is not valid.
    #[error("{0}")]
    InvalidDocument(#[from] DocumentError),
    /// A document id already in the dossier.
    #[error("Tài liệu {0} đã có trong hồ sơ (document {0} is already in the dossier)")]
    DuplicateDocument(DocumentId),
    /// A new dossier for a retired system.
    #[error(
        "Hệ thống thông tin đã ngừng sử dụng, không thể tạo hồ sơ đề xuất cấp độ (the system is retired: no new dossier)"
    )]
    SystemRetired,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_officers_read() {
        let err = WorkflowError::IllegalTransition {
            state: DossierState::Approved,
            action: ActionKind::Withdraw,
        };
        assert_eq!(
            err.to_string(),
            "Hồ sơ đang ở trạng thái 'đã phê duyệt', không thể rút (the dossier is approved: cannot withdraw it)"
        );
        let err = WorkflowError::Forbidden {
            role: Role::AgencyOfficer,
            action: ActionKind::Approve,
        };
        assert_eq!(
            err.to_string(),
            "Vai trò 'cán bộ đơn vị' không được phê duyệt hồ sơ (the role agency_officer may not approve it)"
        );
    }
}
