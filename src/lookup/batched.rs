//! Finding the rows' customers under `--api v3` in batches: the file's ids (and emails) in
//! file order, cut into lists, each list checked with one `GET /v3/customers?id:in=…` (or
//! `email:in=…`) when the first row of it needs its customer, instead of one GET per row.
//!
//! A list is fixed by the file, not by which rows happen to be in flight together, so a run
//! costs the same lookups every time: one per [`IDS_PER_LOOKUP`] distinct ids, one per
//! [`EMAILS_PER_LOOKUP`] distinct emails (fewer for long ones). Once a list was read, a key
//! of it the answer did not hold names no customer.

use std::collections::HashMap;

use tokio::sync::OnceCell;

use crate::api::{ApiError, Client, Customer};

/// Ids per `id:in` lookup. The most `id:in` takes on a GET is undocumented
/// (reference/bigcommerce-v3.md §19.3); 50 keeps the URL under ~1 KB whatever the ids (the
/// export's address fallback sends lists of 50 too) and half of the 100 ids a DELETE names,
/// and the answer is far inside one page of 250.
pub const IDS_PER_LOOKUP: usize = 50;

/// Emails per `email:in` lookup: emails run to 250 characters (§20.1), three times that
/// percent-encoded, so ten at most, and fewer when they are long (see [`EMAIL_QUERY_BYTES`]).
pub const EMAILS_PER_LOOKUP: usize = 10;

/// The most bytes of emails one `email:in` list holds (before encoding): URLs stay a few KB,
/// well below the 8 KB many servers and proxies refuse.
const EMAIL_QUERY_BYTES: usize = 1500;

/// The keys one lookup checks.
enum Keys {
    Ids(Vec<u64>),
    Emails(Vec<String>),
}

struct List {
    keys: Keys,
    /// Set once the lookup answered (a failed one is tried again by the next row asking).
    read: OnceCell<()>,
}

/// The file's keys cut into lookup lists (see the module docs).
#[derive(Default)]
pub struct Batches {
    of_id: HashMap<u64, usize>,
    /// Lowercased.
    of_email: HashMap<String, usize>,
    lists: Vec<List>,
}

impl Batches {
    /// The lists for rows naming their customers by `(id, email)`, in file order: a row with
    /// an id is looked up by its id (it wins over the email), else by its email. Each key is
    /// in one list, the first row's; an email with a comma is in none (a comma separates
    /// `email:in` items), so it is looked up alone.
    pub fn new(targets: impl IntoIterator<Item = (Option<u64>, Option<String>)>) -> Batches {
        let mut b = Batches::default();
        let mut ids: Vec<u64> = Vec::new();
        let mut emails: Vec<String> = Vec::new();
        let mut email_bytes = 0;
        for target in targets {
            match target {
                (Some(id), _) => {
                    if b.of_id.contains_key(&id) || ids.contains(&id) {
                        continue;
                    }
                    ids.push(id);
                    if ids.len() == IDS_PER_LOOKUP {
                        b.push(Keys::Ids(std::mem::take(&mut ids)));
                    }
                }
                (None, Some(e)) => {
                    let e = e.to_lowercase();
                    if e.contains(',') || b.of_email.contains_key(&e) || emails.contains(&e) {
                        continue;
                    }
                    if email_bytes + e.len() > EMAIL_QUERY_BYTES && !emails.is_empty() {
                        b.push(Keys::Emails(std::mem::take(&mut emails)));
                        email_bytes = 0;
                    }
                    email_bytes += e.len();
                    emails.push(e);
                    if emails.len() == EMAILS_PER_LOOKUP {
                        b.push(Keys::Emails(std::mem::take(&mut emails)));
                        email_bytes = 0;
                    }
                }
                (None, None) => {}
            }
        }
        if !ids.is_empty() {
            b.push(Keys::Ids(ids));
        }
        if !emails.is_empty() {
            b.push(Keys::Emails(emails));
        }
        b
    }

    fn push(&mut self, keys: Keys) {
        let n = self.lists.len();
        match &keys {
            Keys::Ids(ids) => self.of_id.extend(ids.iter().map(|&id| (id, n))),
            Keys::Emails(es) => self.of_email.extend(es.iter().map(|e| (e.clone(), n))),
        }
        self.lists.push(List {
            keys,
            read: OnceCell::new(),
        });
    }

    /// How many lookups the whole file costs.
    pub fn lookups(&self) -> u64 {
        self.lists.len() as u64
    }

    /// Which list holds the row's key, if any.
    pub fn list_of(&self, id: Option<u64>, email: Option<&str>) -> Option<usize> {
        match (id, email) {
            (Some(id), _) => self.of_id.get(&id).copied(),
            (None, Some(e)) => self.of_email.get(&e.to_lowercase()).copied(),
            (None, None) => None,
        }
    }

    /// Read list `n` once (rows asking at the same time wait for the same request), handing
    /// every customer of the answer to `remember`.
    pub async fn read(
        &self,
        client: &Client,
        n: usize,
        remember: impl Fn(&Customer),
    ) -> Result<(), ApiError> {
        let list = &self.lists[n];
        list.read
            .get_or_try_init(|| async {
                let found = match &list.keys {
                    Keys::Ids(ids) => crate::api::v3::read::customers_by_ids(client, ids).await?,
                    Keys::Emails(es) => {
                        crate::api::v3::read::customers_by_emails(client, es).await?
                    }
                };
                found.iter().for_each(&remember);
                Ok(())
            })
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_id(ids: impl IntoIterator<Item = u64>) -> Vec<(Option<u64>, Option<String>)> {
        ids.into_iter().map(|id| (Some(id), None)).collect()
    }

    #[test]
    fn ids_go_in_lists_of_fifty_in_file_order_each_once() {
        let mut rows = by_id(1..=120);
        rows.extend(by_id([3, 60]));
        let b = Batches::new(rows);
        assert_eq!(b.lookups(), 3);
        assert_eq!(b.list_of(Some(1), None), Some(0));
        assert_eq!(b.list_of(Some(50), None), Some(0));
        assert_eq!(b.list_of(Some(51), None), Some(1));
        assert_eq!(b.list_of(Some(120), None), Some(2));
        assert_eq!(b.list_of(Some(121), None), None);
    }

    #[test]
    fn emails_go_in_lists_of_ten_or_fewer_long_ones_and_never_with_a_comma() {
        let mut rows: Vec<_> = (0..25)
            .map(|i| (None, Some(format!("A{i}@x.co"))))
            .collect();
        rows.push((None, Some("a0@X.CO".into())));
        rows.push((None, Some("\"a,b\"@x.co".into())));
        rows.push((Some(7), Some("seven@x.co".into())));
        let b = Batches::new(rows);
        // 25 emails: 10 + 10 + 5; the id: one list of its own.
        assert_eq!(b.lookups(), 4);
        assert_eq!(
            b.list_of(None, Some("a0@x.co")),
            b.list_of(None, Some("A9@x.co"))
        );
        assert_ne!(
            b.list_of(None, Some("a0@x.co")),
            b.list_of(None, Some("a10@x.co"))
        );
        assert_eq!(b.list_of(None, Some("\"a,b\"@x.co")), None);
        assert_eq!(b.list_of(None, Some("seven@x.co")), None, "the id wins");
        let long: Vec<_> = (0..10)
            .map(|i| (None, Some(format!("{}{i}@x.co", "l".repeat(240)))))
            .collect();
        assert_eq!(
            Batches::new(long).lookups(),
            2,
            "six long emails fit 1500 bytes"
        );
    }
}
