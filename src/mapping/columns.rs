//! The canonical import columns and how an input header is laid out against them.

use crate::csvio::{normalize_header, unneutralise};

/// A customer field that `import` can write and compare with the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Email,
    FirstName,
    LastName,
    Company,
    Phone,
    StoreCredit,
    CustomerGroupId,
    Notes,
    TaxExemptCategory,
    RegistrationIp,
    /// `force_password_reset` in a file; the API reports it as `reset_pass_on_login`.
    ForceReset,
}

impl Field {
    /// How many fields there are: the length of every per-field array (`[_; Field::COUNT]`).
    /// Discriminants count from 0, so this is the last variant's plus one: a variant added
    /// after `ForceReset` must take its place here, and `ALL` must list it (both checked at
    /// compile time below).
    pub const COUNT: usize = Field::ForceReset as usize + 1;

    /// Every field, in declaration order (`ALL[f.index()] == f`).
    pub const ALL: [Field; Field::COUNT] = [
        Field::Email,
        Field::FirstName,
        Field::LastName,
        Field::Company,
        Field::Phone,
        Field::StoreCredit,
        Field::CustomerGroupId,
        Field::Notes,
        Field::TaxExemptCategory,
        Field::RegistrationIp,
        Field::ForceReset,
    ];

    /// The V2 API's name for the field.
    pub fn api_name(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Company => "company",
            Field::Phone => "phone",
            Field::StoreCredit => "store_credit",
            Field::CustomerGroupId => "customer_group_id",
            Field::Notes => "notes",
            Field::TaxExemptCategory => "tax_exempt_category",
            Field::RegistrationIp => "registration_ip_address",
            Field::ForceReset => "reset_pass_on_login",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

// `Field::ALL` holds each variant at its own index, so no field is missing, listed twice or
// out of order (a per-field array indexed by `f.index()` then has a slot for every field).
const _: () = {
    let mut i = 0;
    while i < Field::COUNT {
        assert!(
            Field::ALL[i] as usize == i,
            "Field::ALL must list the variants in order"
        );
        i += 1;
    }
};

/// The address columns, in the order `Layout::address` indexes them.
pub const ADDRESS_COLUMNS: [&str; 11] = [
    "address_first_name",
    "address_last_name",
    "address_company",
    "address_street_1",
    "address_street_2",
    "address_city",
    "address_state",
    "address_zip",
    "address_country",
    "address_phone",
    "address_type",
];

/// What an input column means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Id,
    Field(Field),
    CustomerGroupName,
    Password,
    PasswordConfirmation,
    /// Index into [`ADDRESS_COLUMNS`].
    Address(usize),
    /// Exported by `export`, read-only in V2: accepted and not sent.
    ReadOnly,
    /// A results-file column (`_row`, `_result`, …) or an empty header: not data.
    Ignored,
    Unknown,
}

/// The writable import columns, in the order a bound mapping outputs them.
pub const WRITABLE_COLUMNS: &[&str] = &[
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "phone",
    "store_credit",
    "customer_group_id",
    "customer_group",
    "notes",
    "tax_exempt_category",
    "registration_ip_address",
    "password",
    "password_confirmation",
    "force_password_reset",
    "address_first_name",
    "address_last_name",
    "address_company",
    "address_street_1",
    "address_street_2",
    "address_city",
    "address_state",
    "address_zip",
    "address_country",
    "address_phone",
    "address_type",
];

/// Columns `import` accepts and does not send (an export has them; the API marks them
/// read-only), besides `form_field:<name>`. `reset_pass_on_login` is read as
/// `force_password_reset`.
pub const READ_ONLY_COLUMNS: &[&str] = &[
    "date_created",
    "date_modified",
    "accepts_marketing",
    "reset_pass_on_login",
];

/// Every name `import` knows (for "did you mean" suggestions).
pub fn known_columns() -> impl Iterator<Item = &'static str> {
    WRITABLE_COLUMNS
        .iter()
        .chain(READ_ONLY_COLUMNS)
        .copied()
        .chain(["form_field:<name>"])
}

pub fn classify(header: &str) -> Column {
    let h = normalize_header(header);
    if h.is_empty() || h.starts_with('_') {
        return Column::Ignored;
    }
    if h.starts_with("form_field:") {
        return Column::ReadOnly;
    }
    if let Some(i) = ADDRESS_COLUMNS.iter().position(|c| *c == h) {
        return Column::Address(i);
    }
    match h.as_str() {
        "id" => Column::Id,
        "email" => Column::Field(Field::Email),
        "first_name" => Column::Field(Field::FirstName),
        "last_name" => Column::Field(Field::LastName),
        "company" => Column::Field(Field::Company),
        "phone" => Column::Field(Field::Phone),
        "store_credit" => Column::Field(Field::StoreCredit),
        "customer_group_id" => Column::Field(Field::CustomerGroupId),
        "customer_group" => Column::CustomerGroupName,
        "notes" => Column::Field(Field::Notes),
        "tax_exempt_category" => Column::Field(Field::TaxExemptCategory),
        "registration_ip_address" => Column::Field(Field::RegistrationIp),
        "force_password_reset" | "reset_pass_on_login" => Column::Field(Field::ForceReset),
        "password" => Column::Password,
        "password_confirmation" => Column::PasswordConfirmation,
        "date_created" | "date_modified" | "accepts_marketing" => Column::ReadOnly,
        _ => Column::Unknown,
    }
}

