//! set-group's target group: found by id or name once per run, through the V2
//! `/customer_groups` route whichever Customers API the run uses (V3 has no groups API).

use std::collections::HashMap;

use super::Known;
use crate::api::Client;
use crate::cmd::fatal_if_auth;
use crate::results::{RowOutcome, RowResult};

/// The resolved target group.
#[derive(Debug, Clone)]
pub struct TargetGroup {
    pub id: u64,
    names: HashMap<u64, String>,
}

impl TargetGroup {
    /// What moving `known` into the group is: `Ok` with the change to report ("A → B"), or
    /// the row's outcome when there is nothing to send: already in the group, or moved by
    /// the interrupted run (`in_doubt`: its journal mark says it sent this row's write and
    /// never saw the answer).
    pub fn change(&self, known: &Known, in_doubt: bool) -> Result<String, RowOutcome> {
        if known.group != self.id {
            return Ok(format!(
                "{} → {}",
                self.describe(known.group),
                self.describe(self.id)
            ));
        }
        let message = match in_doubt {
            true => format!(
                "moved to {} by the interrupted run (confirmed on resume)",
                self.describe(self.id)
            ),
            false => format!("already in {}", self.describe(self.id)),
        };
        let result = match in_doubt {
            true => RowResult::Updated,
            false => RowResult::Unchanged,
        };
        Err(RowOutcome::new(result, Some(known.id), message))
    }

    /// The summary's line naming the group.
    pub fn notice(&self) -> String {
        format!("target group: {}", self.describe(self.id))
    }

    pub fn describe(&self, id: u64) -> String {
        match (id, self.names.get(&id)) {
            (0, _) => "no group (0)".into(),
            (_, Some(name)) => format!("{name} ({id})"),
            (_, None) => format!("group {id}"),
        }
    }
}

/// Find the group by id or case-insensitive name, once per run. Unknown → a fatal error that
/// lists the store's groups.
pub async fn resolve_group(client: &Client, spec: &str) -> anyhow::Result<TargetGroup> {
    let spec = spec.trim();
    if spec.is_empty() {
        return crate::exit::usage("--group is empty: give a group id or name");
    }
    let groups = match client.groups().await {
        Ok(g) => g,
        Err(e) if e.status() == Some(404) => {
            anyhow::bail!("this store's plan has no customer groups ({})", e.message())
        }
        // 403 on /customer_groups alone means a plan without groups, or a token without the
        // Customers scope; say both.
        Err(e) if e.status() == Some(403) => anyhow::bail!(
            "{e}: this store's plan has no customer groups, or the token lacks the Customers scope"
        ),
        Err(e) => return Err(fatal_if_auth(e)),
    };
    let names = groups.iter().map(|g| (g.id, g.name.clone())).collect();
    let by_id = spec
        .parse::<u64>()
        .ok()
        .filter(|id| *id == 0 || groups.iter().any(|g| g.id == *id));
    // A name wins over an id only when no group has that id (a group may be named "2024").
    let id = by_id.or_else(|| {
        groups
            .iter()
            .find(|g| g.name.trim().eq_ignore_ascii_case(spec))
            .map(|g| g.id)
    });
    match id {
        Some(id) => Ok(TargetGroup { id, names }),
        None => {
            let list: Vec<String> = groups
                .iter()
                .map(|g| format!("{} {:?}", g.id, g.name))
                .collect();
            anyhow::bail!(
                "no customer group {spec:?} in this store; its groups are: {} (or 0 for no group; create one with `bc-customers groups create NAME`)",
                if list.is_empty() { "none".to_string() } else { list.join(", ") }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_sent_only_for_customers_outside_the_group() {
        let group = TargetGroup {
            id: 2,
            names: HashMap::from([(2, "VIP".to_string())]),
        };
        let known = |g| Known {
            id: 7,
            email: "a@x.co".into(),
            group: g,
        };
        assert_eq!(
            group.change(&known(0), false).unwrap(),
            "no group (0) → VIP (2)"
        );
        assert_eq!(
            group.change(&known(0), true).unwrap(),
            "no group (0) → VIP (2)"
        );
        let already = group.change(&known(2), false).unwrap_err();
        assert_eq!(already.result, RowResult::Unchanged);
        let moved_before = group.change(&known(2), true).unwrap_err();
        assert_eq!(moved_before.result, RowResult::Updated);
        assert!(moved_before.message.contains("interrupted run"));
    }
}
