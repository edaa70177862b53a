//! `columns`: list the columns `import` reads (and the other row commands' naming columns),
//! so the name an error suggests can be looked up without the README.

use crate::exit::Exit;
use crate::mapping::columns::{READ_ONLY_COLUMNS, WRITABLE_COLUMNS};

/// List the input columns.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {}

/// What each writable column holds, in [`WRITABLE_COLUMNS`] order.
const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "id",
        "a BigCommerce customer id: the row updates that customer",
    ),
    (
        "email",
        "the customer's email; matches an existing customer (case-insensitive) when id is blank",
    ),
    ("first_name", "required to create a customer"),
    ("last_name", "required to create a customer"),
    ("company", ""),
    ("phone", ""),
    (
        "store_credit",
        "an amount: 12.50, $1,234.56, 12.50 € (with --decimal-comma: 1.234,56)",
    ),
    (
        "customer_group_id",
        "a group id (0 = no group); wins over customer_group",
    ),
    (
        "customer_group",
        "a group name (see --create-missing-groups)",
    ),
    ("notes", ""),
    ("tax_exempt_category", "your tax provider's code, e.g. E"),
    ("registration_ip_address", ""),
    (
        "password",
        "set when the customer is created (on existing ones only with --update-passwords)",
    ),
    ("password_confirmation", "must equal password when given"),
    (
        "force_password_reset",
        "true/false (reset_pass_on_login, as exported, is the same column)",
    ),
    ("address_first_name", "blank: the customer's first_name"),
    ("address_last_name", "blank: the customer's last_name"),
    ("address_company", ""),
    ("address_street_1", ""),
    ("address_street_2", ""),
    ("address_city", ""),
    (
        "address_state",
        "full name or code; required for the US, Canada and Australia",
    ),
    ("address_zip", ""),
    ("address_country", "full name or ISO code"),
    ("address_phone", "blank: the customer's phone"),
    ("address_type", "residential or commercial"),
];

pub fn run(_args: Args) -> anyhow::Result<Exit> {
    print!("{}", render());
    Ok(Exit::Ok)
}

fn render() -> String {
    let mut out = String::from(
        "Columns of `import` (header names match ignoring case, surrounding spaces and\n\
         _ - space differences: \"First Name\" = first_name):\n\n",
    );
    let width = WRITABLE_COLUMNS.iter().map(|c| c.len()).max().unwrap_or(0);
    for name in WRITABLE_COLUMNS {
        let what = DESCRIPTIONS
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, d)| *d);
        let line = format!("  {name:width$}  {what}");
        out.push_str(line.trim_end());
        out.push('\n');
        if *name == "force_password_reset" {
            out.push_str("\n  The row's address (added unless the customer has it already):\n");
        }
    }
    out.push_str(&format!(
        "\nAccepted and not sent (the V2 API cannot write them): {}, form_field:<name>.\n",
        READ_ONLY_COLUMNS
            .iter()
            .filter(|c| **c != "reset_pass_on_login")
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(
        "Columns starting with _ (a results file's own: _row, _result, ...) are ignored.\n\
         Any other column is an error unless --ignore-unknown-columns; another platform's export\n\
         is read with --preset shopify|woocommerce|magento|bigcommerce or --mapping FILE.\n\n\
         set-group, delete and validate-password read id (or customer_id) and/or email;\n\
         validate-password also password.\n\n\
         Every input file: --encoding auto|utf-8|windows-1252|latin-1|utf-16, --delimiter\n\
         auto|,|;|tab|'|' (auto: sniffed from the header line).\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_writable_column_is_listed_and_described_in_order() {
        let names: Vec<&str> = DESCRIPTIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, WRITABLE_COLUMNS);
        let text = render();
        for c in WRITABLE_COLUMNS
            .iter()
            .chain(["date_created", "form_field:<name>"].iter())
        {
            assert!(text.contains(c), "{c}");
        }
    }

    /// The addresses file of `export` names the address fields as the import's address
    /// columns do, less the `address_` prefix, in the same order (so one name means one
    /// field, and a backup's addresses map back column for column).
    #[test]
    fn the_addresses_file_names_the_import_address_columns() {
        use crate::cmd::export::ADDRESSES_FILE_COLUMNS;
        use crate::mapping::columns::ADDRESS_COLUMNS;
        let exported: Vec<&str> = ADDRESSES_FILE_COLUMNS
            .iter()
            .copied()
            .filter(|c| !matches!(*c, "customer_id" | "customer_email" | "address_id"))
            .filter(|c| *c != "country_iso2")
            .collect();
        let imported: Vec<&str> = ADDRESS_COLUMNS
            .iter()
            .map(|c| match *c {
                "address_type" => "address_type",
                c => c.strip_prefix("address_").unwrap(),
            })
            .collect();
        assert_eq!(exported, imported);
    }
}
