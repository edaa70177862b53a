//! `demo`: the README's first command. Starts an in-process sandbox store (with some seeded
//! customers that have form fields), imports `samples/customers.csv` into it, exports every
//! customer back to CSV (form fields flattened into columns), re-imports the export to show
//! that nothing changes, re-imports the addresses file the same way (a backup restore), and
//! prints a short tour of the files.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cmd::{export, import};
use crate::exit::Exit;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::settings::{Settings, StoreFlags};

/// The sample file, built into the binary so the demo runs from any directory.
const SAMPLE: &str = include_str!("../../samples/customers.csv");

/// Import the sample customers into an in-process sandbox store and export them back.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Directory for the demo's files (created if missing).
    #[arg(long, value_name = "DIR", default_value = "bc-customers-demo")]
    pub dir: PathBuf,
    /// Customers already in the store before the import (they carry form fields).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub seed: usize,
    /// Simulated API latency in milliseconds.
    #[arg(long, value_name = "L", default_value_t = 20)]
    pub latency_ms: u64,
}

pub async fn run(g: &Settings, args: Args) -> anyhow::Result<Exit> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = args.dir.canonicalize()?;
    let sandbox = Sandbox::start(
        SandboxConfig {
            seed: args.seed,
            latency_ms: args.latency_ms,
            ..SandboxConfig::default()
        },
        0,
    )
    .await?;
    let say = |s: &str| {
        if !g.quiet {
            eprintln!("{s}");
        }
    };
    say(&format!(
        "demo: started a sandbox store at {} with {} seeded customers (latency {} ms)",
        sandbox.base_url(),
        args.seed,
        args.latency_ms
    ));

    // The token goes in a private file, as a user would do it (there is no token flag).
    let token_file = dir.join("sandbox.token");
    crate::csvio::write_private(&token_file, sandbox.token())?;
    let global = g.for_store(&StoreFlags {
        store_hash: Some(sandbox.store_hash().to_string()),
        api_url: Some(sandbox.base_url()),
        token_file: Some(token_file),
    })?;

    let input = dir.join("customers.csv");
    std::fs::write(&input, SAMPLE)?;
    let results = dir.join("customers.results.csv");
    say(&format!("\n1. import {} (50 sample customers: quoted commas, multi-line notes, non-ASCII names, formula-like cells)", input.display()));
    let exit1 = import::run(&global, import_args(&input, &results)).await?;

    let export_file = dir.join("export.csv");
    let addresses_file = dir.join("export-addresses.csv");
    say(&format!(
        "\n2. export every customer to {} (form fields become form_field:<name> columns)",
        export_file.display()
    ));
    export::run(
        &global,
        export::Args {
            output: export_file.display().to_string(),
            addresses: Some(addresses_file.display().to_string()),
            ..export::Args::default()
        },
    )
    .await?;

    let results2 = dir.join("export.results.csv");
    say("\n3. import the export back: every row is unchanged and no write is sent");
    let before = sandbox.counters().writes;
    let exit2 = import::run(&global, import_args(&export_file, &results2)).await?;
    let writes = sandbox.counters().writes - before;

    let results3 = dir.join("export-addresses.results.csv");
    say("\n4. import the addresses file back (how a backup's addresses are restored): every address is already there");
    let before = sandbox.counters().writes;
    let exit3 = import::run(&global, import_args(&addresses_file, &results3)).await?;
    let address_writes = sandbox.counters().writes - before;

    let counters = sandbox.counters();
    say(&format!(
        "\ntour:\n  {}  the sample input\n  {}  what happened to each row (_row,_result,_customer_id,_message + the input's columns)\n  {}  the store as CSV, ascending id, dates in ISO-8601, formula-like cells prefixed with '\n  {}  one row per address\n  {}  the re-import: {} write requests\n  {}  the addresses re-import: {} write requests\n  the sandbox served {} requests in all; it is gone when the demo ends (run `bc-customers sandbox` for one that stays)",
        input.display(),
        results.display(),
        export_file.display(),
        addresses_file.display(),
        results2.display(),
        writes,
        results3.display(),
        address_writes,
        counters.total
    ));
    sandbox.shutdown();
    Ok(if [exit1, exit2, exit3].iter().all(|e| *e == Exit::Ok) {
        Exit::Ok
    } else {
        Exit::RowsFailed
    })
}

fn import_args(input: &Path, results: &Path) -> import::Args {
    import::Args {
        file: input.to_path_buf(),
        results: Some(results.to_path_buf()),
        ..import::Args::default()
    }
}
