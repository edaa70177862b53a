//! Unit tests of `countries` (a child module, so private items stay reachable).

use super::*;
use std::collections::HashSet;

#[test]
fn every_iso_country_is_listed_once() {
    assert_eq!(COUNTRIES.len(), 249);
    let alpha2: HashSet<_> = COUNTRIES.iter().map(|c| c.alpha2).collect();
    let alpha3: HashSet<_> = COUNTRIES.iter().map(|c| c.alpha3).collect();
    let names: HashSet<_> = COUNTRIES.iter().map(|c| c.name).collect();
    assert_eq!(alpha2.len(), 249);
    assert_eq!(alpha3.len(), 249);
    assert_eq!(names.len(), 249);
    for country in COUNTRIES {
        assert_eq!(country.alpha2.len(), 2, "{}", country.name);
        assert_eq!(country.alpha3.len(), 3, "{}", country.name);
    }
}

#[test]
fn no_two_countries_share_a_lookup_key() {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for country in COUNTRIES {
        let keys = [country.alpha2, country.alpha3, country.name]
            .into_iter()
            .chain(country.aliases.iter().copied());
        for key in keys {
            if let Some(other) = seen.insert(fold(key), country.name) {
                assert_eq!(other, country.name, "key {key:?} is ambiguous");
            }
        }
    }
}

#[test]
fn no_two_states_share_a_lookup_key() {
    for table in [US_STATES, CA_PROVINCES, AU_STATES] {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for state in table {
            let keys = [state.code, state.name]
                .into_iter()
                .chain(state.aliases.iter().copied())
                .filter(|key| !key.is_empty());
            for key in keys {
                if let Some(other) = seen.insert(fold(key), state.name) {
                    assert_eq!(other, state.name, "key {key:?} is ambiguous");
                }
            }
        }
    }
}

#[test]
fn every_name_maps_to_itself_and_its_codes_to_it() {
    for country in COUNTRIES {
        assert_eq!(country_name(country.name), Some(country.name));
        assert_eq!(country_name(country.alpha2), Some(country.name));
        assert_eq!(country_name(country.alpha3), Some(country.name));
        assert_eq!(country_code(country.name), Some(country.alpha2));
    }
}

#[test]
fn country_codes_and_aliases() {
    for input in [
        "US",
        "us",
        " USA ",
        "usa",
        "U.S.A.",
        "United States",
        "united states of america",
        "UNITED STATES",
    ] {
        assert_eq!(country_name(input), Some("United States"), "{input}");
    }
    for input in [
        "GB",
        "GBR",
        "UK",
        "uk",
        "Great Britain",
        "England",
        "united kingdom",
    ] {
        assert_eq!(country_name(input), Some("United Kingdom"), "{input}");
    }
    assert_eq!(country_name("AU"), Some("Australia"));
    assert_eq!(country_name("CA"), Some("Canada"));
    assert_eq!(country_name("Deutschland"), Some("Germany"));
    assert_eq!(country_name("DEU"), Some("Germany"));
    assert_eq!(country_name("South Korea"), Some("Korea, Republic of"));
    assert_eq!(
        country_name("korea republic of"),
        Some("Korea, Republic of")
    );
    assert_eq!(country_name("Russia"), Some("Russian Federation"));
    assert_eq!(country_name("Vietnam"), Some("Viet Nam"));
    assert_eq!(country_name("VN"), Some("Viet Nam"));
    assert_eq!(country_name("The Netherlands"), Some("Netherlands"));
    assert_eq!(country_name("côte d’ivoire"), Some("Cote d'Ivoire"));
    assert_eq!(country_name("Ivory Coast"), Some("Cote d'Ivoire"));
    assert_eq!(country_name("Reunion"), Some("Réunion"));
    assert_eq!(country_name("Curacao"), Some("Curaçao"));
    assert_eq!(
        country_name("Trinidad & Tobago"),
        Some("Trinidad and Tobago")
    );
    assert_eq!(country_name("Türkiye"), Some("Turkey"));
    assert_eq!(country_name("Czechia"), Some("Czech Republic"));
    assert_eq!(country_name("Eswatini"), Some("Swaziland"));
    assert_eq!(
        country_name("North Macedonia"),
        Some("Macedonia, the Former Yugoslav Republic of")
    );
}

