//! `count`: print the number of customers (optionally filtered).

use crate::cli::GlobalArgs;
use crate::cmd::{connect, fatal_if_auth, parse_filters};
use crate::exit::Exit;

/// Print the number of customers.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// A V2 list filter, e.g. customer_group_id=2 (repeatable).
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// Only customers modified since DATETIME (min_date_modified).
    #[arg(long, value_name = "DATETIME")]
    pub since: Option<String>,
}

/// Validate the filters (usage error before any request), then one `/customers/count`.
pub async fn run(g: &GlobalArgs, args: Args) -> anyhow::Result<Exit> {
    let q = parse_filters(&args.filters, args.since.as_deref())?;
    let client = connect(g)?;
    let params = q.count_params();
    let n = client
        .count_customers(&params)
        .await
        .map_err(fatal_if_auth)?;
    println!("{n}");
    Ok(Exit::Ok)
}
