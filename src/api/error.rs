//! Typed API errors. Callers branch on them: retry, reconcile an ambiguous write, or report.
//! [`ApiError`] is one request's; [`WriteError`] is one written item's, whichever backend
//! wrote it (the store seam's error).

use std::fmt;

/// What went wrong with one request (after the client's own retries, if any).
#[derive(Debug, Clone, thiserror::Error)]
pub struct ApiError {
    /// `GET /customers` etc. (never the query string: filters may hold emails).
    pub what: String,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone)]
pub enum ErrorKind {
    /// The store answered with a non-success status.
    Status { status: u16, message: String },
    /// No usable response: connect failure, timeout, dropped connection, truncated body.
    /// `maybe_sent` is false only when the request certainly never reached the store
    /// (connection refused), which makes even a create safe to repeat.
    Transport { message: String, maybe_sent: bool },
    /// A 2xx whose body is not what the API documents.
    Decode { message: String },
    /// A 2xx answer to a create whose body is not the record created (unreadable, too big, a
    /// JSON object without an id): the store said yes, so the create may have happened, and
    /// it is looked up before being sent again, like a lost answer.
    Unconfirmed { message: String },
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Status { status, message } => {
                write!(f, "{}: HTTP {status}: {message}", self.what)
            }
            ErrorKind::Transport { message, .. } => write!(f, "{}: {message}", self.what),
            ErrorKind::Decode { message } | ErrorKind::Unconfirmed { message } => {
                write!(f, "{}: unexpected response: {message}", self.what)
            }
        }
    }
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            ErrorKind::Status { status, .. } => Some(status),
            _ => None,
        }
    }

    /// The API's own words, for a results file `_message` (no method/path noise).
    pub fn message(&self) -> String {
        match &self.kind {
            ErrorKind::Status { status, message } => format!("HTTP {status}: {message}"),
            ErrorKind::Transport { message, .. } => message.clone(),
            ErrorKind::Decode { message } | ErrorKind::Unconfirmed { message } => {
                format!("unexpected response: {message}")
            }
        }
    }

    /// Worth sending again: rate limits, server errors (but not 501), transport failures.
    pub fn is_retryable(&self) -> bool {
        match &self.kind {
            ErrorKind::Status { status, .. } => {
                *status == 429 || *status == 408 || (*status >= 500 && *status != 501)
            }
            ErrorKind::Transport { .. } => true,
            ErrorKind::Decode { .. } | ErrorKind::Unconfirmed { .. } => false,
        }
    }

    /// A write that may have been applied even though we got no success answer:
    /// a transport failure after sending, or a 5xx (the store may have committed before failing).
    pub fn is_ambiguous(&self) -> bool {
        match &self.kind {
            ErrorKind::Status { status, .. } => *status >= 500 && *status != 501,
            ErrorKind::Transport { maybe_sent, .. } => *maybe_sent,
            ErrorKind::Decode { .. } => false,
            ErrorKind::Unconfirmed { .. } => true,
        }
    }

    /// The store answered with a redirect. BigCommerce's API never redirects, and following
    /// one would send the token (and a write) to another URL, so it is never followed.
    pub fn is_redirect(&self) -> bool {
        self.status().is_some_and(|s| (300..400).contains(&s))
    }

    /// Fatal for the whole run, not only for one row: the credentials were refused, or the
    /// store redirected (every other request would be redirected too).
    pub fn is_fatal(&self) -> bool {
        self.is_auth() || self.is_redirect()
    }

    /// A create refused as a duplicate after an attempt that may have happened: the status of
    /// "email already in use" is not documented (409 is likely, 400 and 422 plausible), so
    /// any 4xx but the ones that say nothing about the record is checked by a lookup.
    pub fn may_be_duplicate(&self) -> bool {
        self.status()
            .is_some_and(|s| (400..500).contains(&s) && !matches!(s, 401 | 403 | 408 | 429))
    }

    /// Remove every secret from the store's words (see [`scrub`]).
    pub fn scrubbed(mut self, secrets: &[&str]) -> ApiError {
        match &mut self.kind {
            ErrorKind::Status { message, .. }
            | ErrorKind::Transport { message, .. }
            | ErrorKind::Decode { message }
            | ErrorKind::Unconfirmed { message } => *message = scrub(message, secrets),
        }
        self
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// The store could not be reached at all (the connection was refused or never made,
    /// so nothing was sent). After the retries, this is the whole store, not one row.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Transport {
                maybe_sent: false,
                ..
            }
        )
    }

    /// Authentication or authorisation refused: fatal for the whole run.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401) | Some(403))
    }
}

/// Text a store sends can quote the request: its headers (the token) or its body (a
/// password). Every form a secret can take in such text (as sent, JSON-escaped, escaped
/// again by a decoder's message, or percent-encoded) becomes `****`. A secret shorter than 4 characters cannot be replaced
/// without revealing it (every `a` of the message would be starred), so a message containing
/// one is withheld instead.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        // Without the surrounding quotes only (a `"` at either end of the secret is kept).
        let unquote = |s: String| s[1..s.len() - 1].to_string();
        let escaped = unquote(serde_json::to_string(secret).unwrap_or_else(|_| "\"\"".into()));
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        // A decoder's message names the string it could not read as Rust's `{:?}` shows it
        // (serde: `invalid type: string "…"`): a 2xx body quoting the request's JSON body
        // shows a password with a `"` or `\` in it escaped once more than it was sent.
        let debug = |s: &str| unquote(format!("{s:?}"));
        let escaped_twice = debug(&escaped);
        // The most escaped first: a plainer form replaced inside it would leave part of it.
        let plain_debug = debug(secret);
        for form in [
            escaped_twice,
            escaped,
            plain_debug,
            secret.to_string(),
            encoded,
        ] {
            if form.is_empty() || !out.contains(&form) {
                continue;
            }
            if secret.chars().count() < 4 {
                return "(the store's message is not shown: it quoted a secret of the request)"
                    .to_string();
            }
            out = out.replace(&form, "****");
        }
    }
    out
}

