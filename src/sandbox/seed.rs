//! Deterministic seeded customers: varied, partly non-ASCII names, unique emails, some
//! companies, phones, store credit, notes (a few with commas, quotes, newlines and
//! formula-like text), dates spread over past years, customer groups, addresses on every third
//! customer, and form fields whose set of names grows with the id (a few rare names only on
//! late ids), as an export of a real store's history would show.
//!
//! Form-field values and passwords are derived from the id instead of stored, and names come
//! from static tables, so a million customers seed in about 2 s (release) and under 1 GiB.

use super::countries;
use super::store::{Address, AddressType, Customer, FormFields, Password, Text};

/// When the seed groups were created (Mon, 04 Jan 2016 09:00:00 +0000).
pub(crate) const SEED_GROUPS_CREATED: i64 = 1_451_898_000;

/// Seeded `date_created` values run, with the id, from 2016-01-05 to 2025-06-01.
const FIRST_CREATED: i64 = 1_451_952_000;
const LAST_CREATED: i64 = 1_748_736_000;

/// The seeded form fields, in the order their names first appear as ids grow.
pub(crate) const FORM_FIELDS: [&str; 8] = [
    "Favourite colour",
    "How did you hear about us?",
    "Birthday",
    "Newsletter topics",
    "Shoe size",
    "Dietary requirements",
    "Referral code",
    "VAT number",
];

/// Per form field: (share of the id range before which nobody has it, probability after).
const FORM_FIELD_ODDS: [(f64, f64); 8] = [
    (0.0, 0.6),
    (0.0, 0.5),
    (0.05, 0.4),
    (0.2, 0.3),
    (0.4, 0.2),
    (0.6, 0.15),
    (0.9, 0.03),
    (0.98, 0.05),
];

const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "Aoife",
    "Mohammed",
    "Chloé",
    "Björn",
    "Ana",
    "Wei",
    "Priya",
    "Olivia",
    "Noah",
    "Emma",
    "Liam",
    "Sofía",
    "Mateo",
    "Hannah",
    "Lukas",
    "Élodie",
    "François",
    "Jürgen",
    "Siobhán",
    "Kenji",
    "Yuki",
    "Fatima",
    "Omar",
    "Ingrid",
    "Nikolaj",
    "Małgorzata",
    "Agnieszka",
    "Thomas",
    "Sarah",
    "David",
    "Laura",
    "Michael",
    "Emily",
    "Daniel",
    "Renée",
    "Zoltán",
    "Çağla",
    "Dmitri",
    "Astrid",
    "Niamh",
    "Raúl",
    "Ines",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "García",
    "Müller",
    "Nowak",
    "Jørgensen",
    "O'Brien",
    "Dubois",
    "Rossi",
    "Kowalski",
    "Nguyen",
    "Johansson",
    "Silva",
    "Fernández",
    "Schröder",
    "Wiśniewski",
    "Brown",
    "Taylor",
    "Wilson",
    "Martin",
    "Lefèvre",
    "Ó Súilleabháin",
    "van der Berg",
    "MacDonald",
    "Novák",
    "Dvořák",
    "Hernández",
    "Patel",
    "Kim",
    "Tanaka",
    "Andersson",
    "Østergaard",
    "Smith-Jones",
    "D'Angelo",
    "Çelik",
    "Yılmaz",
    "Papadopoulos",
    "Jones",
    "Williams",
    "Łęcka",
    "Ruiz",
];

const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "mail.example.net",
    "example.co.uk",
    "example.de",
    "shop.example",
];

const COMPANIES: &[&str] = &[
    "Acme Ltd",
    "Globex GmbH",
    "Initech, Inc.",
    "Umbrella Corp",
    "Müller & Söhne KG",
    "Café Łódź",
    "Soylent S.A.",
    "Hooli",
    "\"Best\" Traders",
    "Nørre Design ApS",
    "Wayne Enterprises",
    "=Formula Supplies",
    "@Home Furnishings",
    "Blue Sky Ventures",
];

