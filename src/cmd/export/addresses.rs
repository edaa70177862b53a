//! The `--addresses` file: every address of the exported customers, one row each, after the
//! customer's id and email. Addresses come embedded in the pages (V3) or are read one
//! request per customer (V2).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use futures::StreamExt;

use super::sink::Sink;
use super::ADDRESSES_FILE_COLUMNS;
use crate::api::{Address, Client, Customer};
use crate::cmd::fatal_if_auth;
use crate::csvio::neutralise;
use crate::outfile::{OutputFile, UTF8_BOM};

/// Address requests queued at once for one page; the client's own limit (`--concurrency`)
/// decides how many are in flight, this only keeps the queue ahead of it.
const QUEUED_LOOKUPS: usize = 64;

/// Create the file at `path` (after a UTF-8 BOM under `--bom`) with its header written.
pub(super) fn create(path: &Path, bom: bool) -> anyhow::Result<csv::Writer<Sink>> {
    let mut sink = Sink::new(OutputFile::create(path)?, path);
    if bom {
        sink.write_all(UTF8_BOM)?;
    }
    // A bigger buffer than csv's 8 KB: fewer hand-offs to the file's own buffer.
    let mut w = csv::WriterBuilder::new()
        .buffer_capacity(64 * 1024)
        .from_writer(sink);
    w.write_record(ADDRESSES_FILE_COLUMNS)?;
    Ok(w)
}

/// Fetch the addresses of one page of customers (up to --concurrency at once) and write them
/// in customer order. Returns how many customers were deleted since their page was read
/// (404): the store changing underneath is not a reason to fail a backup.
pub(super) async fn fetch_and_write<W: Write>(
    client: &Client,
    page: &[Customer],
    w: &mut csv::Writer<W>,
    raw: bool,
) -> anyhow::Result<u64> {
    let lists: Vec<Result<Vec<Address>, crate::api::ApiError>> =
        futures::stream::iter(page.iter().map(|c| client.addresses(c.id)))
            .buffered(QUEUED_LOOKUPS)
            .collect()
            .await;
    let mut gone = 0;
    for (c, list) in page.iter().zip(lists) {
        let list = match list {
            Err(e) if e.status() == Some(404) => {
                gone += 1;
                continue;
            }
            other => other
                .map_err(fatal_if_auth)
                .with_context(|| format!("reading the addresses of customer {}", c.id))?,
        };
        write_rows(c, &list, w, raw)?;
    }
    Ok(gone)
}

/// One customer's addresses as rows of the `--addresses` file (either API).
pub(super) fn write_rows<W: Write>(
    c: &Customer,
    list: &[Address],
    w: &mut csv::Writer<W>,
    raw: bool,
) -> anyhow::Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    let id = c.id.to_string();
    let mut address_id = String::new();
    for a in list {
        use std::fmt::Write as _;
        address_id.clear();
        let _ = write!(address_id, "{}", a.id);
        let cells = [
            id.as_str(),
            c.email.as_str(),
            address_id.as_str(),
            &a.first_name,
            &a.last_name,
            &a.company,
            &a.street_1,
            &a.street_2,
            &a.city,
            &a.state,
            &a.zip,
            &a.country,
            &a.country_iso2,
            &a.phone,
            &a.address_type,
        ];
        for cell in cells {
            if raw {
                w.write_field(cell)?;
            } else {
                w.write_field(neutralise(cell).as_ref())?;
            }
        }
        w.write_record(None::<&[u8]>)?;
    }
    Ok(())
}
