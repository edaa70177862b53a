//! The pager's checks on the pages as yielded: strictly ascending across pages (no customer
//! written twice, whatever the store did), and not endless.

use futures::stream::{self, StreamExt};

use super::{inconsistent, Pages, Query, MAX_CREATED_DURING};
use crate::api::client::Client;
use crate::api::error::ApiError;
use crate::api::models::Customer;

/// The walk as yielded (see [`ascending`]).
struct Walk {
    pages: Pages,
    client: Client,
    q: Query,
    last: Option<u64>,
    rows: u64,
    most: u64,
    failed: bool,
}

impl Walk {
    async fn check(&mut self, page: Vec<Customer>) -> Result<Vec<Customer>, ApiError> {
        if let (Some(l), Some(f)) = (self.last, page.first()) {
            if f.id <= l {
                return Err(inconsistent(format!(
                    "the store sent customer {} again after customer {l}",
                    f.id
                )));
            }
        }
        self.last = page.last().map(|c| c.id).or(self.last);
        self.rows += page.len() as u64;
        if self.rows > self.most {
            // A count far too low (stale, or a store that grew a lot) is not a reason to stop:
            // ask again, once per doubling, before calling the store endless.
            let now = self.client.count_customers(&self.q.count_params()).await?;
            self.most = now.saturating_mul(2).saturating_add(MAX_CREATED_DURING);
            if self.rows > self.most {
                return Err(inconsistent(format!(
                    "the store has sent {} customers and keeps sending more, while it counts {now}",
                    self.rows
                )));
            }
        }
        Ok(page)
    }
}

/// The pages as yielded must be strictly ascending across pages too: the pieces are disjoint
/// by construction, and this makes sure of it whatever the store did (a duplicate is an error,
/// never a row written twice). And they must end: past twice the count plus
/// [`MAX_CREATED_DURING`] customers the count is asked again, and a store that sends more than
/// that allows is sending customers forever (ids that always go on), which fails the walk.
pub(super) fn ascending(pages: Pages, client: Client, q: Query, count: u64) -> Pages {
    let walk = Walk {
        pages,
        client,
        q,
        last: None,
        rows: 0,
        most: count.saturating_mul(2).saturating_add(MAX_CREATED_DURING),
        failed: false,
    };
    stream::unfold(walk, |mut walk| async move {
        if walk.failed {
            return None;
        }
        let checked = match walk.pages.next().await? {
            Ok(page) => walk.check(page).await,
            Err(e) => Err(e),
        };
        walk.failed = checked.is_err();
        Some((checked, walk))
    })
    .boxed()
}
