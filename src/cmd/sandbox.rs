//! `sandbox`: run the local fake store until Ctrl-C, for rehearsals and out-of-process tests.

use clap::builder::TypedValueParser as _;

use crate::exit::{usage, Exit};
use crate::sandbox::{
    self, SandboxConfig, V3BatchCommit, V3IdInOrder, V3Options, V3ReadOnly, V3StoreCredit,
    V3UnfilteredDelete,
};
use crate::settings::Settings;

/// Run a local fake BigCommerce store on 127.0.0.1.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub port: u16,
    /// Seed this many customers (with form fields, across customer groups).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: usize,
    /// Requests allowed per window (default: unlimited, and no rate-limit headers).
    #[arg(long, value_name = "Q")]
    pub quota: Option<u32>,
    /// Length of the quota window in milliseconds.
    #[arg(long, value_name = "W", default_value_t = 30_000)]
    pub window_ms: u64,
    /// Added to every response, in milliseconds.
    #[arg(long, value_name = "L", default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability (0..1) of an injected 5xx before a request is processed.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Probability (0..1) that the connection is dropped before a request is processed.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Probability (0..1) that a write is committed and then its response lost.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub lost_response_rate: f64,
    /// Behave like a plan without customer groups (403 on /customer_groups).
    #[arg(long)]
    pub no_groups: bool,
    /// Send 429s without rate-limit headers (platform overload).
    #[arg(long)]
    pub bare_429: bool,
    /// Make the customer filters min_id/max_id exclusive (> and <) instead of inclusive:
    /// BigCommerce does not document which it is.
    #[arg(long)]
    pub exclusive_id_bounds: bool,
    /// Status of "email already in use" (BigCommerce does not document it).
    #[arg(long, value_name = "STATUS", default_value_t = 409, value_parser = clap::builder::PossibleValuesParser::new(["400", "409", "422"]).map(|s| s.parse::<u16>().expect("one of the possible values")))]
    pub duplicate_email_status: u16,
    /// Answer group creates with the documented 207 {status, message} (created, no group in the answer).
    #[arg(long)]
    pub group_create_207: bool,
    /// Customers V3: what a customer or address batch rejected with 422 leaves written.
    /// Open question 1 of the V3 reference (§19): do the other rows of the batch exist?
    #[arg(long, value_enum, value_name = "WHAT", default_value = "nothing")]
    pub v3_batch_commit: V3BatchCommit,
    /// Customers V3: the order of GET /v3/customers?id:in=… results. Open question 4 (§19):
    /// the default order is undocumented.
    #[arg(long, value_enum, value_name = "ORDER", default_value = "ascending")]
    pub v3_id_in_order: V3IdInOrder,
    /// Customers V3: the answer to DELETE /v3/customers without id:in (never applied, always
    /// counted). BigCommerce's spec says 204 with no change; a store might refuse it instead.
    #[arg(long, value_enum, value_name = "ANSWER", default_value = "no-op")]
    pub v3_unfiltered_delete: V3UnfilteredDelete,
    /// Customers V3: whether store_credit_amounts on PUT sets or adds to the balance. Open
    /// question 6 (§19).
    #[arg(long, value_enum, value_name = "HOW", default_value = "set")]
    pub v3_store_credit_on_put: V3StoreCredit,
    /// Customers V3: the most addresses per POST/PUT /v3/customers/addresses (413 above).
    /// Open question 10 (§19): the maximum is undocumented; clients use 10.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub v3_address_batch_limit: u16,
    /// Customers V3: POST /v3/customers allowed in flight at once (429 above; default: no
    /// limit, as documented today). Open question 9 (§19): the real ceiling (10? 3?).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub v3_post_concurrency: Option<u16>,
    /// Customers V3: addresses embedded per customer by include=addresses, a number or "all".
    /// Open question 4 (§19): the spec says "Limited to 10"; whether it truncates is unverified.
    #[arg(long, value_name = "N|all", default_value = "10", value_parser = parse_address_limit)]
    pub v3_include_addresses_limit: AddressLimit,
    /// Customers V3: accept percent-encoded date filter values (by default refused with 422,
    /// as BigCommerce's docs say such values "won't work").
    #[arg(long)]
    pub v3_accept_encoded_dates: bool,
    /// Customers V3: what read-only fields (date_created, registration_ip_address, …) in a
    /// write do. Open question 8 (§19): ignored or an error.
    #[arg(long, value_enum, value_name = "HOW", default_value = "ignored")]
    pub v3_read_only_fields: V3ReadOnly,
    /// Customers V3: make date_created/date_modified :min and :max exclude the bound ("after"
    /// and "before this date"); inclusive by default. The docs do not say which.
    #[arg(long)]
    pub v3_exclusive_date_bounds: bool,
}

/// `--v3-include-addresses-limit`: `None` = every address.
#[derive(Debug, Clone, Copy)]
pub struct AddressLimit(pub Option<usize>);

fn parse_address_limit(text: &str) -> Result<AddressLimit, String> {
    match text {
        "all" => Ok(AddressLimit(None)),
        _ => match text.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(AddressLimit(Some(n))),
            _ => Err("expected a number of at least 1, or \"all\"".to_string()),
        },
    }
}

impl Args {
    pub fn config(&self) -> anyhow::Result<SandboxConfig> {
        for (name, p) in [
            ("--fail-rate", self.fail_rate),
            ("--drop-rate", self.drop_rate),
            ("--lost-response-rate", self.lost_response_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return usage(format!("{name} must be between 0 and 1"));
            }
        }
        if self.quota == Some(0) || self.window_ms == 0 {
            return usage("--quota and --window-ms must be at least 1");
        }
        Ok(SandboxConfig {
            seed: self.seed,
            quota: self.quota,
            window_ms: self.window_ms,
            latency_ms: self.latency_ms,
            fail_rate: self.fail_rate,
            drop_rate: self.drop_rate,
            lost_response_rate: self.lost_response_rate,
            rate_headers_on_429: !self.bare_429,
            groups_enabled: !self.no_groups,
            exclusive_id_bounds: self.exclusive_id_bounds,
            duplicate_email_status: self.duplicate_email_status,
            group_create_207: self.group_create_207,
            v3: V3Options {
                batch_commit: self.v3_batch_commit,
                id_in_order: self.v3_id_in_order,
                unfiltered_delete: self.v3_unfiltered_delete,
                store_credit_on_put: self.v3_store_credit_on_put,
                address_batch_limit: usize::from(self.v3_address_batch_limit),
                post_concurrency: self.v3_post_concurrency.map(usize::from),
                include_addresses_limit: self.v3_include_addresses_limit.0,
                refuse_encoded_dates: !self.v3_accept_encoded_dates,
                read_only_fields: self.v3_read_only_fields,
                exclusive_date_bounds: self.v3_exclusive_date_bounds,
            },
            ..SandboxConfig::default()
        })
    }
}

pub async fn run(_g: &Settings, args: Args) -> anyhow::Result<Exit> {
    let cfg = args.config()?;
    sandbox::run_forever(cfg, args.port).await?;
    Ok(Exit::Ok)
}
