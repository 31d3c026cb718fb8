//! What a file given as IdP metadata is when it is not metadata at all: the admin saved the
//! wrong thing (the IdP's login page, an API's JSON, the metadata base64-encoded, a Response
//! copied from the browser). Said in those words, with what to do, instead of the XML parser's
//! complaint about a DOCTYPE or trailing text.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// What `bytes` look like, when it is plainly not an XML document: `None` for anything that
/// may be XML (the parser then decides).
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = text.get(start..)?;
    let head: Vec<u8> = text.iter().take(1024).map(u8::to_ascii_lowercase).collect();
    let head_has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if head.starts_with(b"<!doctype html") || head_has(b"<html") {
        return Some(
            "an HTML page (a sign-in or error page saved instead of the metadata): download the metadata URL itself (curl -o FILE URL) and check the file begins with <EntityDescriptor or <md:EntityDescriptor",
        );
    }
    if head.starts_with(b"{") || head.starts_with(b"[") {
        return Some(
            "JSON, not XML (an API's answer): ask the IdP for its SAML 2.0 metadata URL, often ending in /metadata or FederationMetadata.xml",
        );
    }
    if !head.starts_with(b"<") && looks_like_base64_xml(text) {
        return Some(
            "base64 text that decodes to XML: decode it first (base64 -d FILE > metadata.xml)",
        );
    }
    None
}

fn looks_like_base64_xml(text: &[u8]) -> bool {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    compact.len() >= 16
        && STANDARD
            .decode(&compact)
            .is_ok_and(|decoded| decoded.trim_ascii_start().starts_with(b"<"))
}

/// Said of a document whose root is a SAML protocol message (`local` name) rather than
/// metadata.
pub fn protocol_message(local: &str) -> Option<&'static str> {
    match local {
        "Response" => Some(
            "a SAML Response (what the IdP posts at sign-in), not metadata: the IdP's metadata is an EntityDescriptor document, published at its metadata URL",
        ),
        "AuthnRequest" | "LogoutRequest" | "LogoutResponse" => Some(
            "a SAML protocol message, not metadata: the IdP's metadata is an EntityDescriptor document, published at its metadata URL",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_html_json_and_base64_from_xml() {
        assert!(
            sniff(b"<!DOCTYPE html><html><body>Sign in</body></html>")
                .unwrap()
                .starts_with("an HTML page")
        );
        assert!(
            sniff(b"  {\"error\":\"not found\"}")
                .unwrap()
                .starts_with("JSON")
        );
        let b64 = STANDARD.encode("<md:EntityDescriptor/>");
        assert!(sniff(b64.as_bytes()).unwrap().starts_with("base64"));
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?><md:EntityDescriptor/>"),
            None
        );
    }
}
