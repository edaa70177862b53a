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

use std::collections::HashMap;
use std::sync::OnceLock;

/// One ISO 3166-1 country: alpha-2, alpha-3, the name to send to BigCommerce, other names.
struct Country {
    alpha2: &'static str,
    alpha3: &'static str,
    name: &'static str,
    aliases: &'static [&'static str],
}

const fn c(
    alpha2: &'static str,
    alpha3: &'static str,
    name: &'static str,
    aliases: &'static [&'static str],
) -> Country {
    Country {
        alpha2,
        alpha3,
        name,
        aliases,
    }
}

/// Every ISO 3166-1 country, in alpha-2 order.
static COUNTRIES: &[Country] = &[
    c("AD", "AND", "Andorra", &[]),
    c("AE", "ARE", "United Arab Emirates", &["UAE", "Emirates"]),
    c("AF", "AFG", "Afghanistan", &[]),
    c("AG", "ATG", "Antigua and Barbuda", &["Antigua"]),
    c("AI", "AIA", "Anguilla", &[]),
    c("AL", "ALB", "Albania", &[]),
    c("AM", "ARM", "Armenia", &[]),
    c("AO", "AGO", "Angola", &[]),
    c("AQ", "ATA", "Antarctica", &[]),
    c("AR", "ARG", "Argentina", &[]),
    c("AS", "ASM", "American Samoa", &[]),
    c("AT", "AUT", "Austria", &["Österreich"]),
    c("AU", "AUS", "Australia", &[]),
    c("AW", "ABW", "Aruba", &[]),
    c("AX", "ALA", "Åland Islands", &["Aland"]),
    c("AZ", "AZE", "Azerbaijan", &[]),
    c(
        "BA",
        "BIH",
        "Bosnia and Herzegovina",
        &["Bosnia", "Bosnia-Herzegovina"],
    ),
    c("BB", "BRB", "Barbados", &[]),
    c("BD", "BGD", "Bangladesh", &[]),
    c("BE", "BEL", "Belgium", &["België", "Belgique", "Belgien"]),
    c("BF", "BFA", "Burkina Faso", &[]),
    c("BG", "BGR", "Bulgaria", &[]),
    c("BH", "BHR", "Bahrain", &[]),
    c("BI", "BDI", "Burundi", &[]),
    c("BJ", "BEN", "Benin", &[]),
    c(
        "BL",
        "BLM",
        "Saint Barthélemy",
        &["St Barthélemy", "St Barts", "Saint Barts"],
    ),
    c("BM", "BMU", "Bermuda", &[]),
    c("BN", "BRN", "Brunei Darussalam", &["Brunei"]),
    c("BO", "BOL", "Bolivia", &["Bolivia, Plurinational State of"]),
    c(
        "BQ",
        "BES",
        "Bonaire, Sint Eustatius and Saba",
        &["Caribbean Netherlands", "Bonaire"],
    ),
    c("BR", "BRA", "Brazil", &["Brasil"]),
    c("BS", "BHS", "Bahamas", &[]),
    c("BT", "BTN", "Bhutan", &[]),
    c("BV", "BVT", "Bouvet Island", &[]),
    c("BW", "BWA", "Botswana", &[]),
    c("BY", "BLR", "Belarus", &[]),
    c("BZ", "BLZ", "Belize", &[]),
    c("CA", "CAN", "Canada", &[]),
    c("CC", "CCK", "Cocos (Keeling) Islands", &["Cocos Islands"]),
    c(
        "CD",
        "COD",
        "Congo, the Democratic Republic of the",
        &[
            "Democratic Republic of the Congo",
            "DR Congo",
            "DRC",
            "Congo-Kinshasa",
        ],
    ),
    c("CF", "CAF", "Central African Republic", &[]),
    c(
        "CG",
        "COG",
        "Congo",
        &["Republic of the Congo", "Congo-Brazzaville"],
    ),
    c(
        "CH",
        "CHE",
        "Switzerland",
        &["Schweiz", "Suisse", "Svizzera"],
    ),
    c(
        "CI",
        "CIV",
        "Cote d'Ivoire",
        &["Côte d'Ivoire", "Ivory Coast"],
    ),
    c("CK", "COK", "Cook Islands", &[]),
    c("CL", "CHL", "Chile", &[]),
    c("CM", "CMR", "Cameroon", &[]),
    c("CN", "CHN", "China", &["People's Republic of China", "PRC"]),
    c("CO", "COL", "Colombia", &[]),
    c("CR", "CRI", "Costa Rica", &[]),
    c("CU", "CUB", "Cuba", &[]),
    c("CV", "CPV", "Cape Verde", &["Cabo Verde"]),
    c("CW", "CUW", "Curaçao", &[]),
    c("CX", "CXR", "Christmas Island", &[]),
    c("CY", "CYP", "Cyprus", &[]),
    c("CZ", "CZE", "Czech Republic", &["Czechia", "Česko"]),
    c("DE", "DEU", "Germany", &["Deutschland"]),
    c("DJ", "DJI", "Djibouti", &[]),
    c("DK", "DNK", "Denmark", &["Danmark"]),
    c("DM", "DMA", "Dominica", &[]),
    c("DO", "DOM", "Dominican Republic", &[]),
    c("DZ", "DZA", "Algeria", &[]),
    c("EC", "ECU", "Ecuador", &[]),
    c("EE", "EST", "Estonia", &["Eesti"]),
    c("EG", "EGY", "Egypt", &[]),
    c("EH", "ESH", "Western Sahara", &[]),
    c("ER", "ERI", "Eritrea", &[]),
    c("ES", "ESP", "Spain", &["España"]),
    c("ET", "ETH", "Ethiopia", &[]),
    c("FI", "FIN", "Finland", &["Suomi"]),
    c("FJ", "FJI", "Fiji", &[]),
    c(
        "FK",
        "FLK",
        "Falkland Islands (Malvinas)",
        &["Falkland Islands", "Falklands"],
    ),
    c(
        "FM",
        "FSM",
        "Micronesia, Federated States of",
        &["Micronesia", "Federated States of Micronesia"],
    ),
    c("FO", "FRO", "Faroe Islands", &["Faroes"]),
    c("FR", "FRA", "France", &[]),
    c("GA", "GAB", "Gabon", &[]),
    c(
        "GB",
        "GBR",
        "United Kingdom",
        &[
            "UK",
            "U.K.",
            "Great Britain",
            "Britain",
            "England",
            "Scotland",
            "Wales",
            "Northern Ireland",
            "United Kingdom of Great Britain and Northern Ireland",
        ],
    ),
    c("GD", "GRD", "Grenada", &[]),
    c("GE", "GEO", "Georgia", &[]),
    c("GF", "GUF", "French Guiana", &[]),
    c("GG", "GGY", "Guernsey", &[]),
    c("GH", "GHA", "Ghana", &[]),
    c("GI", "GIB", "Gibraltar", &[]),
    c("GL", "GRL", "Greenland", &[]),
    c("GM", "GMB", "Gambia", &[]),
    c("GN", "GIN", "Guinea", &[]),
    c("GP", "GLP", "Guadeloupe", &[]),
    c("GQ", "GNQ", "Equatorial Guinea", &[]),
    c("GR", "GRC", "Greece", &["Hellas"]),
    c(
        "GS",
        "SGS",
        "South Georgia and the South Sandwich Islands",
        &["South Georgia"],
    ),
    c("GT", "GTM", "Guatemala", &[]),
    c("GU", "GUM", "Guam", &[]),
    c("GW", "GNB", "Guinea-Bissau", &[]),
    c("GY", "GUY", "Guyana", &[]),
    c(
        "HK",
        "HKG",
        "Hong Kong",
        &["Hong Kong SAR", "Hong Kong SAR China"],
    ),
    c(
        "HM",
        "HMD",
        "Heard Island and McDonald Islands",
        &["Heard and McDonald Islands"],
    ),
    c("HN", "HND", "Honduras", &[]),
    c("HR", "HRV", "Croatia", &["Hrvatska"]),
    c("HT", "HTI", "Haiti", &[]),
    c("HU", "HUN", "Hungary", &["Magyarország"]),
    c("ID", "IDN", "Indonesia", &[]),
    c(
        "IE",
        "IRL",
        "Ireland",
        &["Republic of Ireland", "Éire", "Eire"],
    ),
    c("IL", "ISR", "Israel", &[]),
    c("IM", "IMN", "Isle of Man", &[]),
    c("IN", "IND", "India", &[]),
    c("IO", "IOT", "British Indian Ocean Territory", &[]),
    c("IQ", "IRQ", "Iraq", &[]),
    c("IR", "IRN", "Iran, Islamic Republic of", &["Iran"]),
    c("IS", "ISL", "Iceland", &["Ísland"]),
    c("IT", "ITA", "Italy", &["Italia"]),
    c("JE", "JEY", "Jersey", &[]),
    c("JM", "JAM", "Jamaica", &[]),
    c("JO", "JOR", "Jordan", &[]),
    c("JP", "JPN", "Japan", &[]),
    c("KE", "KEN", "Kenya", &[]),
    c("KG", "KGZ", "Kyrgyzstan", &[]),
    c("KH", "KHM", "Cambodia", &[]),
    c("KI", "KIR", "Kiribati", &[]),
    c("KM", "COM", "Comoros", &[]),
    c(
        "KN",
        "KNA",
        "Saint Kitts and Nevis",
        &["St Kitts and Nevis", "St Kitts & Nevis"],
    ),
    c(
        "KP",
        "PRK",
        "Korea, Democratic People's Republic of",
        &["North Korea", "DPRK"],
    ),
    c(
        "KR",
        "KOR",
        "Korea, Republic of",
        &["South Korea", "Korea", "Republic of Korea"],
    ),
    c("KW", "KWT", "Kuwait", &[]),
    c("KY", "CYM", "Cayman Islands", &[]),
    c("KZ", "KAZ", "Kazakhstan", &[]),
    c("LA", "LAO", "Lao People's Democratic Republic", &["Laos"]),
    c("LB", "LBN", "Lebanon", &[]),
    c("LC", "LCA", "Saint Lucia", &["St Lucia"]),
    c("LI", "LIE", "Liechtenstein", &[]),
    c("LK", "LKA", "Sri Lanka", &[]),
    c("LR", "LBR", "Liberia", &[]),
    c("LS", "LSO", "Lesotho", &[]),
    c("LT", "LTU", "Lithuania", &[]),
    c("LU", "LUX", "Luxembourg", &[]),
    c("LV", "LVA", "Latvia", &[]),
    c("LY", "LBY", "Libyan Arab Jamahiriya", &["Libya"]),
    c("MA", "MAR", "Morocco", &[]),
    c("MC", "MCO", "Monaco", &[]),
    c("MD", "MDA", "Moldova, Republic of", &["Moldova"]),
    c("ME", "MNE", "Montenegro", &[]),
    c(
        "MF",
        "MAF",
        "Saint Martin (French part)",
        &["Saint Martin", "St Martin"],
    ),
    c("MG", "MDG", "Madagascar", &[]),
    c("MH", "MHL", "Marshall Islands", &[]),
    c(
        "MK",
        "MKD",
        "Macedonia, the Former Yugoslav Republic of",
        &["North Macedonia", "Macedonia"],
    ),
    c("ML", "MLI", "Mali", &[]),
    c("MM", "MMR", "Myanmar", &["Burma"]),
    c("MN", "MNG", "Mongolia", &[]),
    c("MO", "MAC", "Macao", &["Macau", "Macao SAR China"]),
    c("MP", "MNP", "Northern Mariana Islands", &[]),
    c("MQ", "MTQ", "Martinique", &[]),
    c("MR", "MRT", "Mauritania", &[]),
    c("MS", "MSR", "Montserrat", &[]),
    c("MT", "MLT", "Malta", &[]),
    c("MU", "MUS", "Mauritius", &[]),
    c("MV", "MDV", "Maldives", &[]),
    c("MW", "MWI", "Malawi", &[]),
    c("MX", "MEX", "Mexico", &["México"]),
    c("MY", "MYS", "Malaysia", &[]),
    c("MZ", "MOZ", "Mozambique", &[]),
    c("NA", "NAM", "Namibia", &[]),
    c("NC", "NCL", "New Caledonia", &[]),
    c("NE", "NER", "Niger", &[]),
    c("NF", "NFK", "Norfolk Island", &[]),
    c("NG", "NGA", "Nigeria", &[]),
    c("NI", "NIC", "Nicaragua", &[]),
    c(
        "NL",
        "NLD",
        "Netherlands",
        &["Holland", "Nederland", "Netherlands, Kingdom of the"],
    ),
    c("NO", "NOR", "Norway", &["Norge"]),
    c("NP", "NPL", "Nepal", &[]),
    c("NR", "NRU", "Nauru", &[]),
    c("NU", "NIU", "Niue", &[]),
    c("NZ", "NZL", "New Zealand", &["Aotearoa"]),
    c("OM", "OMN", "Oman", &[]),
    c("PA", "PAN", "Panama", &["Panamá"]),
    c("PE", "PER", "Peru", &["Perú"]),
    c("PF", "PYF", "French Polynesia", &[]),
    c("PG", "PNG", "Papua New Guinea", &[]),
    c("PH", "PHL", "Philippines", &[]),
    c("PK", "PAK", "Pakistan", &[]),
    c("PL", "POL", "Poland", &["Polska"]),
    c(
        "PM",
        "SPM",
        "Saint Pierre and Miquelon",
        &["St Pierre and Miquelon"],
    ),
    c("PN", "PCN", "Pitcairn", &["Pitcairn Islands"]),
    c("PR", "PRI", "Puerto Rico", &[]),
    c(
        "PS",
        "PSE",
        "Palestinian Territory, Occupied",
        &["Palestine", "State of Palestine", "Palestine, State of"],
    ),
    c("PT", "PRT", "Portugal", &[]),
    c("PW", "PLW", "Palau", &[]),
    c("PY", "PRY", "Paraguay", &[]),
    c("QA", "QAT", "Qatar", &[]),
    c("RE", "REU", "Réunion", &[]),
    c("RO", "ROU", "Romania", &["România"]),
    c("RS", "SRB", "Serbia", &[]),
    c("RU", "RUS", "Russian Federation", &["Russia"]),
    c("RW", "RWA", "Rwanda", &[]),
    c("SA", "SAU", "Saudi Arabia", &["KSA"]),
    c("SB", "SLB", "Solomon Islands", &[]),
    c("SC", "SYC", "Seychelles", &[]),
    c("SD", "SDN", "Sudan", &[]),
    c("SE", "SWE", "Sweden", &["Sverige"]),
    c("SG", "SGP", "Singapore", &[]),
    c(
        "SH",
        "SHN",
        "Saint Helena",
        &["Saint Helena, Ascension and Tristan da Cunha", "St Helena"],
    ),
    c("SI", "SVN", "Slovenia", &["Slovenija"]),
    c("SJ", "SJM", "Svalbard and Jan Mayen", &[]),
    c("SK", "SVK", "Slovakia", &["Slovak Republic", "Slovensko"]),
    c("SL", "SLE", "Sierra Leone", &[]),
    c("SM", "SMR", "San Marino", &[]),
    c("SN", "SEN", "Senegal", &[]),
    c("SO", "SOM", "Somalia", &[]),
    c("SR", "SUR", "Suriname", &["Surinam"]),
    c("SS", "SSD", "South Sudan", &[]),
    c(
        "ST",
        "STP",
        "Sao Tome and Principe",
        &["São Tomé and Príncipe"],
    ),
    c("SV", "SLV", "El Salvador", &[]),
    c("SX", "SXM", "Sint Maarten (Dutch part)", &["Sint Maarten"]),
    c("SY", "SYR", "Syrian Arab Republic", &["Syria"]),
    c("SZ", "SWZ", "Swaziland", &["Eswatini"]),
    c("TC", "TCA", "Turks and Caicos Islands", &[]),
    c("TD", "TCD", "Chad", &[]),
    c("TF", "ATF", "French Southern Territories", &[]),
    c("TG", "TGO", "Togo", &[]),
    c("TH", "THA", "Thailand", &[]),
    c("TJ", "TJK", "Tajikistan", &[]),
    c("TK", "TKL", "Tokelau", &[]),
    c("TL", "TLS", "Timor-Leste", &["East Timor"]),
    c("TM", "TKM", "Turkmenistan", &[]),
    c("TN", "TUN", "Tunisia", &[]),
    c("TO", "TON", "Tonga", &[]),
    c("TR", "TUR", "Turkey", &["Türkiye"]),
    c("TT", "TTO", "Trinidad and Tobago", &["Trinidad"]),
    c("TV", "TUV", "Tuvalu", &[]),
    c(
        "TW",
        "TWN",
        "Taiwan",
        &["Taiwan, Province of China", "Republic of China"],
    ),
    c("TZ", "TZA", "Tanzania, United Republic of", &["Tanzania"]),
    c("UA", "UKR", "Ukraine", &[]),
    c("UG", "UGA", "Uganda", &[]),
    c(
        "UM",
        "UMI",
        "United States Minor Outlying Islands",
        &["US Minor Outlying Islands"],
    ),
    c(
        "US",
        "USA",
        "United States",
        &["United States of America", "U.S.", "U.S.A.", "America"],
    ),
    c("UY", "URY", "Uruguay", &[]),
    c("UZ", "UZB", "Uzbekistan", &[]),
    c(
        "VA",
        "VAT",
        "Holy See (Vatican City State)",
        &["Vatican", "Vatican City", "Holy See"],
    ),
    c(
        "VC",
        "VCT",
        "Saint Vincent and the Grenadines",
        &["St Vincent and the Grenadines"],
    ),
    c(
        "VE",
        "VEN",
        "Venezuela",
        &["Venezuela, Bolivarian Republic of"],
    ),
    c(
        "VG",
        "VGB",
        "Virgin Islands, British",
        &["British Virgin Islands", "BVI"],
    ),
    c(
        "VI",
        "VIR",
        "Virgin Islands, U.S.",
        &[
            "US Virgin Islands",
            "U.S. Virgin Islands",
            "United States Virgin Islands",
        ],
    ),
    c("VN", "VNM", "Viet Nam", &["Vietnam"]),
    c("VU", "VUT", "Vanuatu", &[]),
    c("WF", "WLF", "Wallis and Futuna", &[]),
    c("WS", "WSM", "Samoa", &[]),
    c("YE", "YEM", "Yemen", &[]),
    c("YT", "MYT", "Mayotte", &[]),
    c("ZA", "ZAF", "South Africa", &["RSA"]),
    c("ZM", "ZMB", "Zambia", &[]),
    c("ZW", "ZWE", "Zimbabwe", &[]),
];

