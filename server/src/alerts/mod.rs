//! Alert e-mail: letters before every holiday, event alerts, dossier notifications and the
//! weekly report, all sent through one outbox.
//!
//! The path of an alert: the alert loop ([`worker`]) wakes every `tick`, reads the live
//! evidence (the read index, waivers, agents) and the calendar (the policy pack with the
//! official schedules applied), and turns what is due into [`outbox::Draft`]s, each under an
//! idempotency key naming what it is about and its recipient. [`outbox::enqueue`] writes a draft
//! only if its key is new, so a restart, a second server process or the next tick never queue
//! it twice; then the loop sends due messages through the SMTP relay ([`mailer`]) and records
//! each outcome, retrying transient failures with backoff.
//!
//! - [`holiday`]: when holiday letters are due; [`facts`]: what each agency's letter lists;
//!   [`compose`]: the letters themselves and the editable recommendations.
//! - [`events`]: expiries, unreachable sites, new critical failures, spam or defacement,
//!   silent agents; one e-mail each or a daily digest.
//! - [`dossier`]: a dossier's transitions, to the agency and the next actor.
//! - [`weekly`]: the weekly figures with the XLSX, to the leadership.

pub mod compose;
pub mod dossier;
pub mod events;
pub mod facts;
pub mod holiday;
pub mod mailer;
pub mod outbox;
pub mod settings;
pub mod weekly;
pub mod worker;

use std::collections::HashMap;

use canhgac_policies::pack::Pack;
use jiff::Timestamp;
use jiff::ToSpan;
use serde::Serialize;

use self::facts::{AgencyFacts, vietnam_day};
use self::holiday::Reminder;
use self::outbox::{Category, Draft};
use self::settings::AlertSettings;
use crate::agents::Agent;
use crate::index::IndexData;
use crate::model::{AgencyId, SystemId};
use crate::store::{Store, StoreError};
use crate::waivers::Waiver;

/// The live evidence every alert is written from.
pub struct Evidence<'a> {
    /// The read index.
    pub data: &'a IndexData,
    /// Waivers by system.
    pub waivers: &'a HashMap<SystemId, Vec<Waiver>>,
    /// The agents.
    pub agents: &'a [Agent],
    /// The policy pack (with the official calendar).
    pub pack: &'a Pack,
}

/// The messages of one holiday reminder, and what they were written from.
#[derive(Debug, Clone, Serialize)]
pub struct HolidayBatch {
    /// The reminder.
    pub reminder: Reminder,
    /// The agencies' facts, by agency name.
    pub agencies: Vec<AgencyFacts>,
    /// The messages: each agency contact's letter, then the security staff's summary.
    pub drafts: Vec<Draft>,
}

/// The drafts of one holiday reminder: one letter per agency contact (of `only` when given,
/// else of every agency with systems or agents), and the province summary to the security
/// staff (only when every agency is included).
pub fn holiday_batch(
    store: &dyn Store,
    evidence: &Evidence<'_>,
    settings: &AlertSettings,
    reminder: &Reminder,
    only: Option<AgencyId>,
    now: Timestamp,
) -> Result<HolidayBatch, StoreError> {
    let today = vietnam_day(now);
    let horizon = reminder
        .block
        .end
        .checked_add(settings.expiry_margin_days.days())
        .unwrap_or(reminder.block.end);
    let all = facts::gather(
        evidence.data,
        evidence.waivers,
        evidence.agents,
        evidence.pack,
        now,
        horizon,
    );
    let recommendations = compose::recommendations(store)?;
    let mut agencies: Vec<AgencyFacts> = all
        .into_values()
        .filter(|f| only.is_none_or(|a| a == f.agency))
        .collect();
    agencies.sort_by(|a, b| a.name.cmp(&b.name));
    let block = reminder.block.start;
    let mut drafts = Vec::new();
    for f in &agencies {
        let letter = compose::holiday_letter(f, reminder, &recommendations, today);
        for to in &f.contacts {
            drafts.push(Draft {
                key: format!(
                    "holiday/{block}/{}/{}/{}",
                    reminder.id,
                    f.agency,
                    to.as_str().to_lowercase()
                ),
                category: Category::Holiday,
                to: to.clone(),
                subject: letter.subject.clone(),
                text: letter.text.clone(),
                html: letter.html.clone(),
                attachments: Vec::new(),
            });
        }
    }
    if only.is_none() {
        let refs: Vec<&AgencyFacts> = agencies.iter().collect();
        let without: Vec<&AgencyFacts> =
            agencies.iter().filter(|f| f.contacts.is_empty()).collect();
        let summary = compose::holiday_summary(&refs, reminder, today, &without);
        for to in &settings.security_staff {
            drafts.push(Draft {
                key: format!(
                    "holiday-summary/{block}/{}/{}",
                    reminder.id,
                    to.as_str().to_lowercase()
                ),
                category: Category::HolidaySummary,
                to: to.clone(),
                subject: summary.subject.clone(),
                text: summary.text.clone(),
                html: summary.html.clone(),
                attachments: Vec::new(),
            });
        }
    }
    Ok(HolidayBatch {
        reminder: reminder.clone(),
        agencies,
        drafts,
    })
}
