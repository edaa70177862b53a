//! Property tests of the spill writer: cells round-trip exactly, and the direct output equals the final pass.

use super::*;

impl Output for Vec<u8> {
    fn restart(self) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(Some(Vec::new()))
    }
}
use crate::api::models::FormField;
use crate::csvio::unneutralise;
use proptest::prelude::*;

/// Customers through the spill and the final pass, read back with a CSV reader.
fn spill_and_read(customers: &[Customer], raw: bool) -> Vec<csv::StringRecord> {
    let spill = tempfile::NamedTempFile::new().unwrap();
    let mut w = SpillWriter::<Vec<u8>>::new(spill.path(), raw, false, None).unwrap();
    for c in customers {
        w.write(c, &GroupBook::default()).unwrap();
    }
    let (ff, direct) = w.finish().unwrap();
    assert!(direct.is_none());
    let out = write_final(spill.path(), Vec::new(), &ff, false).unwrap();
    let mut rdr = csv::Reader::from_reader(out.as_slice());
    let mut rows = vec![rdr.headers().unwrap().clone()];
    rows.extend(rdr.records().map(Result::unwrap));
    rows
}

fn cell() -> impl Strategy<Value = String> {
    let start = prop::sample::select(vec!["", "'", "=", "+", "-", "@", "\t", "\r", "\n", " "]);
    (start, "[a-z ,\"'=+@\\-\n\r\té中😀]{0,10}").prop_map(|(s, b)| format!("{s}{b}"))
}

proptest! {
    /// neutralise → CSV writer → CSV reader → unneutralise gives back every cell exactly,
    /// and no neutralised cell starts with a formula character; form-field columns are
    /// padded for customers seen before a column appeared.
    #[test]
    fn cells_round_trip_through_the_spill(
        rows in prop::collection::vec((cell(), cell(), prop::option::of(cell()), prop::option::of(cell())), 1..20)
    ) {
        let customers: Vec<Customer> = rows
            .iter()
            .enumerate()
            .map(|(i, (notes, company, a, b))| Customer {
                id: i as u64 + 1,
                notes: notes.clone(),
                company: company.clone(),
                form_fields: a
                    .iter()
                    .map(|v| FormField { name: "a".into(), value: v.clone() })
                    .chain(b.iter().map(|v| FormField { name: "=b".into(), value: v.clone() }))
                    .collect(),
                ..Customer::default()
            })
            .collect();
        let out = spill_and_read(&customers, false);
        let header = &out[0];
        let width = header.len();
        let col = |name: &str| header.iter().position(|h| h == name);
        for (rec, (notes, company, a, b)) in out[1..].iter().zip(&rows) {
            prop_assert_eq!(rec.len(), width);
            for cell in rec.iter() {
                prop_assert!(!matches!(cell.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')));
            }
            prop_assert_eq!(unneutralise(&rec[9]), notes.as_str());
            prop_assert_eq!(unneutralise(&rec[4]), company.as_str());
            for (name, want) in [("form_field:a", a), ("form_field:=b", b)] {
                if let Some(i) = col(name) {
                    prop_assert_eq!(unneutralise(&rec[i]), want.as_deref().unwrap_or(""));
                } else {
                    prop_assert!(want.is_none());
                }
            }
        }
        let raw = spill_and_read(&customers, true);
        for (rec, (notes, _, _, _)) in raw[1..].iter().zip(&rows) {
            prop_assert_eq!(&rec[9], notes.as_str());
        }
    }
}

/// An output that cannot start over, like a `.gz`.
struct NoRestart(Vec<u8>);

impl Write for NoRestart {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Output for NoRestart {
    fn restart(self) -> anyhow::Result<Option<NoRestart>> {
        Ok(None)
    }
}

/// Customers in pages through a spill writer with a direct output; returns the direct
/// output (if complete) and what the final pass writes from the spill.
fn direct_and_final<D: Output>(pages: &[Vec<Customer>], out: D) -> (Option<D>, Vec<u8>) {
    let spill = tempfile::NamedTempFile::new().unwrap();
    let mut w = SpillWriter::new(spill.path(), false, false, Some(out)).unwrap();
    for page in pages {
        for c in page {
            w.write(c, &GroupBook::default()).unwrap();
        }
        w.end_page().unwrap();
    }
    let (ff, direct) = w.finish().unwrap();
    (
        direct,
        write_final(spill.path(), Vec::new(), &ff, false).unwrap(),
    )
}

proptest! {
    /// The output written while the pages arrive is byte for byte what the final pass
    /// writes, however late a form-field column first shows up; an output that cannot
    /// start over is given up exactly when a column shows up after the first page.
    #[test]
    fn direct_output_equals_the_final_pass(
        pages in prop::collection::vec(
            prop::collection::vec(prop::collection::vec((0..5usize, cell()), 0..3), 0..6),
            0..6,
        )
    ) {
        let mut id = 0;
        let pages: Vec<Vec<Customer>> = pages
            .iter()
            .map(|page| {
                page.iter()
                    .map(|fields| {
                        id += 1;
                        Customer {
                            id,
                            email: format!("c{id}@example.com"),
                            form_fields: fields
                                .iter()
                                .map(|(n, v)| FormField { name: format!("f{n}"), value: v.clone() })
                                .collect(),
                            ..Customer::default()
                        }
                    })
                    .collect()
            })
            .collect();
        let (direct, want) = direct_and_final(&pages, Vec::new());
        prop_assert_eq!(direct.as_deref(), Some(want.as_slice()));

        let names = |page: &[Customer]| -> std::collections::HashSet<String> {
            page.iter().flat_map(|c| c.form_fields.iter().map(|f| f.name.clone())).collect()
        };
        let first_page = pages.iter().find(|p| !p.is_empty()).map(|p| names(p)).unwrap_or_default();
        let late = pages.iter().any(|p| !names(p).is_subset(&first_page));
        let (direct, want) = direct_and_final(&pages, NoRestart(Vec::new()));
        match direct {
            Some(out) => {
                prop_assert!(!late);
                prop_assert_eq!(out.0, want);
            }
            None => prop_assert!(late),
        }
    }
}