/// A state or province: its postal code (empty when it has none of its own), its name, other names.
struct State {
    code: &'static str,
    name: &'static str,
    aliases: &'static [&'static str],
}

const fn s(code: &'static str, name: &'static str, aliases: &'static [&'static str]) -> State {
    State {
        code,
        name,
        aliases,
    }
}

/// USPS codes. The armed-forces "states" share three codes between six names (AE covers
/// Europe, Africa, Canada and the Middle East); the code gives the usual name and the other
/// names still pass through normalised.
static US_STATES: &[State] = &[
    s("AL", "Alabama", &[]),
    s("AK", "Alaska", &[]),
    s("AZ", "Arizona", &[]),
    s("AR", "Arkansas", &[]),
    s("CA", "California", &[]),
    s("CO", "Colorado", &[]),
    s("CT", "Connecticut", &[]),
    s("DE", "Delaware", &[]),
    s(
        "DC",
        "District of Columbia",
        &["Washington DC", "Washington D.C.", "D.C."],
    ),
    s("FL", "Florida", &[]),
    s("GA", "Georgia", &[]),
    s("HI", "Hawaii", &["Hawaiʻi", "Hawai'i"]),
    s("ID", "Idaho", &[]),
    s("IL", "Illinois", &[]),
    s("IN", "Indiana", &[]),
    s("IA", "Iowa", &[]),
    s("KS", "Kansas", &[]),
    s("KY", "Kentucky", &[]),
    s("LA", "Louisiana", &[]),
    s("ME", "Maine", &[]),
    s("MD", "Maryland", &[]),
    s("MA", "Massachusetts", &[]),
    s("MI", "Michigan", &[]),
    s("MN", "Minnesota", &[]),
    s("MS", "Mississippi", &[]),
    s("MO", "Missouri", &[]),
    s("MT", "Montana", &[]),
    s("NE", "Nebraska", &[]),
    s("NV", "Nevada", &[]),
    s("NH", "New Hampshire", &[]),
    s("NJ", "New Jersey", &[]),
    s("NM", "New Mexico", &[]),
    s("NY", "New York", &[]),
    s("NC", "North Carolina", &[]),
    s("ND", "North Dakota", &[]),
    s("OH", "Ohio", &[]),
    s("OK", "Oklahoma", &[]),
    s("OR", "Oregon", &[]),
    s("PA", "Pennsylvania", &[]),
    s("RI", "Rhode Island", &[]),
    s("SC", "South Carolina", &[]),
    s("SD", "South Dakota", &[]),
    s("TN", "Tennessee", &[]),
    s("TX", "Texas", &[]),
    s("UT", "Utah", &[]),
    s("VT", "Vermont", &[]),
    s("VA", "Virginia", &[]),
    s("WA", "Washington", &[]),
    s("WV", "West Virginia", &[]),
    s("WI", "Wisconsin", &[]),
    s("WY", "Wyoming", &[]),
    s("AS", "American Samoa", &[]),
    s("GU", "Guam", &[]),
    s("MP", "Northern Mariana Islands", &[]),
    s("PR", "Puerto Rico", &[]),
    s(
        "VI",
        "Virgin Islands",
        &[
            "US Virgin Islands",
            "U.S. Virgin Islands",
            "Virgin Islands, U.S.",
        ],
    ),
    s("UM", "United States Minor Outlying Islands", &[]),
    s(
        "FM",
        "Federated States of Micronesia",
        &["Micronesia", "Micronesia, Federated States of"],
    ),
    s("MH", "Marshall Islands", &[]),
    s("PW", "Palau", &[]),
    s("AA", "Armed Forces Americas", &[]),
    s("AE", "Armed Forces Europe", &[]),
    s("AP", "Armed Forces Pacific", &[]),
    s("", "Armed Forces Africa", &[]),
    s("", "Armed Forces Canada", &[]),
    s("", "Armed Forces Middle East", &[]),
];

