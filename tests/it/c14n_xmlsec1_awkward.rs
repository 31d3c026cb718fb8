//! Exclusive c14n agrees byte for byte with xmlsec1 (Debian package `xmlsec1`, a test-only
//! oracle) on hand-made awkward documents: default namespace redeclared and undeclared,
//! prefixes declared high and used low, InclusiveNamespaces (with and without `#default`),
//! namespaced and `xml:` attributes, escapes and character references, CDATA, CRLF line ends,
//! comments, non-ASCII text, a signed element among siblings.
//!
//! Each case is a document holding an element with an `ID` and an enveloped `ds:Signature`
//! template as its direct child. xmlsec1 signs it; tests/interop/xmlsec_c14n.sh then makes
//! xmlsec1 verify the signed file and hands back the exact bytes it digested (the Reference)
//! and signed (SignedInfo). samlgate parses the same signed file with its strict parser,
//! canonicalizes the same element (Signature left out) and SignedInfo, and must produce those
//! bytes; its verifier must accept the signature. The expected bytes always come from xmlsec1.
//!
//! Without xmlsec1 each test prints why and passes, except under CI=true, where it fails.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::X509;

use samlgate::crypto::VerificationKey;
use samlgate::crypto::dsig;
use samlgate::crypto::keygen::self_signed_certificate;
use samlgate::xml::c14n::canonicalize;
use samlgate::xml::{ElementRef, ParseLimits, ns, parse};

use crate::support::peers;

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

// ---- the signing key -------------------------------------------------------------------------

fn signer() -> &'static (PKey<Private>, X509) {
    static SIGNER: OnceLock<(PKey<Private>, X509)> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let cert = self_signed_certificate(&key, "c14n oracle signer", 30).unwrap();
        (key, cert)
    })
}

// ---- the signature template ------------------------------------------------------------------

/// How the enveloped ds:Signature template is written.
#[derive(Clone, Copy)]
struct Template<'a> {
    /// `Some("ds")`: prefixed ds elements; `None`: ds is the Signature's default namespace.
    ds_prefix: Option<&'a str>,
    /// Declare the ds namespace on the Signature itself (false: the document declares it above).
    declare_ds: bool,
    /// InclusiveNamespaces PrefixList on SignedInfo's CanonicalizationMethod.
    c14n_prefix_list: Option<&'a str>,
    /// InclusiveNamespaces PrefixList on the Reference's exc-c14n Transform.
    reference_prefix_list: Option<&'a str>,
}

const PLAIN: Template<'static> = Template {
    ds_prefix: Some("ds"),
    declare_ds: true,
    c14n_prefix_list: None,
    reference_prefix_list: None,
};

