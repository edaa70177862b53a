//! A row whose create an interrupted run sent without seeing the answer, on `--resume`:
//! whether the customer found with its email is that create (the live run's rule,
//! `api::once::claim`, against the store's clock the journal recorded with the mark).

use crate::api::once::{self, Claim};
use crate::mapping::columns::Field;
use crate::mapping::row::RowData;

/// A row whose create the interrupted run sent without seeing the answer, with the customer
/// since found for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// The store's clock recorded with the journal's mark just before the send (`None`: not
    /// recorded, as by earlier versions, or the store had sent no usable `Date`).
    pub clock: Option<i64>,
    /// The customer found, as the store holds it now.
    pub found: Origin,
}

/// A store customer's names and `date_created` (V2's RFC-2822, V3's ISO-8601), as
/// [`once::claim`] compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub first_name: String,
    pub last_name: String,
    pub date_created: String,
}

impl Interrupted {
    /// Is the customer found the interrupted create's? The same rule as a create whose
    /// answer was lost in a live run ([`once::claim`]): the names the row sent, and not
    /// created more than the slack before the clock recorded with the mark. Someone else's
    /// customer holding the email is never reported as this run's `created`.
    pub fn claim(&self, data: &RowData) -> Claim {
        let sent = once::Sent {
            first_name: data.get(Field::FirstName).unwrap_or_default(),
            last_name: data.get(Field::LastName).unwrap_or_default(),
            clock: self.clock,
        };
        let found = once::Found {
            first_name: &self.found.first_name,
            last_name: &self.found.last_name,
            date_created: &self.found.date_created,
        };
        once::claim(&sent, &found)
    }
}

/// Why a customer found for a row whose create is in doubt is not the interrupted run's.
pub(super) fn not_created_by_us(claim: Claim) -> String {
    let why = match claim {
        Claim::Earlier(at) => format!(
            "the customer with this email existed before the interrupted run sent its create (created {})",
            once::store_time_text(at)
        ),
        _ => "its name is not the one the interrupted run sent".into(),
    };
    format!("not created by the interrupted run: {why}")
}

/// What an ordinary row's outcome adds to its message when its create was in doubt and the
/// customer found is someone else's (upsert and update: the row updated it, or left it
/// unchanged), so the results file says why it is not `created`. `None` otherwise.
pub fn not_ours_note(intent: &super::Intent) -> Option<String> {
    let doubt = intent.interrupted_create.as_ref()?;
    match doubt.claim(intent.data) {
        Claim::Ours => None,
        other => Some(not_created_by_us(other)),
    }
}

/// `message` with the note appended (`; ` between them when both have words).
pub fn with_note(message: &str, note: &str) -> String {
    if message.is_empty() {
        note.to_string()
    } else {
        format!("{message}; {note}")
    }
}
