//! Full country names the sandbox recognises, for the read-only `country_iso2` of addresses.
//! The API wants full names ("Must be the full country name"); a name not listed here is still
//! accepted and gets an empty `country_iso2`.

const COUNTRIES: &[(&str, &str)] = &[
    ("Argentina", "AR"),
    ("Australia", "AU"),
    ("Austria", "AT"),
    ("Belgium", "BE"),
    ("Brazil", "BR"),
    ("Canada", "CA"),
    ("Chile", "CL"),
    ("China", "CN"),
    ("Colombia", "CO"),
    ("Czech Republic", "CZ"),
    ("Czechia", "CZ"),
    ("Denmark", "DK"),
    ("Finland", "FI"),
    ("France", "FR"),
    ("Germany", "DE"),
    ("Greece", "GR"),
    ("Hong Kong", "HK"),
    ("Hungary", "HU"),
    ("India", "IN"),
    ("Indonesia", "ID"),
    ("Ireland", "IE"),
    ("Israel", "IL"),
    ("Italy", "IT"),
    ("Japan", "JP"),
    ("Malaysia", "MY"),
    ("Mexico", "MX"),
    ("Netherlands", "NL"),
    ("New Zealand", "NZ"),
    ("Norway", "NO"),
    ("Philippines", "PH"),
    ("Poland", "PL"),
    ("Portugal", "PT"),
    ("Romania", "RO"),
    ("Singapore", "SG"),
    ("South Africa", "ZA"),
    ("South Korea", "KR"),
    ("Spain", "ES"),
    ("Sweden", "SE"),
    ("Switzerland", "CH"),
    ("Thailand", "TH"),
    ("Turkey", "TR"),
    ("Ukraine", "UA"),
    ("United Arab Emirates", "AE"),
    ("United Kingdom", "GB"),
    ("United States", "US"),
    ("Vietnam", "VN"),
];

/// The ISO 3166-1 alpha-2 code of a full country name (case-insensitive), or `""`.
pub(crate) fn iso2_of(name: &str) -> &'static str {
    let name = name.trim();
    COUNTRIES
        .iter()
        .find(|(full, _)| full.eq_ignore_ascii_case(name))
        .map(|(_, iso2)| *iso2)
        .unwrap_or("")
}

/// The full country name of an ISO 3166-1 alpha-2 code (case-insensitive), as V3 writes
/// addresses by `country_code` and stores the name V2 shows; `None` for codes not listed.
pub(crate) fn name_of_iso2(code: &str) -> Option<&'static str> {
    let code = code.trim();
    COUNTRIES
        .iter()
        .find(|(_, iso2)| iso2.eq_ignore_ascii_case(code))
        .map(|(full, _)| *full)
}
