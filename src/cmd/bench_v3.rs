//! `bench`'s Customers V3 import workloads (issue 14 item 6): creates under a quota, with and
//! without an address each, updates at a latency where V3's PUT limit (3 at once) is the
//! bound, and the same updates with 1% of rows the store refuses (emails already taken by
//! another customer, which only the store sees). Each bound is what V3's batches of 10 allow.

use std::path::Path;

use anyhow::Context;

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

/// `n` new customers, as the V2 workloads' (and, with `addresses`, one address each).
fn write_new_customers(path: &Path, n: u64, addresses: bool) -> anyhow::Result<()> {
    let mut wtr = csv::Writer::from_path(path)?;
    let mut header = vec!["email", "first_name", "last_name", "company", "phone", "notes"];
    if addresses {
        header.extend([
            "address_street_1",
            "address_city",
            "address_state",
            "address_zip",
            "address_country",
        ]);
    }
    wtr.write_record(&header)?;
    for i in 1..=n {
        let mut rec = vec![
            format!("bench.customer{i}@example.com"),
            format!("First{i}"),
            format!("Last{i}"),
            format!("Company {}", i % 97),
            format!("+1 555 {:07}", i),
            "imported by bc-customers bench".to_string(),
        ];
        if addresses {
            rec.extend([
                format!("{i} Main Street"),
                "Austin".into(),
                "Texas".into(),
                format!("{:05}", 70000 + i % 9999),
                "United States".into(),
            ]);
        }
        wtr.write_record(&rec)?;
    }
    wtr.flush()?;
    Ok(())
}

/// Copy an export, changing `first_name` in every row; with `poison`, every 100th row also
/// takes the next row's email (a customer of the store: only the store sees the clash).
/// Returns how many rows were poisoned.
fn change_every_row(from: &Path, to: &Path, poison: bool) -> anyhow::Result<u64> {
    let mut rdr = csv::Reader::from_path(from)?;
    let headers = rdr.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("the export has no {name} column"))
    };
    let (first, email) = (col("first_name")?, col("email")?);
    let records: Vec<csv::StringRecord> = rdr.records().collect::<Result<_, _>>()?;
    let mut wtr = csv::Writer::from_path(to)?;
    wtr.write_record(&headers)?;
    let mut bad = 0;
    for (i, rec) in records.iter().enumerate() {
        let taken = (poison && i % 100 == 50)
            .then(|| records.get(i + 1).map(|r| r[email].to_string()))
            .flatten();
        bad += u64::from(taken.is_some());
        let fields: Vec<String> = rec
            .iter()
            .enumerate()
            .map(|(j, c)| match (j, &taken) {
                (j, _) if j == first => format!("{c} Changed"),
                (j, Some(t)) if j == email => t.clone(),
                _ => c.to_string(),
            })
            .collect();
        wtr.write_record(&fields)?;
    }
    wtr.flush()?;
    Ok(bad)
}