fn signature_template(t: &Template<'_>, id: &str) -> String {
    let p = t.ds_prefix.map(|p| format!("{p}:")).unwrap_or_default();
    let decl = match (t.declare_ds, t.ds_prefix) {
        (false, _) => String::new(),
        (true, Some(prefix)) => format!(r#" xmlns:{prefix}="{}""#, ns::DS),
        (true, None) => format!(r#" xmlns="{}""#, ns::DS),
    };
    let inclusive = |list: Option<&str>| {
        list.map(|l| {
            format!(
                r#"<ec:InclusiveNamespaces xmlns:ec="{}" PrefixList="{l}"/>"#,
                ns::EXC_C14N
            )
        })
        .unwrap_or_default()
    };
    let c14n = ns::EXC_C14N;
    let c14n_list = inclusive(t.c14n_prefix_list);
    let reference_list = inclusive(t.reference_prefix_list);
    format!(
        r##"<{p}Signature{decl}>
<{p}SignedInfo>
<{p}CanonicalizationMethod Algorithm="{c14n}">{c14n_list}</{p}CanonicalizationMethod>
<{p}SignatureMethod Algorithm="{RSA_SHA256}"/>
<{p}Reference URI="#{id}">
<{p}Transforms>
<{p}Transform Algorithm="{ENVELOPED}"/>
<{p}Transform Algorithm="{c14n}">{reference_list}</{p}Transform>
</{p}Transforms>
<{p}DigestMethod Algorithm="{SHA256}"/>
<{p}DigestValue></{p}DigestValue>
</{p}Reference>
</{p}SignedInfo>
<{p}SignatureValue></{p}SignatureValue>
</{p}Signature>"##
    )
}

// ---- one case, end to end --------------------------------------------------------------------

struct Case<'a> {
    /// Printed in failure messages.
    name: &'a str,
    /// The document, with `{SIGNATURE}` where the template goes (a direct child of the element
    /// carrying `ID="{id}"`).
    document: &'a str,
    id: &'a str,
    /// The signed element for xmlsec1's `--id-attr:ID`: `[namespace-URI:]LocalName`.
    id_node: &'a str,
    template: Template<'a>,
    /// Write the document to disk with CRLF line ends (before signing, and again after
    /// xmlsec1 wrote the signed file, so that both parsers read CRLF).
    crlf: bool,
}

/// What xmlsec1 and samlgate agreed on.
struct Agreed {
    /// The bytes xmlsec1 digested for the Reference (= samlgate's c14n of the signed element).
    reference: String,
    /// The canonical SignedInfo xmlsec1 signed (= samlgate's).
    signed_info: String,
    /// The signed document as both read it.
    signed_xml: Vec<u8>,
}

fn run(program: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

/// Lone `\n` become `\r\n`.
fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    let mut previous = 0u8;
    for &b in bytes {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

fn escaped(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// Byte equality, or a panic showing both sides escaped and where they part.
fn assert_same_bytes(case: &str, what: &str, xmlsec1: &[u8], ours: &[u8], signed: &[u8]) {
    if xmlsec1 == ours {
        return;
    }
    let at = xmlsec1.iter().zip(ours).take_while(|(a, b)| a == b).count();
    let near = |bytes: &[u8]| {
        let start = at.saturating_sub(40);
        let end = at.saturating_add(40).min(bytes.len());
        bytes
            .get(start..end)
            .unwrap_or_default()
            .escape_ascii()
            .to_string()
    };
    panic!(
        "{case}: samlgate's exclusive c14n of {what} differs from xmlsec1's, first at byte {at} \
         (xmlsec1 {} bytes, ours {} bytes)\n\
         xmlsec1: {}\n\
         ours:    {}\n\
         around byte {at}:\n  xmlsec1: {}\n  ours:    {}\n\
         signed document:\n{}",
        xmlsec1.len(),
        ours.len(),
        escaped(xmlsec1),
        escaped(ours),
        near(xmlsec1),
        near(ours),
        String::from_utf8_lossy(signed)
    );
}

/// The InclusiveNamespaces PrefixList tokens under `method` (a CanonicalizationMethod or
/// Transform), as written in the signed document.
fn prefix_list(method: ElementRef<'_>) -> Vec<String> {
    method
        .first_child_named(ns::EXC_C14N, "InclusiveNamespaces")
        .and_then(|e| e.attr("PrefixList"))
        .map(|l| l.split_ascii_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// xmlsec1 signs `case`, then says what it digested and signed; samlgate must canonicalize the
/// same bytes and accept the signature. `None` when xmlsec1 is missing (outside CI).
fn xmlsec1_and_samlgate_agree(case: &Case<'_>) -> Option<Agreed> {
    if !peers::require_xmlsec1() {
        return None;
    }
    let name = case.name;
    let (key, cert) = signer();
    let work = tempfile::Builder::new()
        .prefix("c14n-awkward-")
        .tempdir()
        .unwrap();
    let dir = work.path();
    std::fs::write(dir.join("key.pem"), key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.to_pem().unwrap()).unwrap();

    assert_eq!(
        case.document.matches("{SIGNATURE}").count(),
        1,
        "{name}: the document has one {{SIGNATURE}} placeholder"
    );
    let template = case
        .document
        .replace("{SIGNATURE}", &signature_template(&case.template, case.id));
    let mut template = template.into_bytes();
    if case.crlf {
        template = to_crlf(&template);
    }
    std::fs::write(dir.join("template.xml"), &template).unwrap();

    // 1. xmlsec1 signs.
    let out = run(
        Path::new("xmlsec1"),
        dir,
        &[
            "--sign",
            "--privkey-pem",
            "key.pem,cert.pem",
            "--id-attr:ID",
            case.id_node,
            "--output",
            "signed.xml",
            "template.xml",
        ],
    );
    assert!(
        out.status.success(),
        "{name}: xmlsec1 --sign failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&template)
    );
    let mut signed = std::fs::read(dir.join("signed.xml")).unwrap();
    if case.crlf {
        signed = to_crlf(&signed);
        std::fs::write(dir.join("signed.xml"), &signed).unwrap();
        assert!(
            signed.windows(2).any(|w| w == b"\r\n"),
            "{name}: the signed file has CRLF line ends"
        );
    }

    // 2. xmlsec1 verifies it and says which bytes it digested and signed.
    let script = peers::repo_root()
        .join("tests")
        .join("interop")
        .join("xmlsec_c14n.sh");
    let id_spec = format!("ID:{}", case.id_node);
    let out = run(
        &script,
        dir,
        &["signed.xml", &id_spec, "cert.pem", "oracle"],
    );
    let log = std::fs::read_to_string(dir.join("oracle").join("xmlsec1.log")).unwrap_or_default();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name}: xmlsec1 did not verify its own signature: {}\n{log}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&signed)
    );
    let oracle = dir.join("oracle");
    let xmlsec1_reference = std::fs::read(oracle.join("reference-1.c14n"))
        .unwrap_or_else(|e| panic!("{name}: xmlsec1 printed no Reference data: {e}\n{log}"));
    assert!(
        !oracle.join("reference-2.c14n").exists(),
        "{name}: xmlsec1 digested one Reference"
    );
    let xmlsec1_signed_info = std::fs::read(oracle.join("signedinfo.c14n"))
        .unwrap_or_else(|e| panic!("{name}: xmlsec1 printed no SignedInfo data: {e}\n{log}"));

    // 3. samlgate parses the same file with its strict parser and canonicalizes the same nodes.
    let doc = parse(&signed, &ParseLimits::default()).unwrap_or_else(|e| {
        panic!(
            "{name}: samlgate's strict parser refused the signed document: {e}\n{}",
            String::from_utf8_lossy(&signed)
        )
    });
    let carrying_id: Vec<ElementRef<'_>> = doc
        .elements()
        .filter(|e| e.attr("ID") == Some(case.id))
        .collect();
    assert_eq!(
        carrying_id.len(),
        1,
        "{name}: one element has ID={:?}",
        case.id
    );
    let element = carrying_id[0];
    let signatures: Vec<ElementRef<'_>> = element.children_named(ns::DS, "Signature").collect();
    assert_eq!(
        signatures.len(),
        1,
        "{name}: one ds:Signature is a direct child of the signed element"
    );
    let signature = signatures[0];
    let signed_info = signature
        .first_child_named(ns::DS, "SignedInfo")
        .expect("ds:SignedInfo");
    let c14n_prefixes = prefix_list(
        signed_info
            .first_child_named(ns::DS, "CanonicalizationMethod")
            .expect("ds:CanonicalizationMethod"),
    );
    let c14n_transform = signed_info
        .first_child_named(ns::DS, "Reference")
        .and_then(|r| r.first_child_named(ns::DS, "Transforms"))
        .and_then(|t| {
            t.children_named(ns::DS, "Transform")
                .find(|t| t.attr("Algorithm") == Some(ns::EXC_C14N))
        })
        .expect("the Reference's exc-c14n ds:Transform");
    let reference_prefixes = prefix_list(c14n_transform);

    let ours = canonicalize(
        &doc,
        element.id(),
        Some(signature.id()),
        &reference_prefixes,
    )
    .expect("c14n of the signed element");
    assert_same_bytes(
        name,
        "the signed element (Reference)",
        &xmlsec1_reference,
        &ours,
        &signed,
    );
    let ours =
        canonicalize(&doc, signed_info.id(), None, &c14n_prefixes).expect("c14n of SignedInfo");
    assert_same_bytes(name, "ds:SignedInfo", &xmlsec1_signed_info, &ours, &signed);

    // 4. samlgate's verifier accepts what xmlsec1 signed.
    let keys = [VerificationKey::from_certificate(cert.clone(), "xmlsec1 signer").unwrap()];
    let verified = dsig::verify(&doc, element, &keys, false).unwrap_or_else(|e| {
        panic!(
            "{name}: samlgate refused xmlsec1's signature: {e}\n{}",
            String::from_utf8_lossy(&signed)
        )
    });
    assert_eq!(
        verified.signed_element,
        element.id(),
        "{name}: covered node"
    );
    assert_eq!(verified.reference_id, case.id, "{name}: reference");

    let utf8 = |bytes: Vec<u8>, what: &str| {
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{name}: xmlsec1's {what}: {e}"))
    };
    Some(Agreed {
        reference: utf8(xmlsec1_reference, "Reference data"),
        signed_info: utf8(xmlsec1_signed_info, "SignedInfo data"),
        signed_xml: signed,
    })
}

/// The case really exercises what its name says: xmlsec1's output shows the feature.
fn shows(agreed: &str, needle: &str, case: &str) {
    assert!(
        agreed.contains(needle),
        "{case}: expected xmlsec1's canonical form to contain {needle:?}, it is {agreed:?}"
    );
}

fn lacks(agreed: &str, needle: &str, case: &str) {
    assert!(
        !agreed.contains(needle),
        "{case}: expected xmlsec1's canonical form not to contain {needle:?}, it is {agreed:?}"
    );
}

// ---- default namespace ------------------------------------------------------------------------

#[test]
fn default_namespace_redeclared_on_an_ancestor_and_undeclared_inside_the_signed_subtree() {
    let case = Case {
        name: "default namespace redeclared",
        document: r#"<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="urn:example:outer" xmlns:x="urn:example:x">
  <Body xmlns="urn:example:inner">
    <Item ID="_dflt1" Kind="plain">{SIGNATURE}
      <Name>first</Name>
      <Raw xmlns="">
        <Leaf>no namespace here</Leaf>
        <Back xmlns="urn:example:inner"><Again/></Back>
        <Other xmlns="urn:example:outer"/>
        <Empty xmlns=""/>
      </Raw>
      <x:Tagged>prefixed</x:Tagged>
    </Item>
  </Body>
</Envelope>
"#,
        id: "_dflt1",
        id_node: "urn:example:inner:Item",
        template: PLAIN,
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    shows(
        r,
        r#"<Item xmlns="urn:example:inner" ID="_dflt1""#,
        case.name,
    );
    shows(r, r#"<Raw xmlns="">"#, case.name);
    shows(
        r,
        r#"<Back xmlns="urn:example:inner"><Again></Again></Back>"#,
        case.name,
    );
    shows(r, r#"<Other xmlns="urn:example:outer"></Other>"#, case.name);
    shows(r, "<Empty></Empty>", case.name);
    lacks(r, "Signature", case.name);
}

#[test]
fn signed_element_that_undeclares_the_inherited_default_namespace() {
    let case = Case {
        name: "apex with xmlns=\"\"",
        document: r#"<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="urn:example:outer">
  <Item xmlns="" ID="_nons1">{SIGNATURE}
    <Child>unqualified</Child>
    <Requalified xmlns="urn:example:outer"><Deeper xmlns=""/></Requalified>
  </Item>
</Envelope>
"#,
        id: "_nons1",
        id_node: "Item",
        template: PLAIN,
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    shows(r, r#"<Item ID="_nons1">"#, case.name);
    shows(
        r,
        r#"<Requalified xmlns="urn:example:outer"><Deeper xmlns=""></Deeper></Requalified>"#,
        case.name,
    );
}

// ---- prefixes ---------------------------------------------------------------------------------

#[test]
fn prefixes_declared_high_and_used_only_deep_in_the_signed_subtree_are_rendered_where_used() {
    let case = Case {
        name: "prefixes declared high, used low",
        document: r#"<?xml version="1.0" encoding="UTF-8"?>
<root:Top xmlns:root="urn:example:root" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:a="urn:example:a" xmlns:b="urn:example:b" xmlns:unused="urn:example:unused" xmlns:c="urn:example:c" xmlns="urn:example:default-unused">
  <root:Mid>
    <a:Signed ID="_high1">{SIGNATURE}
      <a:Level1>
        <a:Level2>
          <b:Deep c:flag="yes" plain="1">
            <b:Deeper c:flag="again"/>
            <b:Again xmlns:b="urn:example:b">same binding, not rendered again</b:Again>
          </b:Deep>
          <c:Leaf/>
          <a:Rebound xmlns:a="urn:example:a2"><a:In/></a:Rebound>
          <a:After/>
        </a:Level2>
      </a:Level1>
    </a:Signed>
  </root:Mid>
</root:Top>
"#,
        id: "_high1",
        id_node: "urn:example:a:Signed",
        template: Template {
            declare_ds: false,
            ..PLAIN
        },
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    shows(
        r,
        r#"<a:Signed xmlns:a="urn:example:a" ID="_high1">"#,
        case.name,
    );
    shows(
        r,
        r#"<b:Deep xmlns:b="urn:example:b" xmlns:c="urn:example:c" plain="1" c:flag="yes">"#,
        case.name,
    );
    shows(r, r#"<b:Deeper c:flag="again"></b:Deeper>"#, case.name);
    shows(r, "<b:Again>", case.name);
    shows(r, r#"<c:Leaf xmlns:c="urn:example:c"></c:Leaf>"#, case.name);
    shows(
        r,
        r#"<a:Rebound xmlns:a="urn:example:a2"><a:In></a:In></a:Rebound>"#,
        case.name,
    );
    shows(r, r#"<a:After></a:After>"#, case.name);
    lacks(r, "unused", case.name);
    lacks(r, "xmlns:root", case.name);
    lacks(r, "xmlns:ds", case.name);
    // ds is declared only on the root: SignedInfo carries it.
    shows(
        &agreed.signed_info,
        r#"<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">"#,
        case.name,
    );
}

const XS_RESPONSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_resp_xs" Version="2.0" IssueInstant="2026-11-22T12:00:00Z">
  <saml:Issuer>https://idp.example.com</saml:Issuer>
  <saml:Assertion ID="_assert_xs" Version="2.0" IssueInstant="2026-11-22T12:00:00Z">
    <saml:Issuer>https://idp.example.com</saml:Issuer>{SIGNATURE}
    <saml:AttributeStatement>
      <saml:Attribute Name="groups"><saml:AttributeValue xsi:type="xs:string">staff</saml:AttributeValue></saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
"#;

#[test]
fn prefix_used_only_in_attribute_content_is_kept_when_listed_in_inclusive_namespaces() {
    let case = Case {
        name: "xs listed in PrefixList",
        document: XS_RESPONSE,
        id: "_assert_xs",
        id_node: "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        template: Template {
            reference_prefix_list: Some("xs"),
            ..PLAIN
        },
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    shows(
        r,
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_assert_xs""#,
        case.name,
    );
    shows(
        r,
        r#"<saml:AttributeValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">"#,
        case.name,
    );
    // The list on the Reference transform does not reach SignedInfo.
    lacks(&agreed.signed_info, "xmlns:xs=", case.name);
}

#[test]
fn prefix_used_only_in_attribute_content_is_dropped_when_not_listed() {
    let case = Case {
        name: "xs not listed",
        document: XS_RESPONSE,
        id: "_assert_xs",
        id_node: "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        template: PLAIN,
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    lacks(r, "xmlns:xs=", case.name);
    shows(r, r#"xsi:type="xs:string""#, case.name);
    shows(
        r,
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_assert_xs""#,
        case.name,
    );
}

#[test]
fn inclusive_namespaces_default_token_renders_the_default_namespace_in_reference_and_signed_info() {
    let case = Case {
        name: "#default in PrefixList",
        document: r#"<?xml version="1.0" encoding="UTF-8"?>
<Wrapper xmlns="urn:example:dflt" xmlns:ex="urn:example:ex" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:spare="urn:example:spare">
  <ex:Signed ID="_incl1" type="xs:token">{SIGNATURE}
    <ex:Child xmlns="">
      <plain>no namespace</plain>
    </ex:Child>
    <ex:Other><Defaulted>back to the default</Defaulted></ex:Other>
  </ex:Signed>
</Wrapper>
"#,
        id: "_incl1",
        id_node: "urn:example:ex:Signed",
        template: Template {
            c14n_prefix_list: Some("#default spare"),
            reference_prefix_list: Some("#default xs"),
            ..PLAIN
        },
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    shows(
        r,
        r#"<ex:Signed xmlns="urn:example:dflt" xmlns:ex="urn:example:ex" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_incl1" type="xs:token">"#,
        case.name,
    );
    shows(r, r#"<ex:Child xmlns="">"#, case.name);
    lacks(r, "spare", case.name);
    let s = &agreed.signed_info;
    shows(s, r#"xmlns="urn:example:dflt""#, case.name);
    shows(s, r#"xmlns:spare="urn:example:spare""#, case.name);
    lacks(s, "xmlns:xs=", case.name);
}

#[test]
fn prefix_lists_with_duplicates_and_listed_prefixes_rebound_below_the_signed_element() {
    // samlgate reads each list once, deduplicated, and below the signed element looks at a
    // listed prefix only where it is declared again: xmlsec1, which reads the list as written
    // and considers it on every element, must digest and sign the same bytes. The harness
    // canonicalizes with the tokens as written (duplicates included) and verifies with the
    // list as the verifier reads it (deduplicated): both must agree with xmlsec1.
    let case = Case {
        name: "duplicated and rebound PrefixList entries",
        document: r#"<?xml version="1.0" encoding="UTF-8"?>
<Root xmlns="urn:example:root" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:l="urn:example:listed-1">
  <ex:Signed xmlns:ex="urn:example:ex" ID="_dups1" type="xs:token">{SIGNATURE}
    <ex:Plain>nothing listed is declared here</ex:Plain>
    <ex:Rebinds xmlns:l="urn:example:listed-2"><ex:Inner>l is bound above</ex:Inner></ex:Rebinds>
    <ex:Same xmlns:l="urn:example:listed-1">the binding the signed element rendered</ex:Same>
    <ex:Deep><ex:Deeper xmlns:d="urn:example:deep-only">d is declared here only</ex:Deeper></ex:Deep>
    <ex:Undeclares xmlns=""><plain>no default namespace</plain></ex:Undeclares>
  </ex:Signed>
</Root>
"#,
        id: "_dups1",
        id_node: "urn:example:ex:Signed",
        template: Template {
            c14n_prefix_list: Some("#default ex #default ex"),
            reference_prefix_list: Some("xs l xs d #default l xs d"),
            ..PLAIN
        },
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    shows(
        r,
        r#"<ex:Signed xmlns="urn:example:root" xmlns:ex="urn:example:ex" xmlns:l="urn:example:listed-1" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_dups1" type="xs:token">"#,
        case.name,
    );
    shows(r, "<ex:Plain>", case.name);
    shows(
        r,
        r#"<ex:Rebinds xmlns:l="urn:example:listed-2"><ex:Inner>"#,
        case.name,
    );
    shows(r, "<ex:Same>", case.name);
    shows(
        r,
        r#"<ex:Deep><ex:Deeper xmlns:d="urn:example:deep-only">"#,
        case.name,
    );
    shows(r, r#"<ex:Undeclares xmlns=""><plain>"#, case.name);

    // The deduplicated lists canonicalize to the same bytes as the lists as written.
    let doc = parse(&agreed.signed_xml, &ParseLimits::default()).unwrap();
    let signed = doc
        .elements()
        .find(|e| e.attr("ID") == Some("_dups1"))
        .unwrap();
    let signature = signed.first_child_named(ns::DS, "Signature").unwrap();
    let deduplicated: Vec<String> = ["#default", "d", "l", "xs"].map(String::from).to_vec();
    let ours = canonicalize(&doc, signed.id(), Some(signature.id()), &deduplicated).unwrap();
    assert_eq!(String::from_utf8(ours).unwrap(), agreed.reference);
}

#[test]
fn signature_in_the_default_namespace_with_inclusive_namespaces_on_the_canonicalization_method() {
    let case = Case {
        name: "unprefixed ds:Signature",
        document: r#"<?xml version="1.0" encoding="UTF-8"?>
<Outer xmlns="urn:example:outer" xmlns:ex="urn:example:ex" xmlns:keep="urn:example:keep">
  <ex:Signed ID="_dsdef1">{SIGNATURE}
    <Inner>in the outer default namespace</Inner>
  </ex:Signed>
</Outer>
"#,
        id: "_dsdef1",
        id_node: "urn:example:ex:Signed",
        template: Template {
            ds_prefix: None,
            c14n_prefix_list: Some("keep ex"),
            ..PLAIN
        },
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    shows(
        &agreed.reference,
        r#"<ex:Signed xmlns:ex="urn:example:ex" ID="_dsdef1">"#,
        case.name,
    );
    shows(
        &agreed.reference,
        r#"<Inner xmlns="urn:example:outer">"#,
        case.name,
    );
    shows(
        &agreed.signed_info,
        r#"<SignedInfo xmlns="http://www.w3.org/2000/09/xmldsig#" xmlns:ex="urn:example:ex" xmlns:keep="urn:example:keep">"#,
        case.name,
    );
}

// ---- attributes -------------------------------------------------------------------------------

#[test]
fn attributes_sort_by_namespace_uri_then_local_name_and_xml_attributes_are_not_inherited() {
    let case = Case {
        name: "attribute order",
        document: r#"<?xml version="1.0" encoding="UTF-8"?>
<doc xmlns="urn:example:doc" xmlns:z="urn:example:a-first" xmlns:a="urn:example:z-last" xml:lang="en" xml:space="default">
  <Signed a:beta="4" zeta="u1" z:beta="2" ID="_attrs1" a:alpha="1" alpha="u2" z:alpha="3" xml:space="preserve">{SIGNATURE}
    <Child xml:lang="de" a:x="1" z:x="2" b="3" a="4" xml:space="default"/>
  </Signed>
</doc>
"#,
        id: "_attrs1",
        id_node: "urn:example:doc:Signed",
        template: PLAIN,
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    shows(
        r,
        r#"<Signed xmlns="urn:example:doc" xmlns:a="urn:example:z-last" xmlns:z="urn:example:a-first" ID="_attrs1" alpha="u2" zeta="u1" xml:space="preserve" z:alpha="3" z:beta="2" a:alpha="1" a:beta="4">"#,
        case.name,
    );
    shows(
        r,
        r#"<Child a="4" b="3" xml:lang="de" xml:space="default" z:x="2" a:x="1"></Child>"#,
        case.name,
    );
    lacks(r, r#"xml:lang="en""#, case.name);
}

#[test]
fn escapes_and_character_references_in_text_and_attributes() {
    // {TAB} and {LF} stand for literal tab and newline characters.
    let document = r#"<?xml version="1.0" encoding="UTF-8"?>
<ex:Root xmlns:ex="urn:example:esc">
  <ex:Signed ID="_esc1" amp="a &amp; b" lt="1 &lt; 2" gt="3 > 2 &gt; 1" quot="say &quot;hi&quot;" apos='it&apos;s "q"' cr="x&#13;y" tab="x&#9;y" lf="x&#10;y" crlf="a&#13;&#10;b" literal="tab{TAB}newline{LF}end">{SIGNATURE}
    <ex:Text>a &amp; b &lt; c &gt; d "quoted" 'apos' cr&#13;here tab&#9;here lf&#10;here &#x41;&#66; 1 > 0</ex:Text>
    <ex:Tabs>{TAB}literal{TAB}tabs{TAB}</ex:Tabs>
  </ex:Signed>
</ex:Root>
"#
    .replace("{TAB}", "\t")
    .replace("{LF}", "\n");
    let case = Case {
        name: "escapes",
        document: &document,
        id: "_esc1",
        id_node: "urn:example:esc:Signed",
        template: PLAIN,
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    shows(r, r#"amp="a &amp; b""#, case.name);
    shows(r, r#"lt="1 &lt; 2""#, case.name);
    shows(r, r#"gt="3 > 2 > 1""#, case.name);
    shows(r, r#"quot="say &quot;hi&quot;""#, case.name);
    shows(r, r#"apos="it's &quot;q&quot;""#, case.name);
    shows(r, r#"cr="x&#xD;y""#, case.name);
    shows(r, r#"tab="x&#x9;y""#, case.name);
    shows(r, r#"lf="x&#xA;y""#, case.name);
    shows(r, r#"crlf="a&#xD;&#xA;b""#, case.name);
    shows(r, r#"literal="tab newline end""#, case.name);
    shows(
        r,
        "a &amp; b &lt; c &gt; d \"quoted\" 'apos' cr&#xD;here tab\there lf\nhere AB 1 &gt; 0",
        case.name,
    );
    shows(r, "<ex:Tabs>\tliteral\ttabs\t</ex:Tabs>", case.name);
}

#[test]
fn cdata_sections_and_crlf_line_ends_become_escaped_text_with_newlines() {
    let case = Case {
        name: "CDATA and CRLF",
        document: r#"<?xml version="1.0" encoding="UTF-8"?>
<ex:Root xmlns:ex="urn:example:cdata">
  <ex:Signed ID="_cdata1" note="line one
line two">{SIGNATURE}
    <ex:Script><![CDATA[if (a < b && c > d) { x = "]]"; y = ']'; }]]></ex:Script>
    <ex:Split><![CDATA[x]]]]><![CDATA[>y]]></ex:Split>
    <ex:Mixed>before <![CDATA[<inside> & &amp; ]]> after</ex:Mixed>
    <ex:Lines>line one
line two<![CDATA[
cdata line
]]>end</ex:Lines>
    <ex:EmptyCdata><![CDATA[]]></ex:EmptyCdata>
  </ex:Signed>
</ex:Root>
"#,
        id: "_cdata1",
        id_node: "urn:example:cdata:Signed",
        template: PLAIN,
        crlf: true,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    shows(
        r,
        r#"<ex:Script>if (a &lt; b &amp;&amp; c &gt; d) { x = "]]"; y = ']'; }</ex:Script>"#,
        case.name,
    );
    shows(r, "<ex:Split>x]]&gt;y</ex:Split>", case.name);
    shows(
        r,
        "<ex:Mixed>before &lt;inside&gt; &amp; &amp;amp;  after</ex:Mixed>",
        case.name,
    );
    shows(
        r,
        "<ex:Lines>line one\nline two\ncdata line\nend</ex:Lines>",
        case.name,
    );
    shows(r, "<ex:EmptyCdata></ex:EmptyCdata>", case.name);
    lacks(r, "\r", case.name);
    lacks(r, "CDATA", case.name);
}

// ---- where the signed element sits, and what is not signed -----------------------------------

#[test]
fn signed_element_that_is_not_the_root_leaves_out_its_siblings() {
    let case = Case {
        name: "signed element among siblings",
        document: r#"<?xml version="1.0" encoding="UTF-8"?>
<ex:Batch xmlns:ex="urn:example:batch" xmlns:other="urn:example:other">
  leading text
  <ex:Entry ID="_e0">before<ex:Note>n0</ex:Note></ex:Entry>
  <other:Entry ID="_o1">an unrelated sibling</other:Entry>
  <ex:Entry ID="_e1" seq="1">{SIGNATURE}<ex:Note>the signed one</ex:Note>
  </ex:Entry>
  <ex:Entry ID="_e2">after</ex:Entry>
  trailing text
</ex:Batch>
"#,
        id: "_e1",
        id_node: "urn:example:batch:Entry",
        template: PLAIN,
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    shows(
        r,
        r#"<ex:Entry xmlns:ex="urn:example:batch" ID="_e1" seq="1">"#,
        case.name,
    );
    shows(r, "<ex:Note>the signed one</ex:Note>", case.name);
    assert!(r.ends_with("</ex:Entry>"), "{}: {r:?}", case.name);
    for outside in [
        "leading",
        "before",
        "unrelated",
        "after",
        "trailing",
        "other",
    ] {
        lacks(r, outside, case.name);
    }
}

#[test]
fn comments_inside_the_signed_subtree_are_dropped() {
    let case = Case {
        name: "comments",
        document: r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment before the root -->
<ex:Root xmlns:ex="urn:example:comments">
  <!-- a comment outside the signed element -->
  <ex:Signed ID="_cmt1"><!-- first child is a comment -->{SIGNATURE}
    <ex:Name>ali<!-- inside a value -->ce</ex:Name>
    <!-- between elements -->
    <ex:Empty><!----></ex:Empty>
    <ex:Spaced> <!-- x --> </ex:Spaced>
  </ex:Signed>
  <!-- after -->
</ex:Root>
<!-- after the root -->
"#,
        id: "_cmt1",
        id_node: "urn:example:comments:Signed",
        template: PLAIN,
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    assert!(
        String::from_utf8_lossy(&agreed.signed_xml).contains("<!-- inside a value -->"),
        "{}: the signed document still holds its comments",
        case.name
    );
    lacks(r, "<!--", case.name);
    shows(r, "<ex:Name>alice</ex:Name>", case.name);
    shows(r, "<ex:Empty></ex:Empty>", case.name);
    shows(r, "<ex:Spaced>  </ex:Spaced>", case.name);
    shows(r, "\n    \n    <ex:Empty>", case.name);
}

// ---- non-ASCII ---------------------------------------------------------------------------------

#[test]
fn non_ascii_text_attributes_and_names_pass_through_as_utf8() {
    let case = Case {
        name: "non-ASCII",
        document: r#"<?xml version="1.0" encoding="UTF-8"?>
<ex:Root xmlns:ex="urn:example:intl" xmlns:ü="urn:example:umlaut">
  <ex:Signed ID="_intl1" name="Zoë Ñandú" ü:note="日本語 ✓" ref="caf&#233; &#x1F600;">{SIGNATURE}
    <ex:Greeting xml:lang="el">Καλημέρα κόσμε 👋</ex:Greeting>
    <ex:Prénom>François</ex:Prénom>
    <ü:Straße>Grüße &amp; ß &#xE9;&#233;</ü:Straße>
  </ex:Signed>
</ex:Root>
"#,
        id: "_intl1",
        id_node: "urn:example:intl:Signed",
        template: PLAIN,
        crlf: false,
    };
    let Some(agreed) = xmlsec1_and_samlgate_agree(&case) else {
        return;
    };
    let r = &agreed.reference;
    shows(
        r,
        r#"<ex:Signed xmlns:ex="urn:example:intl" xmlns:ü="urn:example:umlaut" ID="_intl1" name="Zoë Ñandú" ref="café 😀" ü:note="日本語 ✓">"#,
        case.name,
    );
    shows(r, "Καλημέρα κόσμε 👋", case.name);
    shows(r, "<ex:Prénom>François</ex:Prénom>", case.name);
    shows(r, "<ü:Straße>Grüße &amp; ß éé</ü:Straße>", case.name);
}
