//! The server's records: agencies, systems, dossiers and users, as serde types with a stable
//! JSON form that storage and the HTTP layer share.
//!
//! Everything here is plain data plus the checks that keep it meaningful (ids are UUIDv7,
//! levels 1-5, letter references parse, e-mails look like e-mails); the dossier's life is in
//! `crate::workflow`. Input types refuse unknown JSON fields, so a misspelt field is an error
//! rather than silently ignored data. No I/O and no clock: times are passed in.

mod agency;
mod dossier;
mod id;
mod letter;
mod level;
mod state;
mod system;
mod user;

pub use agency::{Agency, AgencyError, AgencyTree, Email, EmailError};
pub use dossier::{Deadline, DeadlineStage, DocumentError, DocumentRef, Dossier, SupplementRound};
pub use id::{AgencyId, DocumentId, DossierId, EventId, IdError, SystemId, UserId};
pub use letter::{LetterRef, LetterRefError, format_date_vi};
pub use level::{Level, LevelError};
pub use state::DossierState;
pub use system::{Approval, System, SystemStatus};
pub use user::{Role, User};

#[cfg(test)]
pub(crate) mod fixtures {
    //! Builders shared by the tests of the model, the workflow and the weekly figures.
    pub(crate) use super::agency::tests::agency;
    pub(crate) use super::system::tests::system;
}
