//! IdP metadata in: an `EntityDescriptor`, or one entity picked out of an `EntitiesDescriptor`
//! aggregate, read with the same strict parser as any untrusted message.
//!
//! The IdP's signing keys come from here and only from here (docs/security.md: `KeyInfo` in a message
//! is never trusted). Several signing certificates are kept, for rollover.

use time::OffsetDateTime;

use crate::crypto::keys::VerificationKey;
use crate::saml::time::parse_instant;
use crate::xml::escape::escape;
use crate::xml::{Document, ElementRef, ParseLimits, XmlError, ns, parse};

pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const PROTOCOL_SAML2: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

/// A SAML binding, as named in metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    HttpRedirect,
    HttpPost,
    Other(String),
}

impl Binding {
    fn from_uri(uri: &str) -> Self {
        match uri {
            BINDING_REDIRECT => Binding::HttpRedirect,
            BINDING_POST => Binding::HttpPost,
            other => Binding::Other(other.to_string()),
        }
    }

    pub fn uri(&self) -> &str {
        match self {
            Binding::HttpRedirect => BINDING_REDIRECT,
            Binding::HttpPost => BINDING_POST,
            Binding::Other(u) => u,
        }
    }
}

/// An SSO or SLO endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub binding: Binding,
    pub location: String,
    pub response_location: Option<String>,
}

/// What samlgate needs to know about one IdP.
#[derive(Clone, Debug)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// Keys that may verify this IdP's signatures (KeyDescriptor use="signing" or no use).
    pub signing_keys: Vec<VerificationKey>,
    pub sso_endpoints: Vec<Endpoint>,
    pub slo_endpoints: Vec<Endpoint>,
    pub want_authn_requests_signed: bool,
    pub name_id_formats: Vec<String>,
    /// `validUntil` of the descriptor, if given: reported by `check`, not enforced at login.
    pub valid_until: Option<OffsetDateTime>,
    /// Certificates to encrypt to (KeyDescriptor use="encryption" or no use): for an
    /// EncryptedID in our LogoutRequests.
    pub encryption_certificates: Vec<openssl::x509::X509>,
}

impl IdpMetadata {
    /// The SSO endpoint for a binding, if the IdP offers it.
    pub fn sso_endpoint(&self, binding: &Binding) -> Option<&Endpoint> {
        self.sso_endpoints.iter().find(|e| &e.binding == binding)
    }
}

/// Why IdP metadata could not be used. Each names the metadata source, so an admin knows which
/// file to look at.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("IdP metadata {source_name}: XML refused: {error}")]
    Xml {
        source_name: String,
        error: XmlError,
    },
    #[error(
        "IdP metadata {source_name}: root element is <{found}>, expected md:EntityDescriptor or md:EntitiesDescriptor"
    )]
    NotMetadata { source_name: String, found: String },
    /// The file is something else entirely (an HTML page, JSON, base64, a Response).
    #[error("IdP metadata {source_name}: this is not SAML metadata: it is {what}")]
    SomethingElse {
        source_name: String,
        what: &'static str,
    },
    #[error("IdP metadata {source_name}: no entity with an IDPSSODescriptor for SAML 2.0")]
    NoIdp { source_name: String },
    #[error("IdP metadata {source_name}: entity {wanted} not found; IdPs present: {}", available.join(", "))]
    EntityNotFound {
        source_name: String,
        wanted: String,
        available: Vec<String>,
    },
    #[error("IdP metadata {source_name}: holds {} IdPs ({}); set entity_id to choose one", available.len(), available.join(", "))]
    SeveralIdps {
        source_name: String,
        available: Vec<String>,
    },
    #[error(
        "IdP metadata {source_name}: entity {entity_id} has no signing certificate (KeyDescriptor use=\"signing\" with ds:X509Certificate); samlgate refuses an IdP whose signatures it cannot check"
    )]
    NoSigningKey {
        source_name: String,
        entity_id: String,
    },
    #[error("IdP metadata {source_name}: entity {entity_id}: bad certificate: {detail}")]
    BadCertificate {
        source_name: String,
        entity_id: String,
        detail: String,
    },
    #[error("IdP metadata {source_name}: {what} is missing or empty")]
    Missing {
        source_name: String,
        what: &'static str,
    },
}

/// Parse IdP metadata. `entity_id` picks one entity out of an aggregate; without it the
/// document must describe exactly one IdP.
pub fn parse_idp_metadata(
    xml: &[u8],
    source_name: &str,
    entity_id: Option<&str>,
) -> Result<IdpMetadata, MetadataError> {
    let doc = parse_metadata_document(xml, source_name)?;
    idp_in_document(&doc, source_name, entity_id)
}