const NOTES: &[&str] = &[
    "Prefers email contact",
    "VIP since 2019, call before shipping",
    "Said \"thanks!\" twice on the phone",
    "Delivery notes:\nLeave at reception\nRing twice",
    "Allergic to peanuts; ships to office",
    "Ask for Zoë at reception",
    "=HYPERLINK(\"http://example.com\",\"click\")",
    "Wholesale account, net-30, \"do not\" discount further",
    "Migrated from the old shop",
    "+ prefers phone",
];

const TAX_EXEMPT: &[&str] = &["A", "B", "G", "L"];

const COLOURS: &[&str] = &[
    "Blue", "Green", "Red", "Purple", "Orange", "Teal", "Black", "Yellow", "Zöld",
];
const HEARD_FROM: &[&str] = &[
    "Google",
    "A friend",
    "Instagram",
    "Trade show",
    "Newsletter",
    "Podcast",
    "Other: \"my aunt\"",
];
const TOPICS: &[&str] = &["Sales", "New arrivals", "Sales, New arrivals", "Events"];
const DIETS: &[&str] = &[
    "None",
    "Vegetarian",
    "Vegan",
    "Gluten-free",
    "Nut allergy, lactose intolerant",
];

/// (city, state, zip, country): full country names, as the API wants them.
const LOCATIONS: &[(&str, &str, &str, &str)] = &[
    ("Austin", "Texas", "78726", "United States"),
    ("New York", "New York", "10001", "United States"),
    ("San Francisco", "California", "94105", "United States"),
    ("London", "Greater London", "SW1A 1AA", "United Kingdom"),
    ("Berlin", "Berlin", "10115", "Germany"),
    ("Kraków", "Małopolskie", "30-001", "Poland"),
    ("København", "Hovedstaden", "1050", "Denmark"),
    ("Paris", "Île-de-France", "75001", "France"),
    ("Madrid", "Madrid", "28001", "Spain"),
    ("Toronto", "Ontario", "M5H 2N2", "Canada"),
    ("Sydney", "New South Wales", "2000", "Australia"),
    ("Dublin", "Dublin", "D02 X285", "Ireland"),
    ("Amsterdam", "Noord-Holland", "1012 JS", "Netherlands"),
    ("São Paulo", "São Paulo", "01000-000", "Brazil"),
    ("Zürich", "Zürich", "8001", "Switzerland"),
    ("Auckland", "Auckland", "1010", "New Zealand"),
];

const STREETS: &[&str] = &[
    "Main Street",
    "High Street",
    "Hauptstraße",
    "ul. Floriańska",
    "Rue de Rivoli",
    "Calle Mayor",
    "King's Road",
    "Nørrebrogade",
    "Elm Avenue",
];

/// The password of a seeded customer (letters and digits, at least 7 characters).
pub(crate) fn seeded_password(id: u64) -> String {
    format!("seeded-pass-{id}")
}

/// The value of seeded form field `field` of customer `id`.
pub(crate) fn form_field_value(salt: u64, id: u64, field: usize) -> String {
    let h = mix(salt ^ mix(id.wrapping_mul(31).wrapping_add(field as u64)));
    let pick = |table: &[&str]| table[(h % table.len() as u64) as usize].to_string();
    match field {
        0 => pick(COLOURS),
        1 => pick(HEARD_FROM),
        2 => format!(
            "{}-{:02}-{:02}",
            1950 + h % 56,
            1 + (h >> 8) % 12,
            1 + (h >> 16) % 28
        ),
        3 => pick(TOPICS),
        4 => (36 + h % 12).to_string(),
        5 => pick(DIETS),
        6 => format!("REF-{:05}", h % 100_000),
        _ => format!("GB{:09}", h % 1_000_000_000),
    }
}

