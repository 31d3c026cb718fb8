//! Single Logout messages built by IdPs nobody on the team wrote: pysaml2 and Lasso make
//! LogoutRequests (pysaml2 also LogoutResponses) in both bindings, signed by their own code; each
//! is accepted, and its unsigned and tampered copies refused, through the library
//! (`saml::logout`) and through `samlgate verify --logout`.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use samlgate::saml::logout::binding::{Inbound, from_post_form, from_redirect_query};
use samlgate::saml::logout::{
    LogoutRejection, SloEndpoint, VerifiedLogoutRequest, validate_logout_request,
    validate_logout_response,
};
use samlgate::saml::metadata::parse_idp_metadata;
use samlgate::saml::policy::{IdpPolicy, SpIdentity};
use time::OffsetDateTime;

use crate::support::peers::{self, Peer, peer_logout};

const SP: &str = "https://sp.interop.test/saml/metadata";
const SLO: &str = "https://sp.interop.test/saml/slo";
const IDP: &str = "https://idp.interop.test/idp";

fn policy(metadata: &Path) -> IdpPolicy {
    let idp = parse_idp_metadata(&std::fs::read(metadata).unwrap(), "peer", None).unwrap();
    IdpPolicy::new(idp.entity_id, idp.signing_keys)
}

fn sp() -> SpIdentity {
    SpIdentity {
        entity_id: SP.into(),
        acs_url: String::new(),
        decryption_keys: vec![],
    }
}

fn slo(sp: &SpIdentity) -> SloEndpoint<'_> {
    SloEndpoint { sp, url: SLO }
}

/// What the peer printed, as the gateway would receive it.
fn inbound(printed: &str, binding: &str) -> Result<Inbound, LogoutRejection> {
    if binding == "redirect" {
        from_redirect_query(printed.split_once('?').unwrap().1)
    } else {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("SAMLRequest", printed)
            .finish();
        from_post_form(body.as_bytes())
    }
}

fn check_request(
    printed: &str,
    binding: &str,
    policy: &IdpPolicy,
) -> Result<VerifiedLogoutRequest, LogoutRejection> {
    let sp = sp();
    validate_logout_request(
        &inbound(printed, binding)?,
        &[policy],
        slo(&sp),
        OffsetDateTime::now_utc(),
    )
}