/// Parse a metadata document with the limits for metadata (aggregates are large). A file that
/// is plainly something else (an HTML page, JSON, base64, a Response) is named for what it is.
pub fn parse_metadata_document(xml: &[u8], source_name: &str) -> Result<Document, MetadataError> {
    if let Some(what) = super::not_metadata::sniff(xml) {
        return Err(MetadataError::SomethingElse {
            source_name: source_name.to_string(),
            what,
        });
    }
    parse(xml, &ParseLimits::metadata()).map_err(|error| MetadataError::Xml {
        source_name: source_name.to_string(),
        error,
    })
}

/// The IdP `entity_id` names (or the only IdP) in an already parsed metadata document: what
/// [`parse_idp_metadata`] does after parsing, for callers that first check the document's
/// signature (`saml::metadata_trust`).
pub fn idp_in_document(
    doc: &Document,
    source_name: &str,
    entity_id: Option<&str>,
) -> Result<IdpMetadata, MetadataError> {
    let root = doc.root();
    let entities: Vec<ElementRef<'_>> = if root.is(ns::MD, "EntityDescriptor") {
        vec![root]
    } else if root.is(ns::MD, "EntitiesDescriptor") {
        root.descendants_and_self()
            .filter(|e| e.is(ns::MD, "EntityDescriptor"))
            .collect()
    } else if let Some(what) = super::not_metadata::protocol_message(root.local_name()) {
        return Err(MetadataError::SomethingElse {
            source_name: source_name.to_string(),
            what,
        });
    } else {
        return Err(MetadataError::NotMetadata {
            source_name: source_name.to_string(),
            found: root.qualified_name(),
        });
    };
    let idps: Vec<(ElementRef<'_>, ElementRef<'_>)> = entities
        .iter()
        .filter_map(|e| idp_descriptor(*e).map(|d| (*e, d)))
        .collect();
    let chosen = match entity_id {
        Some(wanted) => idps
            .iter()
            .find(|(e, _)| e.attr("entityID") == Some(wanted))
            .copied()
            .ok_or_else(|| MetadataError::EntityNotFound {
                source_name: source_name.to_string(),
                wanted: wanted.to_string(),
                available: idps
                    .iter()
                    .filter_map(|(e, _)| e.attr("entityID").map(str::to_string))
                    .collect(),
            })?,
        None => match idps.as_slice() {
            [] => {
                return Err(MetadataError::NoIdp {
                    source_name: source_name.to_string(),
                });
            }
            [one] => *one,
            several => {
                return Err(MetadataError::SeveralIdps {
                    source_name: source_name.to_string(),
                    available: several
                        .iter()
                        .filter_map(|(e, _)| e.attr("entityID").map(str::to_string))
                        .collect(),
                });
            }
        },
    };
    read_idp(chosen.0, chosen.1, source_name)
}

