//! The `Authorization: Bearer` request header (RFC 6750 section 2.1, the scheme name matched
//! whatever its case) and the `WWW-Authenticate` challenge of an answer (section 3).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

/// What a request's `Authorization` header says about bearer tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// No `Authorization` header, or one of another scheme (`Basic`...): not a bearer request.
    None,
    /// One well-formed bearer token.
    Bearer(&'a str),
    /// A bearer request that cannot be read: several `Authorization` headers, an empty or
    /// malformed token. Refused as `invalid_request`.
    Malformed(&'static str),
}

/// Read the request's bearer token, if it sends one.
pub fn credential(headers: &HeaderMap) -> Credential<'_> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(first) = values.next() else {
        return Credential::None;
    };
    let several = values.next().is_some();
    let Ok(text) = first.to_str() else {
        return if several {
            Credential::Malformed("several Authorization headers")
        } else {
            Credential::None
        };
    };
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return if several {
            Credential::Malformed("several Authorization headers")
        } else {
            Credential::None
        };
    }
    if several {
        return Credential::Malformed("several Authorization headers");
    }
    let token = rest.trim_matches(' ');
    // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = token.trim_end_matches('=');
    let ok = !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if ok {
        Credential::Bearer(token)
    } else {
        Credential::Malformed("the bearer token is empty or not a b64token")
    }
}

/// Is `scope` a scope token (RFC 6749 section 3.3: printable ASCII but space, `"` and `\`)?
/// Such a value can stand in a quoted `scope="..."` as it is.
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// A `WWW-Authenticate: Bearer` value: `error` with its description, and the scopes
/// missing for `insufficient_scope`. The description must be one of the gateway's own fixed
/// texts; a `"` or `\` in it is dropped all the same.
pub fn challenge(error: Option<(&str, &str)>, scopes: &[String]) -> String {
    let mut out = String::from("Bearer");
    let mut sep = " ";
    if let Some((code, description)) = error {
        let clean: String = description
            .chars()
            .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            .collect();
        out.push_str(&format!(
            "{sep}error=\"{code}\", error_description=\"{clean}\""
        ));
        sep = ", ";
    }
    let scopes: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| is_scope_token(s))
        .collect();
    if !scopes.is_empty() {
        out.push_str(&format!("{sep}scope=\"{}\"", scopes.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_scheme_is_matched_whatever_its_case() {
        for v in [
            "Bearer abc.def-_~+/=",
            "bearer abc.def-_~+/=",
            "BEARER abc.def-_~+/=",
        ] {
            assert_eq!(credential(&with(&[v])), Credential::Bearer("abc.def-_~+/="));
        }
    }

    #[test]
    fn other_schemes_are_not_bearer_requests() {
        assert_eq!(credential(&with(&["Basic dTpw"])), Credential::None);
        assert_eq!(credential(&HeaderMap::new()), Credential::None);
    }

    #[test]
    fn malformed_bearer_requests_are_named() {
        assert!(matches!(
            credential(&with(&["Bearer"])),
            Credential::Malformed(_)
        ));
        assert!(matches!(
            credential(&with(&["Bearer a b"])),
            Credential::Malformed(_)
        ));
        assert!(matches!(
            credential(&with(&["Bearer a\"b"])),
            Credential::Malformed(_)
        ));
        assert!(matches!(
            credential(&with(&["Bearer a", "Bearer b"])),
            Credential::Malformed(_)
        ));
    }

    #[test]
    fn challenges_quote_only_safe_text() {
        assert_eq!(challenge(None, &[]), "Bearer");
        assert_eq!(
            challenge(Some(("invalid_token", "the access token expired")), &[]),
            "Bearer error=\"invalid_token\", error_description=\"the access token expired\""
        );
        assert_eq!(
            challenge(
                Some(("insufficient_scope", "x\"y")),
                &["orders.read".into(), "bad\"scope".into()]
            ),
            "Bearer error=\"insufficient_scope\", error_description=\"xy\", scope=\"orders.read\""
        );
    }
}
