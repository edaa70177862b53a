//! Country and state/province names as the BigCommerce V2 address endpoints want them.
//!
//! V2 addresses take the *full* country name ("United States", not "US") and a spelled-out
//! state ("California", not "CA"). Source platforms export ISO codes (Shopify, WooCommerce,
//! Magento) or names in their own spelling, so presets run every country and state cell through
//! these lookups.
//!
//! Country names follow the ISO 3166-1 English short names in the form BigCommerce's country
//! list uses ("Korea, Republic of", "Russian Federation", "Viet Nam", "Iran, Islamic Republic
//! of"); the names people actually type ("South Korea", "Russia", "Vietnam", "UK", "USA",
//! "Deutschland", ...) are accepted as aliases. Matching ignores case, accents, punctuation and
//! a leading "the", so "côte d’ivoire", "Cote d'Ivoire" and "COTE D IVOIRE" are one country.
//!
//! State tables cover the United States (50 states, DC, territories, freely associated states
//! and the armed-forces "states"), Canada and Australia. Other countries' subdivisions are not
//! known here: `state_name` returns `None` and callers keep the cell as it was.

mod tables;

use std::collections::HashMap;
use std::sync::OnceLock;

use tables::{State, AU_STATES, CA_PROVINCES, COUNTRIES, US_STATES};

/// Full country name as BigCommerce V2 wants it, from an ISO 3166-1 alpha-2 or alpha-3 code or
/// a full or common name (case-insensitive, surrounding spaces ignored). `None` if unknown.
pub fn country_name(input: &str) -> Option<&'static str> {
    country_index(input).map(|i| COUNTRIES[i].name)
}

/// ISO 3166-1 alpha-2 code of a country given by name (or any form `country_name` accepts).
/// `None` if unknown.
pub fn country_code(name: &str) -> Option<&'static str> {
    country_index(name).map(|i| COUNTRIES[i].alpha2)
}

/// Full state or province name for a code (or a name in another spelling) in the United
/// States, Canada or Australia, the country given in any form `country_name` accepts. An
/// ISO 3166-2 prefix ("US-CA", "AU-NSW") is accepted. Full names come back in canonical
/// spelling ("quebec" → "Quebec"). `None` for an unknown state or a country without a table.
pub fn state_name(country: &str, input: &str) -> Option<&'static str> {
    let alpha2 = country_code(country)?;
    let (table, index) = state_tables().get(alpha2)?;
    let mut key = fold(input);
    // "US-CA", "CA-ON", "AU-NSW": ISO 3166-2 codes carry the country in front.
    let prefix = format!("{} ", alpha2.to_ascii_lowercase());
    if let Some(rest) = key.strip_prefix(&prefix) {
        if index.contains_key(rest) {
            key = rest.to_string();
        }
    }
    index.get(&key).map(|&i| table[i].name)
}

/// Lower-cases, drops accents and dots, turns other punctuation into spaces and collapses
/// runs of spaces, so that spelling variants of one name compare equal.
fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for ch in input.trim().chars() {
        let lower: String = ch.to_lowercase().collect();
        for ch in lower.chars() {
            match ch {
                '.' => {}
                '&' => out.push_str(" and "),
                'a'..='z' | '0'..='9' => out.push(ch),
                _ => match ascii_of(ch) {
                    Some(ascii) => out.push_str(ascii),
                    None => out.push(' '),
                },
            }
        }
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.strip_prefix("the ") {
        Some(rest) => rest.to_string(),
        None => collapsed,
    }
}

/// The ASCII letters of a lower-case accented Latin letter.
fn ascii_of(ch: char) -> Option<&'static str> {
    Some(match ch {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' | 'ă' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' => "i",
        'ł' | 'ľ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' => "r",
        'ś' | 'š' | 'ș' | 'ş' => "s",
        'ß' => "ss",
        'ť' | 'ț' | 'ţ' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        // Anything else (apostrophes of every kind, commas, brackets, hyphens) becomes a
        // space, so "d'Ivoire", "d’Ivoire" and "d Ivoire" compare equal.
        _ => return None,
    })
}

fn country_index(input: &str) -> Option<usize> {
    let key = fold(input);
    if key.is_empty() {
        return None;
    }
    country_lookup().get(&key).copied()
}

/// Every folded code, name and alias → index into `COUNTRIES`; built once.
fn country_lookup() -> &'static HashMap<String, usize> {
    static LOOKUP: OnceLock<HashMap<String, usize>> = OnceLock::new();
    LOOKUP.get_or_init(|| {
        let mut map = HashMap::new();
        for (i, country) in COUNTRIES.iter().enumerate() {
            let keys = [country.alpha2, country.alpha3, country.name]
                .into_iter()
                .chain(country.aliases.iter().copied());
            for key in keys {
                map.insert(fold(key), i);
            }
        }
        map
    })
}

type StateIndex = (&'static [State], HashMap<String, usize>);

/// Per country alpha-2: the state table and its folded codes, names and aliases → index.
fn state_tables() -> &'static HashMap<&'static str, StateIndex> {
    static TABLES: OnceLock<HashMap<&'static str, StateIndex>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut tables = HashMap::new();
        for (alpha2, table) in [("US", US_STATES), ("CA", CA_PROVINCES), ("AU", AU_STATES)] {
            let mut index = HashMap::new();
            for (i, state) in table.iter().enumerate() {
                let keys = [state.code, state.name]
                    .into_iter()
                    .chain(state.aliases.iter().copied())
                    .filter(|key| !key.is_empty());
                for key in keys {
                    index.insert(fold(key), i);
                }
            }
            tables.insert(alpha2, (table, index));
        }
        tables
    })
}

#[cfg(test)]
mod tests;
