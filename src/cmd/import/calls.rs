//! The per-row store calls of an import, over either Customers API: one customer, one
//! address, one group per call, each answered on its own (the seam `execute` drives).
//!
//! Under `--api v2` each call is its own request, as it always was. Under `--api v3` the
//! writes go to the run's one [`Writer::V3`], which gathers the calls of all rows in flight
//! into batches of up to 10 and answers each caller alone (api::v3::batch): a create carries
//! its address nested (no request of its own), an existing customer's address goes through
//! the address batches, and form fields and `accepts_marketing` are sent (V3 writes them).
//! The reads (a customer by id or email, a customer's addresses) go through V3's `GET`, so a
//! V3 run compares with what V3 shows. Groups stay on V2 (V3 has no groups API).

use crate::api::store::{WriteError, Writer};
use crate::api::{v3, ApiError, Client, Group};
use crate::lookup;
use crate::mapping::columns::Field;
use crate::mapping::row::{AddressData, RowData, Snapshot};

use super::plan::Origin;

/// The per-row store calls (see the module docs).
#[derive(Clone)]
pub struct StoreCalls {
    client: Client,
    writer: Writer,
}

/// A customer as the store holds it after a write: its email (the index's key) and fields.
pub struct Stored {
    pub email: String,
    pub fields: Snapshot,
}

impl StoreCalls {
    pub fn new(client: Client, writer: Writer) -> StoreCalls {
        StoreCalls { client, writer }
    }

    /// The store's clock now (the `Date` of its latest answer): recorded with a create's
    /// journal mark just before the create is sent.
    pub fn store_clock(&self) -> Option<i64> {
        self.client.store_clock()
    }

    /// The writes are gathered into batches whose hook marks the journal (V3).
    pub fn batched(&self) -> bool {
        matches!(self.writer, Writer::V3(_))
    }

    /// The backend writes the row's address in the create itself.
    pub fn addresses_inline(&self) -> bool {
        self.writer.capabilities().addresses_inline
    }

    /// The backend writes form fields and `accepts_marketing`.
    pub fn writes_extras(&self) -> bool {
        self.writer.capabilities().writable_form_fields
    }

    /// Create the customer (`key`: the row number, for the V3 batch's journal mark); an
    /// ambiguous failure is reconciled by looking the email up before sending again, so a
    /// lost answer never creates a customer twice. Under V3 the row's address goes with it.
    pub async fn create_customer(
        &self,
        key: u64,
        data: &RowData,
        force_reset: bool,
    ) -> Result<u64, WriteError> {
        // Each backend settles its own lost answers: V2 looks the email up (a customer found
        // is taken only if it can be this create's, api::once::claim), V3's batch reconciles
        // with one email:in lookup; both within the client's --max-retries.
        self.writer.create(key, data, force_reset).await
    }

    /// Send these fields of the row (and its password when `password`) to customer `id`
    /// through the run's writer (`api::store::Writer::update`: a V2 lost answer is settled by
    /// reading the customer back, V3's store credit follows the store's rule). `None`: a V3
    /// batch answers only that it was written, and the caller knows what it sent.
    pub async fn update_customer(
        &self,
        key: u64,
        id: u64,
        data: &RowData,
        fields: &[Field],
        password: bool,
        credit_was_zero: bool,
    ) -> Result<Option<Stored>, WriteError> {
        let stored = self
            .writer
            .update(key, id, data, fields, password, credit_was_zero)
            .await?;
        Ok(stored.map(|c| Stored {
            fields: Snapshot::of(&c),
            email: c.email,
        }))
    }

    /// Add the address to customer `id`; an ambiguous failure is reconciled by listing the
    /// customer's addresses before sending again (V3's address batches de-duplicate, so a
    /// repeat there is harmless).
    pub async fn add_address(
        &self,
        key: u64,
        id: u64,
        addr: &AddressData,
    ) -> Result<(), WriteError> {
        self.writer.add_address(key, id, addr).await.map(|_| ())
    }

    /// Create a customer group (reconciled by name after an ambiguous failure).
    pub async fn create_group(&self, name: &str) -> Result<Group, ApiError> {
        self.client.create_group_once(name).await
    }

    /// The store's customer by id, else by email.
    pub async fn find_customer(
        &self,
        id: Option<u64>,
        email: Option<&str>,
    ) -> Result<Option<Stored>, ApiError> {
        Ok(self.read_customer(id, email).await?.map(|c| Stored {
            fields: Snapshot::of(&c),
            email: c.email,
        }))
    }

    /// What the store says of customer `id` that tells whether the interrupted run's create
    /// made it: its names and `date_created` (the index keeps only hashes, to stay small;
    /// this is read only for a row whose create is in doubt on resume).
    pub async fn origin(&self, id: u64) -> Result<Option<Origin>, ApiError> {
        Ok(self.read_customer(Some(id), None).await?.map(|c| Origin {
            first_name: c.first_name,
            last_name: c.last_name,
            date_created: c.date_created,
        }))
    }

    async fn read_customer(
        &self,
        id: Option<u64>,
        email: Option<&str>,
    ) -> Result<Option<crate::api::Customer>, ApiError> {
        match &self.writer {
            Writer::V2(_) => lookup::fetch(&self.client, id, email).await,
            Writer::V3(_) => v3::read::find_customer(&self.client, id, email).await,
        }
    }

    /// Does customer `id` have this address?
    pub async fn has_address(&self, id: u64, addr: &AddressData) -> Result<bool, ApiError> {
        let list = match &self.writer {
            Writer::V2(_) => self.client.addresses(id).await?,
            Writer::V3(_) => v3::read::addresses(&self.client, id).await?,
        };
        Ok(list.iter().any(|a| addr.matches(a)))
    }
}
