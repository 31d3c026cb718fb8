//! A short, deterministic mutation run over the logout message checks (`saml::logout`): a
//! signed LogoutRequest in each binding is mutated a few hundred ways (bytes flipped, dropped,
//! doubled; query parameters swapped). Beyond "no panic", the property that matters: no mutation
//! is accepted naming another subject or other sessions than the signed one.

use samlgate::saml::NameId;
use samlgate::saml::logout::binding::{
    InboundKind, SigningKey, encode, from_post_form, from_redirect_query, redirect_url,
};
use samlgate::saml::logout::{LogoutRequest, Outbound, SloEndpoint, validate_logout_request};
use samlgate::saml::metadata::Binding;
use samlgate::saml::policy::SpIdentity;
use time::{Duration, OffsetDateTime};

use crate::support::test_idp::{self, IDP};

const SLO: &str = "https://app.example.com/saml/slo";

/// A small deterministic generator (xorshift), so every run tries the same mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(3) {
        if out.is_empty() {
            break;
        }
        let at = rng.below(out.len());
        match rng.below(4) {
            0 => out[at] ^= 1 << rng.below(8),
            1 => {
                out.remove(at);
            }
            2 => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                let piece = out[at..end].to_vec();
                out.splice(at..at, piece);
            }
            _ => out[at] = b"&=%+/AZaz09<>\"'"[rng.below(15)],
        }
    }
    out
}

fn request(now: OffsetDateTime) -> LogoutRequest {
    LogoutRequest {
        id: "_fuzz0000000000000000000000000001".into(),
        issue_instant: now,
        destination: SLO.into(),
        issuer: IDP.into(),
        not_on_or_after: Some(now + Duration::minutes(5)),
        name_id: NameId {
            value: "alice@example.com".into(),
            format: None,
            name_qualifier: None,
            sp_name_qualifier: None,
        },
        session_index: Some("_si-1".into()),
        encrypted_id: None,
    }
}

#[test]
fn no_mutation_of_a_signed_logout_request_is_accepted_naming_anyone_else() {
    let now = OffsetDateTime::now_utc();
    let policy = test_idp::policy();
    let sp = SpIdentity {
        entity_id: "https://app.example.com/saml/metadata".into(),
        acs_url: String::new(),
        decryption_keys: vec![],
    };
    let slo = SloEndpoint { sp: &sp, url: SLO };
    let keys = test_idp::idp_keys();
    let xml = request(now).to_xml();
    let url = redirect_url(
        "https://x/",
        InboundKind::Request,
        &xml,
        Some("rs"),
        Some(&keys.key),
    )
    .unwrap();
    let query = url.split_once('?').unwrap().1.as_bytes().to_vec();
    let Outbound::Post(page) = encode(
        &Binding::HttpPost,
        SLO,
        InboundKind::Request,
        &xml,
        None,
        Some(SigningKey {
            key: &keys.key,
            certificate: None,
        }),
    )
    .unwrap() else {
        panic!("POST gave a redirect")
    };
    let b64 = page
        .split_once("name=\"SAMLRequest\" value=\"")
        .unwrap()
        .1
        .split_once('"')
        .unwrap()
        .0;
    use base64::Engine;
    let signed_xml = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();

    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut accepted, mut tried) = (0, 0);
    for round in 0..600 {
        let inbound = if round % 2 == 0 {
            let mutated = mutate(&mut rng, &query);
            match from_redirect_query(&String::from_utf8_lossy(&mutated)) {
                Ok(i) => i,
                Err(_) => continue,
            }
        } else {
            let mutated = mutate(&mut rng, &signed_xml);
            let form = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(
                    "SAMLRequest",
                    &base64::engine::general_purpose::STANDARD.encode(&mutated),
                )
                .finish();
            match from_post_form(form.as_bytes()) {
                Ok(i) => i,
                Err(_) => continue,
            }
        };
        tried += 1;
        if let Ok(v) = validate_logout_request(&inbound, &[&policy], slo, now) {
            accepted += 1;
            assert_eq!(v.name_id.value, "alice@example.com", "round {round}");
            assert_eq!(
                v.session_indexes,
                vec!["_si-1".to_string()],
                "round {round}"
            );
            assert_eq!(v.idp_entity_id, IDP, "round {round}");
        }
    }
    // Most mutations break the message or its signature; a few (in RelayState, in whitespace
    // the signature does not cover) may pass, always naming the same subject.
    assert!(tried > 100, "only {tried} mutations reached the checks");
    assert!(accepted < tried, "{accepted} of {tried} accepted");
}
