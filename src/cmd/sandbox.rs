//! `sandbox`: run the local fake store until Ctrl-C, for rehearsals and out-of-process tests.

use clap::builder::TypedValueParser as _;

use crate::exit::{usage, Exit};
use crate::sandbox::{self, SandboxConfig};
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
            ..SandboxConfig::default()
        })
    }
}

pub async fn run(_g: &Settings, args: Args) -> anyhow::Result<Exit> {
    let cfg = args.config()?;
    sandbox::run_forever(cfg, args.port).await?;
    Ok(Exit::Ok)
}