/// Turn an error body into one readable line. V2 sends `[{"status":..,"message":..}]`,
/// V3-style bodies are `{"title":..,"errors":{..}}`, and some 5xx/429 bodies are plain text,
/// HTML or empty; none of them may make us fail to report the error.
pub fn parse_error_body(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return default_reason(status).to_string();
    }
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed) {
        let mut parts = Vec::new();
        match &value {
            serde_json::Value::Array(items) => {
                for item in items {
                    if let Some(msg) = item.get("message").and_then(|m| m.as_str()) {
                        parts.push(msg.to_string());
                    } else if let Some(s) = item.as_str() {
                        parts.push(s.to_string());
                    }
                }
            }
            serde_json::Value::Object(obj) => {
                if let Some(title) = obj.get("title").and_then(|t| t.as_str()) {
                    parts.push(title.to_string());
                }
                if let Some(msg) = obj.get("message").and_then(|t| t.as_str()) {
                    parts.push(msg.to_string());
                }
                match obj.get("errors") {
                    Some(serde_json::Value::Object(errs)) => {
                        for (field, msg) in errs {
                            let msg = msg
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| msg.to_string());
                            parts.push(format!("{field}: {msg}"));
                        }
                    }
                    Some(serde_json::Value::Array(errs)) => {
                        for e in errs {
                            if let Some(t) = e
                                .get("title")
                                .or_else(|| e.get("message"))
                                .and_then(|t| t.as_str())
                            {
                                parts.push(t.to_string());
                            }
                        }
                    }
                    _ => {}
                }
            }
            serde_json::Value::String(s) => parts.push(s.clone()),
            _ => {}
        }
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    // Plain text or an HTML error page: keep it short and on one line.
    let looks_html = trimmed.starts_with('<');
    if looks_html {
        return format!("{} (HTML error page)", default_reason(status));
    }
    let one_line: String = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(300).collect()
}

fn default_reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized: the access token was refused",
        403 => "Forbidden: the token lacks the store_v2_customers scope or the store hash is wrong",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Request limit too large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "error",
    }
}

/// Why an item (or a whole request) was not written: what every backend's writes answer
/// through the store seam (`store::Writer`), one per item.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The store's answer (status and its words, secrets scrubbed), or no answer at all.
    #[error("{0}")]
    Api(#[from] ApiError),
    /// Refused before any request: the tool would not send this (an empty or too long id
    /// list, a batch over the limit, a body without the key the batch needs).
    #[error("{0}")]
    Refused(String),
    /// The batch was never sent because the before-send hook failed (the journal could not
    /// record it); the message is the hook's.
    #[error("not sent: {0}")]
    NotSent(String),
    /// The batch writer stopped before answering this item (its task ended).
    #[error("the V3 batch writer stopped before this item was answered")]
    Stopped,
}

impl WriteError {
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            WriteError::Api(e) => Some(e),
            _ => None,
        }
    }

    /// For a results file `_message`: the store's words, without method and path.
    pub fn message(&self) -> String {
        match self {
            WriteError::Api(e) => e.message(),
            other => other.to_string(),
        }
    }

    /// Fatal for the whole run (credentials refused, a redirect): see [`ApiError::is_fatal`].
    pub fn is_fatal(&self) -> bool {
        self.api().is_some_and(ApiError::is_fatal)
    }

    /// The store could not be reached (see [`ApiError::is_unreachable`]).
    pub fn is_unreachable(&self) -> bool {
        self.api().is_some_and(ApiError::is_unreachable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_every_form_of_a_secret() {
        let text = r#"you sent X-Auth-Token: tok123 and {"password":"a\"b c"} or a%22b+c"#;
        let out = scrub(text, &["tok123", "a\"b c"]);
        assert_eq!(
            out,
            r#"you sent X-Auth-Token: **** and {"password":"****"} or ****"#
        );
        // A decoder quoting a 2xx body that quotes the JSON body: escaped twice.
        let quoted = format!("invalid type: string {:?}", r#"{"password":"a\"b c"}"#);
        assert_eq!(
            scrub(&quoted, &["a\"b c"]),
            r#"invalid type: string "{\"password\":\"****\"}""#
        );
        assert!(!scrub("the word abc", &["ab"]).contains("ab"));
        assert_eq!(scrub("nothing here", &["ab", ""]), "nothing here");
    }

    #[test]
    fn parses_v2_array() {
        let body = br#"[{"status":400,"message":"The field 'password' is invalid."}]"#;
        assert_eq!(
            parse_error_body(400, body),
            "The field 'password' is invalid."
        );
    }

    #[test]
    fn parses_v3_object() {
        let body = br#"{"status":422,"title":"Invalid","type":"x","errors":{"email":"bad"}}"#;
        assert_eq!(parse_error_body(422, body), "Invalid; email: bad");
    }

    #[test]
    fn plain_text_html_and_empty() {
        assert_eq!(
            parse_error_body(500, b"An error has occurred.\n"),
            "An error has occurred."
        );
        assert!(parse_error_body(500, b"<html><body>oops</body></html>").contains("HTML"));
        assert_eq!(parse_error_body(429, b""), "Too Many Requests");
    }
}