/// Canada Post codes, plus the retired PQ (Quebec) and NF (Newfoundland) still seen in old data.
static CA_PROVINCES: &[State] = &[
    s("AB", "Alberta", &[]),
    s("BC", "British Columbia", &["Colombie-Britannique"]),
    s("MB", "Manitoba", &[]),
    s("NB", "New Brunswick", &["Nouveau-Brunswick"]),
    s(
        "NL",
        "Newfoundland and Labrador",
        &[
            "NF",
            "Newfoundland",
            "Terre-Neuve-et-Labrador",
            "Newfoundland & Labrador",
        ],
    ),
    s("NS", "Nova Scotia", &["Nouvelle-Écosse"]),
    s(
        "NT",
        "Northwest Territories",
        &["Territoires du Nord-Ouest"],
    ),
    s("NU", "Nunavut", &[]),
    s("ON", "Ontario", &[]),
    s(
        "PE",
        "Prince Edward Island",
        &["PEI", "Île-du-Prince-Édouard"],
    ),
    s("QC", "Quebec", &["PQ", "Québec"]),
    s("SK", "Saskatchewan", &[]),
    s("YT", "Yukon", &["Yukon Territory"]),
];

static AU_STATES: &[State] = &[
    s("ACT", "Australian Capital Territory", &[]),
    s("NSW", "New South Wales", &[]),
    s("NT", "Northern Territory", &[]),
    s("QLD", "Queensland", &[]),
    s("SA", "South Australia", &[]),
    s("TAS", "Tasmania", &[]),
    s("VIC", "Victoria", &[]),
    s("WA", "Western Australia", &[]),
];

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