/// `samlgate verify --logout` on `message`: (exit code, stdout, stderr).
fn cli(metadata: &Path, message: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message");
    std::fs::write(&file, message).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .arg("verify")
        .arg("--logout")
        .arg("--idp-metadata")
        .arg(metadata)
        .args(["--sp-entity-id", SP, "--slo-url", SLO])
        .args(extra)
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The POST form value with its enveloped ds:Signature cut out.
fn strip_enveloped_signature(b64: &str) -> String {
    let xml = String::from_utf8(B64.decode(b64).unwrap()).unwrap();
    let start = xml
        .find("<ns2:Signature")
        .or_else(|| xml.find("<Signature"))
        .expect("a signature");
    let end_tag = if xml[start..].starts_with("<ns2:") {
        "</ns2:Signature>"
    } else {
        "</Signature>"
    };
    let end = start + xml[start..].find(end_tag).unwrap() + end_tag.len();
    B64.encode(format!("{}{}", &xml[..start], &xml[end..]))
}

/// The POST form value with the NameID changed after signing.
fn tamper_name_id(b64: &str, from: &str, to: &str) -> String {
    let xml = String::from_utf8(B64.decode(b64).unwrap()).unwrap();
    assert!(xml.contains(from), "{xml}");
    B64.encode(xml.replace(from, to))
}

/// The Redirect URL without its SigAlg and Signature.
fn strip_query_signature(url: &str) -> String {
    url.split("&SigAlg=").next().unwrap().to_string()
}

/// Every LogoutRequest shape `peer` makes: accepted signed; refused unsigned and tampered.
fn peer_requests(peer: Peer, extra: &[&str]) {
    for binding in ["redirect", "post"] {
        let mut args = vec![
            "--binding",
            binding,
            "--destination",
            SLO,
            "--sp-entity-id",
            SP,
            "--idp-entity-id",
            IDP,
            "--name-id",
            "alice@example.org",
            "--relay-state",
            "state x/y",
        ];
        args.extend_from_slice(extra);
        let (printed, metadata, _dir) = peer_logout(peer, &args).unwrap();
        let policy = policy(&metadata);
        let what = format!("{} {binding}", peer.name());

        let verified = check_request(&printed, binding, &policy)
            .unwrap_or_else(|e| panic!("{what}: signed request refused: {e}"));
        assert_eq!(verified.name_id.value, "alice@example.org", "{what}");
        assert_eq!(verified.idp_entity_id, IDP, "{what}");
        if binding == "redirect" {
            assert_eq!(verified.relay_state.as_deref(), Some("state x/y"), "{what}");
        }
        let (code, out, err) = cli(&metadata, &printed, &[]);
        assert_eq!(code, 0, "{what}: {err}");
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(json["message"], "LogoutRequest", "{what}");
        assert_eq!(json["name_id"], "alice@example.org", "{what}");

        let (unsigned, tampered) = if binding == "redirect" {
            let tampered = printed.replace("RelayState=state", "RelayState=other");
            assert_ne!(tampered, printed, "{what}: {printed}");
            (strip_query_signature(&printed), tampered)
        } else {
            (
                strip_enveloped_signature(&printed),
                tamper_name_id(&printed, "alice@example.org", "bob@example.org"),
            )
        };
        let r = check_request(&unsigned, binding, &policy);
        assert!(
            matches!(r, Err(LogoutRejection::Unsigned { .. })),
            "{what} unsigned: {r:?}"
        );
        let (code, _, err) = cli(&metadata, &unsigned, &[]);
        assert_eq!(code, 1, "{what} unsigned: {err}");
        assert!(err.contains("[unsigned]"), "{what}: {err}");

        let r = check_request(&tampered, binding, &policy);
        assert!(r.is_err(), "{what} tampered: accepted");
        let (code, _, err) = cli(&metadata, &tampered, &[]);
        assert_eq!(code, 1, "{what} tampered: {err}");

        // For another SP (Destination) it is refused even though the signature holds.
        let sp = sp();
        let elsewhere = SloEndpoint {
            sp: &sp,
            url: "https://other-sp.example/slo",
        };
        let r = validate_logout_request(
            &inbound(&printed, binding).unwrap(),
            &[&policy],
            elsewhere,
            OffsetDateTime::now_utc(),
        );
        assert!(
            matches!(r, Err(LogoutRejection::DestinationMismatch { .. })),
            "{what}: {r:?}"
        );
    }
}

#[test]
fn pysaml2_logout_requests_are_accepted_signed_and_refused_unsigned_or_tampered() {
    if !peers::require(Peer::Pysaml2) {
        return;
    }
    peer_requests(Peer::Pysaml2, &["--session-index", "_si-1"]);
    // pysaml2 unsigned by its own choice, too.
    for binding in ["redirect", "post"] {
        let (printed, metadata, _dir) = peer_logout(
            Peer::Pysaml2,
            &[
                "--binding",
                binding,
                "--sign",
                "no",
                "--destination",
                SLO,
                "--sp-entity-id",
                SP,
            ],
        )
        .unwrap();
        let r = check_request(&printed, binding, &policy(&metadata));
        assert!(
            matches!(r, Err(LogoutRejection::Unsigned { .. })),
            "{binding}: {r:?}"
        );
    }
}

#[test]
fn lasso_logout_requests_are_accepted_signed_and_refused_unsigned_or_tampered() {
    if !peers::require(Peer::Lasso) {
        return;
    }
    peer_requests(Peer::Lasso, &[]);
}

#[test]
fn pysaml2_logout_responses_answer_only_our_request() {
    if !peers::require(Peer::Pysaml2) {
        return;
    }
    for binding in ["redirect", "post"] {
        for status in ["success", "partial"] {
            let (printed, metadata, _dir) = peer_logout(
                Peer::Pysaml2,
                &[
                    "--kind",
                    "response",
                    "--in-response-to",
                    "_our-request",
                    "--status",
                    status,
                    "--binding",
                    binding,
                    "--destination",
                    SLO,
                    "--sp-entity-id",
                    SP,
                ],
            )
            .unwrap();
            let what = format!("{binding} {status}");
            let policy = policy(&metadata);
            let inbound = if binding == "redirect" {
                from_redirect_query(printed.split_once('?').unwrap().1).unwrap()
            } else {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("SAMLResponse", &printed)
                    .finish();
                from_post_form(body.as_bytes()).unwrap()
            };
            let sp = sp();
            let now = OffsetDateTime::now_utc();
            let ok = validate_logout_response(&inbound, &policy, slo(&sp), "_our-request", now)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(ok.status.is_ok(), status == "success", "{what}");
            let r = validate_logout_response(&inbound, &policy, slo(&sp), "_another", now);
            assert_eq!(
                r.map(|_| ()).unwrap_err().kind(),
                "in_response_to_mismatch",
                "{what}"
            );
            let (code, out, err) = cli(&metadata, &printed, &["--request-id", "_our-request"]);
            assert_eq!(code, 0, "{what}: {err}");
            let json: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(json["message"], "LogoutResponse");
            assert_eq!(
                json["status"] == "success",
                status == "success",
                "{what}: {out}"
            );
            let (code, _, err) = cli(&metadata, &printed, &["--request-id", "_another"]);
            assert_eq!(code, 1, "{what}: {err}");
        }
    }
}

#[test]
fn pysaml2_soap_logout_requests_are_accepted_signed_and_refused_unsigned_or_tampered() {
    if !peers::require(Peer::Pysaml2) {
        return;
    }
    let soap_url = "https://sp.interop.test/saml/slo/soap";
    let make = |sign: &str| {
        peer_logout(
            Peer::Pysaml2,
            &[
                "--binding",
                "soap",
                "--sign",
                sign,
                "--destination",
                soap_url,
                "--sp-entity-id",
                SP,
                "--name-id",
                "alice@example.org",
            ],
        )
        .unwrap()
    };
    let sp = sp();
    let soap = SloEndpoint {
        sp: &sp,
        url: soap_url,
    };
    let now = OffsetDateTime::now_utc();
    let check = |envelope: &str, policy: &IdpPolicy| {
        let inbound = samlgate::saml::logout::binding::from_soap_envelope(envelope.as_bytes())?;
        validate_logout_request(&inbound, &[policy], soap, now)
    };
    let (signed, metadata, _dir) = make("yes");
    let policy = policy(&metadata);
    let ok = check(&signed, &policy).unwrap();
    assert_eq!(ok.name_id.value, "alice@example.org");
    let tampered = signed.replace("alice@example.org", "bob@example.org");
    assert!(check(&tampered, &policy).is_err());
    let (unsigned, _, _dir2) = make("no");
    let r = check(&unsigned, &policy);
    assert!(matches!(r, Err(LogoutRejection::Unsigned { .. })), "{r:?}");
}

#[test]
fn verify_logout_reads_a_soap_envelope_too() {
    if !peers::require(Peer::Pysaml2) {
        return;
    }
    let soap_url = "https://sp.interop.test/saml/slo/soap";
    let (envelope, metadata, _dir) = peer_logout(
        Peer::Pysaml2,
        &[
            "--binding",
            "soap",
            "--destination",
            soap_url,
            "--sp-entity-id",
            SP,
        ],
    )
    .unwrap();
    let run = |slo_url: &str| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.xml");
        std::fs::write(&file, &envelope).unwrap();
        Command::new(env!("CARGO_BIN_EXE_samlgate"))
            .args(["verify", "--logout", "--idp-metadata"])
            .arg(&metadata)
            .args(["--sp-entity-id", SP, "--slo-url", slo_url])
            .arg(&file)
            .output()
            .unwrap()
    };
    let ok = run(soap_url);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(json["binding"], "SOAP");
    let elsewhere = run(SLO);
    assert_eq!(elsewhere.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&elsewhere.stderr).contains("[destination_mismatch]"));
}
