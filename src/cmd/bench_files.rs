//! `bench`'s input files: new customers (with an address each, for the V3 workload) and
//! copies of an export with some or all rows changed (and, for the invalid workload, some
//! emails that another customer of the store already has).

use std::path::Path;

use anyhow::Context;

/// `n` new customers with the fields a create needs and a few more, as a migration would
/// have; with `addresses`, one address each.
pub fn write_new_customers(path: &Path, n: u64, addresses: bool) -> anyhow::Result<()> {
    let mut wtr = csv::Writer::from_path(path)?;
    let mut header = vec![
        "email",
        "first_name",
        "last_name",
        "company",
        "phone",
        "notes",
    ];
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
pub fn change_every_row(from: &Path, to: &Path, poison: bool) -> anyhow::Result<u64> {
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

/// Copy an export, changing `first_name` in every tenth row; returns how many rows changed.
pub fn change_every_tenth(from: &Path, to: &Path) -> anyhow::Result<u64> {
    let mut rdr = csv::Reader::from_path(from)?;
    let headers = rdr.headers()?.clone();
    let col = headers
        .iter()
        .position(|h| h == "first_name")
        .context("the export has no first_name column")?;
    let mut wtr = csv::Writer::from_path(to)?;
    wtr.write_record(&headers)?;
    let mut changed = 0;
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec?;
        if i % 10 == 0 {
            let fields: Vec<String> = rec
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    if j == col {
                        format!("{c} Changed")
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            wtr.write_record(&fields)?;
            changed += 1;
        } else {
            wtr.write_record(&rec)?;
        }
    }
    wtr.flush()?;
    Ok(changed)
}
