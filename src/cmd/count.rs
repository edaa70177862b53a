//! `count`: print the number of customers (optionally filtered).

use crate::api::store::{Reader, Selection};
use crate::cmd::{connect, fatal_if_auth, parse_filters};
use crate::exit::Exit;
use crate::settings::Settings;

/// Print the number of customers.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// A V2 list filter, e.g. customer_group_id=2 (repeatable; with --api v3: email, company,
    /// phone, customer_group_id and the date filters).
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Only customers modified since DATETIME (min_date_modified).
    #[arg(long, value_name = "DATETIME")]
    pub since: Option<String>,
}

/// Validate the filters (usage error before any request), then one request: V2's
/// `/customers/count`, or with `--api v3` the `meta.pagination.total` of a one-customer page
/// with the filters under their V3 names (a filter V3 cannot express is a usage error).
pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    let filters = parse_filters(&args.filters, args.since.as_deref())?;
    let selection = Selection::for_api(g.api, &filters)?;
    let n = Reader::new(connect(g)?, selection)
        .count()
        .await
        .map_err(fatal_if_auth)?;
    println!("{n}");
    Ok(Exit::Ok)
}