fn idp_descriptor(entity: ElementRef<'_>) -> Option<ElementRef<'_>> {
    entity.children_named(ns::MD, "IDPSSODescriptor").find(|d| {
        d.attr("protocolSupportEnumeration")
            .is_some_and(|p| p.split_ascii_whitespace().any(|t| t == PROTOCOL_SAML2))
    })
}

fn read_idp(
    entity: ElementRef<'_>,
    descriptor: ElementRef<'_>,
    source_name: &str,
) -> Result<IdpMetadata, MetadataError> {
    let entity_id = entity
        .attr("entityID")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| MetadataError::Missing {
            source_name: source_name.to_string(),
            what: "entityID",
        })?
        .to_string();

    let mut signing_keys = Vec::new();
    for kd in descriptor.children_named(ns::MD, "KeyDescriptor") {
        if !matches!(kd.attr("use"), None | Some("signing")) {
            continue;
        }
        let certs = kd
            .descendants_and_self()
            .filter(|e| e.is(ns::DS, "X509Certificate"));
        for cert in certs {
            let b64 = cert.text().map_err(|e| MetadataError::BadCertificate {
                source_name: source_name.to_string(),
                entity_id: entity_id.clone(),
                detail: e.to_string(),
            })?;
            let key =
                VerificationKey::from_base64_certificate(&b64, &format!("metadata {source_name}"))
                    .map_err(|e| MetadataError::BadCertificate {
                        source_name: source_name.to_string(),
                        entity_id: entity_id.clone(),
                        detail: e.to_string(),
                    })?;
            signing_keys.push(key);
        }
    }
    // Only `encrypt_logout_name_id` uses these: a certificate that does not parse is left out
    // rather than refusing metadata samlgate can otherwise use.
    let encryption_certificates = descriptor
        .children_named(ns::MD, "KeyDescriptor")
        .filter(|kd| matches!(kd.attr("use"), None | Some("encryption")))
        .flat_map(|kd| {
            kd.descendants_and_self()
                .filter(|e| e.is(ns::DS, "X509Certificate"))
                .collect::<Vec<_>>()
        })
        .filter_map(|cert| {
            use base64::Engine;
            let b64: String = cert
                .text()
                .ok()?
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .ok()?;
            openssl::x509::X509::from_der(&der).ok()
        })
        .collect();
    if signing_keys.is_empty() {
        return Err(MetadataError::NoSigningKey {
            source_name: source_name.to_string(),
            entity_id,
        });
    }

    let endpoints = |local: &str| -> Vec<Endpoint> {
        descriptor
            .child_elements()
            .filter(|e| e.is(ns::MD, local))
            .filter_map(|e| {
                Some(Endpoint {
                    binding: Binding::from_uri(e.attr("Binding")?),
                    location: e.attr("Location")?.trim().to_string(),
                    response_location: e.attr("ResponseLocation").map(|s| s.trim().to_string()),
                })
            })
            .collect()
    };
    let name_id_formats = descriptor
        .children_named(ns::MD, "NameIDFormat")
        .filter_map(|e| e.text().ok().map(|t| t.trim().to_string()))
        .collect();
    let valid_until = descriptor
        .attr("validUntil")
        .or_else(|| entity.attr("validUntil"))
        .and_then(parse_instant);

    Ok(IdpMetadata {
        entity_id,
        signing_keys,
        sso_endpoints: endpoints("SingleSignOnService"),
        slo_endpoints: endpoints("SingleLogoutService"),
        want_authn_requests_signed: descriptor.attr("WantAuthnRequestsSigned") == Some("true"),
        name_id_formats,
        valid_until,
        encryption_certificates,
    })
}

/// Minimal IdP metadata for one signing certificate and an HTTP-Redirect SSO endpoint: what the
/// development IdP publishes and what the benchmarks and measurement examples hand the gateway.
pub fn write_idp_metadata(
    entity_id: &str,
    signing_cert: &openssl::x509::X509Ref,
    sso_url: &str,
    want_authn_requests_signed: bool,
) -> Result<String, openssl::error::ErrorStack> {
    use base64::Engine;
    let cert = base64::engine::general_purpose::STANDARD.encode(signing_cert.to_der()?);
    let want = if want_authn_requests_signed {
        " WantAuthnRequestsSigned=\"true\""
    } else {
        ""
    };
    Ok(format!(
        concat!(
            "<md:EntityDescriptor xmlns:md=\"{md}\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" ",
            "entityID=\"{entity}\">",
            "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"{want}>",
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}",
            "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            "<md:SingleSignOnService Binding=\"{redirect}\" Location=\"{sso}\"/>",
            "</md:IDPSSODescriptor></md:EntityDescriptor>\n"
        ),
        md = ns::MD,
        entity = escape(entity_id),
        want = want,
        cert = cert,
        redirect = BINDING_REDIRECT,
        sso = escape(sso_url),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_idp_metadata_reads_back_as_written() {
        let key =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let cert = crate::crypto::keygen::self_signed_certificate(&key, "idp", 2).unwrap();
        let xml = write_idp_metadata(
            "https://idp.example/a&b",
            &cert,
            "https://idp.example/sso?x=1&y=2",
            true,
        )
        .unwrap();
        let read = parse_idp_metadata(xml.as_bytes(), "written", None).unwrap();
        assert_eq!(read.entity_id, "https://idp.example/a&b");
        assert_eq!(read.signing_keys.len(), 1);
        assert_eq!(
            read.sso_endpoint(&Binding::HttpRedirect)
                .map(|e| e.location.as_str()),
            Some("https://idp.example/sso?x=1&y=2")
        );
        assert!(read.want_authn_requests_signed);
        let plain = write_idp_metadata(
            "https://idp.example",
            &cert,
            "https://idp.example/sso",
            false,
        )
        .unwrap();
        assert!(
            !parse_idp_metadata(plain.as_bytes(), "written", None)
                .unwrap()
                .want_authn_requests_signed
        );
    }
}
