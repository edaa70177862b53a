//! Country and state names. (Placeholder until the full tables land: a handful of entries.)

const COUNTRIES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("GB", "United Kingdom"),
    ("CA", "Canada"),
    ("AU", "Australia"),
    ("DE", "Germany"),
    ("FR", "France"),
];

pub fn country_name(input: &str) -> Option<&'static str> {
    let i = input.trim();
    COUNTRIES
        .iter()
        .find(|(c, n)| c.eq_ignore_ascii_case(i) || n.eq_ignore_ascii_case(i))
        .map(|(_, n)| *n)
}

pub fn country_code(name: &str) -> Option<&'static str> {
    let i = name.trim();
    COUNTRIES
        .iter()
        .find(|(c, n)| c.eq_ignore_ascii_case(i) || n.eq_ignore_ascii_case(i))
        .map(|(c, _)| *c)
}

pub fn state_name(_country: &str, _input: &str) -> Option<&'static str> {
    None
}