#[test]
fn unknown_countries_are_none() {
    for input in ["", "  ", "XX", "Atlantis", "U", "ZZZ", "Kosovo"] {
        assert_eq!(country_name(input), None, "{input}");
        assert_eq!(country_code(input), None, "{input}");
    }
}

#[test]
fn country_code_is_the_inverse() {
    assert_eq!(country_code("United States"), Some("US"));
    assert_eq!(country_code("United Kingdom"), Some("GB"));
    assert_eq!(country_code("Viet Nam"), Some("VN"));
    assert_eq!(country_code("korea, republic of"), Some("KR"));
    assert_eq!(country_code("Australia"), Some("AU"));
}

#[test]
fn us_states_and_territories() {
    assert_eq!(state_name("US", "CA"), Some("California"));
    assert_eq!(state_name("United States", "ny"), Some("New York"));
    assert_eq!(state_name("USA", " tx "), Some("Texas"));
    assert_eq!(state_name("us", "US-WA"), Some("Washington"));
    assert_eq!(state_name("US", "DC"), Some("District of Columbia"));
    assert_eq!(
        state_name("US", "Washington D.C."),
        Some("District of Columbia")
    );
    assert_eq!(state_name("US", "PR"), Some("Puerto Rico"));
    assert_eq!(state_name("US", "GU"), Some("Guam"));
    assert_eq!(state_name("US", "AE"), Some("Armed Forces Europe"));
    assert_eq!(
        state_name("US", "armed forces africa"),
        Some("Armed Forces Africa")
    );
    assert_eq!(state_name("US", "california"), Some("California"));
    assert_eq!(state_name("US", "NEW YORK"), Some("New York"));
    let states = US_STATES.iter().filter(|s| s.code.len() == 2).count();
    assert!(states >= 50 + 1 + 6, "{states}");
}

#[test]
fn canadian_provinces_and_territories() {
    assert_eq!(state_name("CA", "ON"), Some("Ontario"));
    assert_eq!(state_name("Canada", "qc"), Some("Quebec"));
    assert_eq!(state_name("CAN", "Québec"), Some("Quebec"));
    assert_eq!(state_name("CA", "PQ"), Some("Quebec"));
    assert_eq!(state_name("CA", "NL"), Some("Newfoundland and Labrador"));
    assert_eq!(state_name("CA", "YT"), Some("Yukon"));
    assert_eq!(state_name("CA", "NU"), Some("Nunavut"));
    assert_eq!(state_name("CA", "CA-BC"), Some("British Columbia"));
    assert_eq!(CA_PROVINCES.len(), 13);
}

#[test]
fn australian_states_and_territories() {
    assert_eq!(state_name("AU", "NSW"), Some("New South Wales"));
    assert_eq!(state_name("Australia", "vic"), Some("Victoria"));
    assert_eq!(state_name("AUS", "QLD"), Some("Queensland"));
    assert_eq!(
        state_name("AU", "ACT"),
        Some("Australian Capital Territory")
    );
    assert_eq!(state_name("AU", "AU-TAS"), Some("Tasmania"));
    assert_eq!(
        state_name("AU", "western australia"),
        Some("Western Australia")
    );
    // The same code means different things in different countries.
    assert_eq!(state_name("AU", "WA"), Some("Western Australia"));
    assert_eq!(state_name("US", "WA"), Some("Washington"));
    assert_eq!(state_name("AU", "NT"), Some("Northern Territory"));
    assert_eq!(state_name("CA", "NT"), Some("Northwest Territories"));
}

#[test]
fn unknown_states_and_countries_without_tables_are_none() {
    assert_eq!(state_name("US", "ZZ"), None);
    assert_eq!(state_name("US", ""), None);
    assert_eq!(state_name("", "CA"), None);
    assert_eq!(state_name("Atlantis", "CA"), None);
    assert_eq!(state_name("DE", "BY"), None);
    assert_eq!(state_name("AU", "ON"), None);
}