/// Where each meaningful column sits in the input.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub id: Option<usize>,
    pub fields: [Option<usize>; Field::COUNT],
    pub group_name: Option<usize>,
    pub password: Option<usize>,
    pub password_confirmation: Option<usize>,
    pub address: [Option<usize>; ADDRESS_COLUMNS.len()],
    /// Read-only columns present (said once in the summary).
    pub read_only: Vec<String>,
    /// `form_field:<name>` columns: `(name, index)`, the name as the header spells it.
    pub form_fields: Vec<(String, usize)>,
    pub accepts_marketing: Option<usize>,
    /// The backend writes form fields and `accepts_marketing` (see
    /// [`Layout::for_capabilities`]); otherwise they are read-only columns.
    pub writes_form_fields: bool,
    /// Unknown columns (fatal unless `--ignore-unknown-columns`).
    pub unknown: Vec<String>,
    /// The header that gives `force_password_reset` (it may be `reset_pass_on_login`), for
    /// messages that name the column as the file does.
    pub force_reset_header: String,
    pub width: usize,
    /// Cells are taken as they are. False for the tool's own columns, where exactly one
    /// leading `'` (the formula neutralisation `export` adds) is removed; true for a mapped
    /// record, where the mapping already decided (`strip_leading_quote`).
    pub verbatim: bool,
    /// `--decimal-comma`: amounts are written `1.234,56`.
    pub decimal_comma: bool,
}

impl Layout {
    pub fn new(headers: &csv::StringRecord) -> Layout {
        let mut layout = Layout {
            width: headers.len(),
            ..Layout::default()
        };
        for (i, h) in headers.iter().enumerate() {
            match classify(h) {
                Column::Id => layout.id = layout.id.or(Some(i)),
                // `force_password_reset` and `reset_pass_on_login` may both appear: first wins.
                Column::Field(f) => {
                    if layout.fields[f.index()].is_none() && f == Field::ForceReset {
                        layout.force_reset_header =
                            h.trim().trim_start_matches('\u{feff}').to_string();
                    }
                    layout.fields[f.index()] = layout.fields[f.index()].or(Some(i));
                }
                Column::CustomerGroupName => layout.group_name = Some(i),
                Column::Password => layout.password = Some(i),
                Column::PasswordConfirmation => layout.password_confirmation = Some(i),
                Column::Address(k) => layout.address[k] = Some(i),
                Column::ReadOnly => {
                    let name = h.trim().trim_start_matches('\u{feff}');
                    let normal = normalize_header(h);
                    if normal.starts_with("form_field:") {
                        let field = name.split_once(':').map_or("", |(_, f)| f.trim());
                        let field = field.to_string();
                        layout.form_fields.push((field, i));
                    } else if normal == "accepts_marketing" {
                        layout.accepts_marketing = layout.accepts_marketing.or(Some(i));
                    }
                    layout.read_only.push(h.trim().to_string());
                }
                Column::Ignored => {}
                Column::Unknown => layout.unknown.push(h.trim().to_string()),
            }
        }
        layout
    }

    /// The layout for a backend with `caps`: where form fields and `accepts_marketing` are
    /// writable (Customers V3), they are data, not read-only columns (V2 cannot write them).
    pub fn for_capabilities(mut self, caps: &super::row::Capabilities) -> Layout {
        if caps.writable_form_fields {
            self.writes_form_fields = true;
            self.read_only.retain(|h| {
                let n = normalize_header(h);
                !n.starts_with("form_field:") && n != "accepts_marketing"
            });
        }
        self
    }

    /// A cell as data: without the export's formula-neutralising `'`, unless verbatim.
    pub fn clean<'c>(&self, cell: &'c str) -> &'c str {
        if self.verbatim {
            cell
        } else {
            unneutralise(cell)
        }
    }

    pub fn has(&self, f: Field) -> bool {
        self.fields[f.index()].is_some()
    }

    pub fn has_address(&self) -> bool {
        self.address.iter().any(Option::is_some)
    }

    pub fn has_groups(&self) -> bool {
        self.group_name.is_some() || self.has(Field::CustomerGroupId)
    }
}

/// The known column closest to `name` (for "did you mean").
pub fn closest_known(name: &str) -> Option<&'static str> {
    let n = normalize_header(name).replace([' ', '-'], "_");
    let near = known_columns()
        .map(|k| (levenshtein(&n, k), k))
        .filter(|(d, k)| *d <= (k.len().max(3) / 2))
        .min()
        .map(|(_, k)| k);
    // "Email Address", "E-mail", "Customer Phone": a known name inside the header.
    near.or_else(|| {
        let squashed = n.replace('_', "");
        known_columns()
            .filter(|k| k.len() >= 5 && squashed.contains(&k.replace('_', "")))
            .max_by_key(|k| k.len())
    })
    // "Country", "Zip Code": an address field without the `address_` prefix.
    .or_else(|| {
        ADDRESS_COLUMNS.iter().copied().find(|c| {
            let field = &c["address_".len()..];
            field == n || field.starts_with(&format!("{n}_")) || n.starts_with(&format!("{field}_"))
        })
    })
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests;
