//! `bench`'s Customers V3 import workloads (issue 14 item 6): creates under a quota, with and
//! without an address each, updates at a latency where V3's PUT limit (3 at once) is the
//! bound, and the same updates with 1% of rows the store refuses (emails already taken by
//! another customer, which only the store sees). Each bound is what V3's batches of 10 allow.

use std::path::Path;

use super::files::{change_every_row, write_new_customers};
use super::{ChildRun, ChildSummary, Spec, Workload};
use crate::api::v3::write::{MAX_BATCH, PUT_CONCURRENCY};
use crate::sandbox::Sandbox;

/// What a V3 workload measured beyond the common table.
pub struct V3Run {
    pub summary: (ChildSummary, u64),
    /// Rows one request carries at best, over the request slots the bound assumes.
    pub rows_per_request: f64,
    /// Requests beyond the clean run's, per row the store refused (the invalid workload).
    pub extra_per_bad_row: Option<f64>,
}

/// Run one V3 workload in `dir` against `sandbox` (seeded with `spec.rows` for the updates).
pub async fn run(
    child: &ChildRun<'_>,
    sandbox: &Sandbox,
    dir: &Path,
    spec: &Spec,
) -> anyhow::Result<V3Run> {
    let batch = MAX_BATCH as f64;
    match spec.workload {
        Workload::CreateV3 | Workload::CreateV3Addresses => {
            let input = dir.join("new-customers.csv");
            let addresses = spec.workload == Workload::CreateV3Addresses;
            write_new_customers(&input, spec.rows, addresses)?;
            sandbox.set_latency_ms(spec.latency_ms);
            let path = input.display().to_string();
            let args = ["import", &path, "--mode", "create", "--api", "v3"];
            Ok(V3Run {
                summary: child.run(&args).await?,
                rows_per_request: batch,
                extra_per_bad_row: None,
            })
        }
        Workload::UpdateV3 | Workload::InvalidV3 => {
            let exported = dir.join("store.csv");
            child
                .run(&["export", "--output", &exported.display().to_string()])
                .await?;
            let input = dir.join("changed.csv");
            let bad = change_every_row(&exported, &input, spec.workload == Workload::InvalidV3)?;
            sandbox.set_latency_ms(spec.latency_ms);
            sandbox.reset_counters();
            let path = input.display().to_string();
            let invalid = spec.workload == Workload::InvalidV3;
            let summary = child
                .run_allowing(&["import", &path, "--api", "v3"], invalid)
                .await?;
            // Clean: the planning pages (250 customers each) and one PUT per 10 rows.
            let clean = spec.rows.div_ceil(250) + spec.rows.div_ceil(MAX_BATCH as u64);
            let extra = summary.0.requests.saturating_sub(clean);
            Ok(V3Run {
                summary,
                // The PUT limit, not --concurrency, bounds the requests in flight (§6, §16):
                // the bound is PUT_CONCURRENCY × 10 rows per latency.
                rows_per_request: batch * PUT_CONCURRENCY as f64 / spec.concurrency as f64,
                extra_per_bad_row: (bad > 0).then(|| extra as f64 / bad as f64),
            })
        }
        _ => unreachable!("only the V3 import workloads come here"),
    }
}