/// `count` customers with ids 1..=count, and the addresses of every third one.
pub(crate) fn customers(
    count: usize,
    salt: u64,
    groups_enabled: bool,
) -> (Vec<(u64, Customer)>, Vec<Address>) {
    let mut rng = fastrand::Rng::with_seed(salt);
    let mut customers = Vec::with_capacity(count);
    let mut addresses = Vec::with_capacity(count / 3 + count / 15 + 1);
    let span = (LAST_CREATED - FIRST_CREATED) as f64;
    let step = span / count.max(1) as f64;
    let mut email = String::new();
    for index in 0..count {
        let id = index as u64 + 1;
        let first = FIRST_NAMES[rng.usize(..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.usize(..LAST_NAMES.len())];

        // The draws are made in a fixed order (email, dates, form fields, the other fields,
        // addresses): the seeded store must stay the same for a given seed.
        let email_text = seeded_email(&mut rng, &mut email, first, last, id);
        let created =
            FIRST_CREATED + (index as f64 * step) as i64 + rng.i64(0..=step.max(1.0) as i64);
        let modified = if rng.bool() {
            created
        } else {
            created + rng.i64(0..=(LAST_CREATED - created).max(0))
        };
        let mask = seeded_form_fields(&mut rng, index, count);

        let company = if rng.f64() < 0.3 {
            Text::Borrowed(COMPANIES[rng.usize(..COMPANIES.len())])
        } else {
            Text::Borrowed("")
        };
        let phone = if rng.f64() < 0.7 {
            Text::Owned(phone_number(&mut rng))
        } else {
            Text::Borrowed("")
        };
        let store_credit = if rng.f64() < 0.15 {
            rng.i64(1..50_000) * 100
        } else {
            0
        };
        let customer_group_id = if groups_enabled { rng.u64(0..4) } else { 0 };
        let notes = if rng.f64() < 0.1 {
            Text::Borrowed(NOTES[rng.usize(..NOTES.len())])
        } else {
            Text::Borrowed("")
        };
        let tax_exempt_category = if rng.f64() < 0.03 {
            Text::Borrowed(TAX_EXEMPT[rng.usize(..TAX_EXEMPT.len())])
        } else {
            Text::Borrowed("")
        };
        let registration_ip_address = if rng.f64() < 0.6 {
            Text::Owned(format!("203.0.113.{}", rng.u8(1..255)))
        } else {
            Text::Borrowed("")
        };

        if id.is_multiple_of(3) {
            let owner = (id, first, last, &company, &phone);
            seeded_addresses(&mut rng, &mut addresses, owner);
        }

        customers.push((
            id,
            Customer {
                id,
                first_name: Text::Borrowed(first),
                last_name: Text::Borrowed(last),
                email: Text::Owned(email_text),
                company,
                phone,
                notes,
                registration_ip_address,
                tax_exempt_category,
                store_credit,
                customer_group_id,
                date_created: created,
                date_modified: modified,
                reset_pass_on_login: rng.f64() < 0.02,
                accepts_marketing: rng.f64() < 0.4,
                form_fields: FormFields::Seeded(mask),
                password: Password::Seeded,
            },
        ));
    }
    (customers, addresses)
}

/// The email of a seeded customer: `first.last42@domain`, with `_` or `-` now and then and a
/// few in mixed case, as people type them (to exercise case-insensitive matching).
fn seeded_email(
    rng: &mut fastrand::Rng,
    email: &mut String,
    first: &str,
    last: &str,
    id: u64,
) -> String {
    email.clear();
    let shape = rng.u8(..4);
    push_ascii_fold(email, first);
    email.push(match shape {
        0 => '_',
        1 => '-',
        _ => '.',
    });
    push_ascii_fold(email, last);
    email.push_str(&id.to_string());
    email.push('@');
    email.push_str(DOMAINS[rng.usize(..DOMAINS.len())]);
    if id.is_multiple_of(23) {
        capitalize_words(email)
    } else {
        email.clone()
    }
}

/// Which of [`FORM_FIELDS`] the customer at `index` of `count` has (bit i = field i): later
/// fields appear only in later customers; the last customer has every field.
fn seeded_form_fields(rng: &mut fastrand::Rng, index: usize, count: usize) -> u16 {
    let mut mask: u16 = 0;
    let position = index as f64 / count as f64;
    for (i, (from, odds)) in FORM_FIELD_ODDS.iter().enumerate() {
        if position >= *from && rng.f64() < *odds {
            mask |= 1 << i;
        }
    }
    let wants_fields = rng.f64() < 0.85;
    if !wants_fields {
        mask = 0;
    } else if mask == 0 {
        mask = 1;
    }
    if index + 1 == count {
        mask = (1 << FORM_FIELDS.len()) - 1;
    }
    mask
}

/// The addresses of a seeded customer (one, or two for every fifteenth id), numbered on from
/// those already made. `owner`: id, first and last name, company, phone.
fn seeded_addresses(
    rng: &mut fastrand::Rng,
    addresses: &mut Vec<Address>,
    owner: (u64, &'static str, &'static str, &Text, &Text),
) {
    let (id, first, last, company, phone) = owner;
    let kinds: &[AddressType] = if id.is_multiple_of(15) {
        &[AddressType::Residential, AddressType::Commercial]
    } else {
        &[AddressType::Residential]
    };
    for &address_type in kinds {
        let (city, state, zip, country) = LOCATIONS[rng.usize(..LOCATIONS.len())];
        addresses.push(Address {
            id: addresses.len() as u64 + 1,
            customer_id: id,
            first_name: Text::Borrowed(first),
            last_name: Text::Borrowed(last),
            company: company.clone(),
            street_1: Text::Owned(format!(
                "{} {}",
                rng.u16(1..400),
                STREETS[rng.usize(..STREETS.len())]
            )),
            street_2: if rng.f64() < 0.2 {
                Text::Owned(format!("Apt {}", rng.u16(1..80)))
            } else {
                Text::Borrowed("")
            },
            city: Text::Borrowed(city),
            state: Text::Borrowed(state),
            zip: Text::Borrowed(zip),
            country: Text::Borrowed(country),
            country_iso2: countries::iso2_of(country),
            phone: if phone.is_empty() {
                Text::Owned(phone_number(rng))
            } else {
                phone.clone()
            },
            address_type,
        });
    }
}

fn phone_number(rng: &mut fastrand::Rng) -> String {
    match rng.u8(..4) {
        0 => format!("+44 20 7946 {:04}", rng.u16(..10_000)),
        1 => format!("(555) 010-{:04}", rng.u16(..10_000)),
        2 => format!("+49 30 901820{:02}", rng.u8(..100)),
        _ => format!("+1-512-555-{:04}", rng.u16(..10_000)),
    }
}

/// Lower-case ASCII letters and digits of `text` for an email local part: "José" → "jose",
/// "O'Brien" → "obrien", "Łukasz" → "lukasz".
fn push_ascii_fold(out: &mut String, text: &str) {
    for ch in text.chars().flat_map(char::to_lowercase) {
        let folded = match ch {
            'a'..='z' | '0'..='9' => {
                out.push(ch);
                continue;
            }
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ą' => "a",
            'é' | 'è' | 'ê' | 'ë' | 'ę' => "e",
            'í' | 'ì' | 'î' | 'ï' | 'ı' => "i",
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => "o",
            'ú' | 'ù' | 'û' | 'ü' => "u",
            'ç' | 'č' | 'ć' => "c",
            'ñ' | 'ń' => "n",
            'ł' => "l",
            'ś' | 'š' | 'ş' => "s",
            'ź' | 'ż' | 'ž' => "z",
            'ř' => "r",
            'ğ' => "g",
            'ß' => "ss",
            'æ' => "ae",
            _ => "",
        };
        out.push_str(folded);
    }
}

/// "jose.garcia23@example.com" → "Jose.Garcia23@Example.com".
fn capitalize_words(email: &str) -> String {
    let mut out = String::with_capacity(email.len());
    let mut at_start = true;
    for ch in email.chars() {
        out.push(if at_start {
            ch.to_ascii_uppercase()
        } else {
            ch
        });
        at_start = matches!(ch, '.' | '_' | '-' | '@');
    }
    out
}

/// SplitMix64's finaliser: a cheap, well-mixed hash of a u64.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
