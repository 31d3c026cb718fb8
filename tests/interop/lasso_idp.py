#!/usr/bin/python3
"""Lasso (Entr'ouvert's SAML library, Debian package python3-lasso) as an IdP
nobody on the samlgate team wrote.

Produces one SAML 2.0 Response with Lasso's IdP side of the Web SSO profile
(lasso.Login: processAuthnRequestMsg, validateRequestMsg, buildAssertion,
buildAuthnResponseMsg) and prints the base64 value of the HTTP-POST form
field SAMLResponse on stdout. The IdP metadata goes to --metadata-out.

Must run with Debian's own interpreter, the only one with the lasso module:
    /usr/bin/python3 tests/interop/lasso_idp.py --help

What Lasso does by itself, and what this driver adds:
- Lasso always signs the assertion it builds (buildAssertion sets up the
  signature); the response signature follows the profile's signature hint
  (FORCE / FORBID). For --sign none and --sign response, the driver moves the
  assertion's content into a fresh lasso.Saml2Assertion without a signature
  set up, and encrypts that one with Lasso's own Provider.saml2NodeEncrypt.
- Encryption: Provider.setEncryptionMode(ENCRYPTION_MODE_ASSERTION), with
  setEncryptionSymKeyType (aes128-cbc, aes256-cbc, tripledes-cbc) and
  setKeyEncryptionMethod (rsa-oaep-mgf1p, rsa-1_5). Lasso offers no AES-192
  and no GCM.
- A response to a request (--in-response-to) answers an AuthnRequest that the
  driver writes with that ID and hands to Lasso as an HTTP-POST message.
"""

import base64
import datetime
import os
import sys
from xml.sax.saxutils import quoteattr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_common as pc  # noqa: E402

try:
    import lasso
except ImportError as e:  # pragma: no cover - environment problem
    print(
        f"lasso_idp: error: cannot import lasso with {sys.executable} ({e}); "
        "run with /usr/bin/python3 after scripts/install-test-deps",
        file=sys.stderr,
    )
    sys.exit(3)

PROG = "lasso_idp"

LASSO_SIG_ALGS = {
    "rsa-sha1": lasso.SIGNATURE_METHOD_RSA_SHA1,
    "rsa-sha256": lasso.SIGNATURE_METHOD_RSA_SHA256,
    "rsa-sha512": lasso.SIGNATURE_METHOD_RSA_SHA512,
}
LASSO_DATA_ENC = {
    "aes128-cbc": lasso.ENCRYPTION_SYM_KEY_TYPE_AES_128,
    "aes256-cbc": lasso.ENCRYPTION_SYM_KEY_TYPE_AES_256,
    "tripledes-cbc": lasso.ENCRYPTION_SYM_KEY_TYPE_3DES,
}
LASSO_KEY_TRANSPORT = {
    "rsa-oaep-mgf1p": lasso.KEY_ENCRYPTION_METHOD_OAEP,
    "rsa-1_5": lasso.KEY_ENCRYPTION_METHOD_PKCS1,
}
# Lasso builds its digest from the signature method; --digest must agree.
SIG_DIGEST = {"rsa-sha1": "sha1", "rsa-sha256": "sha256", "rsa-sha512": "sha512"}

# The fields of a saml:Assertion, copied to an unsigned assertion.
ASSERTION_FIELDS = [
    "id",
    "issueInstant",
    "version",
    "issuer",
    "subject",
    "conditions",
    "advice",
    "statement",
    "authnStatement",
    "authzDecisionStatement",
    "attributeStatement",
]


def instant(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def idp_metadata_xml(entity_id, cert_pem):
    cert = pc.cert_base64(cert_pem)
    sso = entity_id.rstrip("/") + "/sso"
    key_descriptors = "".join(
        f'<md:KeyDescriptor use="{use}"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f"<ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</md:KeyDescriptor>"
        for use in ("signing", "encryption")
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID={quoteattr(entity_id)}>'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{key_descriptors}"
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f"Location={quoteattr(sso)}/>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f"Location={quoteattr(sso)}/>"
        "</md:IDPSSODescriptor></md:EntityDescriptor>\n"
    )


def authn_request_b64(args, now):
    """The AuthnRequest the response answers: ID = --in-response-to."""
    sso = args.idp_entity_id.rstrip("/") + "/sso"
    xml = (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID={quoteattr(args.in_response_to)} Version="2.0" IssueInstant="{instant(now)}" '
        f"Destination={quoteattr(sso)} "
        'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f"AssertionConsumerServiceURL={quoteattr(args.acs_url)}>"
        f"<saml:Issuer>{escape_text(args.sp_entity_id)}</saml:Issuer>"
        '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" AllowCreate="true"/>'
        "</samlp:AuthnRequest>"
    )
    return base64.b64encode(xml.encode("utf-8")).decode("ascii")


def escape_text(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attribute_statement(attributes):
    statement = lasso.Saml2AttributeStatement()
    attrs = []
    for name, values in attributes.items():
        attr = lasso.Saml2Attribute()
        attr.name = name
        attr.nameFormat = lasso.SAML2_ATTRIBUTE_NAME_FORMAT_URI
        vals = []
        for v in values:
            text = lasso.MiscTextNode.newWithString(v)
            text.textChild = True
            value = lasso.Saml2AttributeValue()
            value.any = (text,)
            vals.append(value)
        attr.attributeValue = tuple(vals)
        attrs.append(attr)
    statement.attribute = tuple(attrs)
    return statement


def make_response(args):
    if SIG_DIGEST[args.sig_alg] != args.digest:
        raise pc.DriverError(
            f"Lasso derives the digest from the signature method: --sig-alg {args.sig_alg} "
            f"digests with {SIG_DIGEST[args.sig_alg]}, not {args.digest}"
        )
    key_path, crt_path = pc.idp_key_and_cert(args, "lasso")
    key_pem, crt_pem = pc.read_text(key_path), pc.read_text(crt_path)
    idp_md = idp_metadata_xml(args.idp_entity_id, crt_pem)
    if args.metadata_out:
        pc.write_text(args.metadata_out, idp_md)
    sp_cert_pem = pc.read_text(args.sp_cert) if args.sp_cert else None
    sp_md = pc.sp_metadata_xml(args.sp_entity_id, args.acs_url, sp_cert_pem)

    server = lasso.Server.newFromBuffers(idp_md, key_pem, None, crt_pem)
    server.signatureMethod = LASSO_SIG_ALGS[args.sig_alg]
    server.addProviderFromBuffer(lasso.PROVIDER_ROLE_SP, sp_md)
    sp = server.getProvider(args.sp_entity_id)
    encrypt = args.encrypt != "none"
    if encrypt:
        sp.setEncryptionMode(lasso.ENCRYPTION_MODE_ASSERTION)
        sp.setEncryptionSymKeyType(LASSO_DATA_ENC[args.encrypt])
        sp.setKeyEncryptionMethod(LASSO_KEY_TRANSPORT[args.key_transport])

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    not_on_or_after = now + datetime.timedelta(minutes=args.lifetime_minutes)

    login = lasso.Login(server)
    if args.in_response_to is None:
        login.initIdpInitiatedAuthnRequest(args.sp_entity_id)
        login.request.protocolBinding = lasso.SAML2_METADATA_BINDING_POST
        login.request.nameIdPolicy.format = lasso.SAML2_NAME_IDENTIFIER_FORMAT_UNSPECIFIED
        login.request.nameIdPolicy.allowCreate = True
        login.processAuthnRequestMsg(None)
    else:
        login.setSignatureVerifyHint(lasso.PROFILE_SIGNATURE_VERIFY_HINT_IGNORE)
        login.processAuthnRequestMsg(authn_request_b64(args, now))
    login.validateRequestMsg(True, True)
    login.buildAssertion(
        lasso.SAML2_AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT,
        instant(now),
        None,
        instant(now),
        instant(not_on_or_after),
    )

    assertion = login.assertion
    name_id = assertion.subject.nameID
    name_id.content = args.name_id
    name_id.format = lasso.SAML2_NAME_IDENTIFIER_FORMAT_UNSPECIFIED
    name_id.nameQualifier = None
    name_id.spNameQualifier = None
    if args.attributes:
        assertion.attributeStatement = (attribute_statement(args.attributes),)

    sign_assertion = args.sign in ("assertion", "both")
    sign_response = args.sign in ("response", "both")
    login.setSignatureHint(lasso.PROFILE_SIGNATURE_HINT_FORCE if sign_response else lasso.PROFILE_SIGNATURE_HINT_FORBID)
    if not sign_assertion:
        # Lasso has no switch for an unsigned assertion: carry the content
        # over to an assertion that never had a signature set up.
        unsigned = lasso.Saml2Assertion()
        for field in ASSERTION_FIELDS:
            setattr(unsigned, field, getattr(assertion, field))
        if encrypt:
            encrypted = sp.saml2NodeEncrypt(unsigned)
            if encrypted is None:
                raise pc.DriverError("Lasso could not encrypt the assertion (Provider.saml2NodeEncrypt)")
            login.response.assertion = ()
            login.response.encryptedAssertion = (encrypted,)
        else:
            login.response.assertion = (unsigned,)

    login.buildAuthnResponseMsg()
    if login.msgUrl != args.acs_url:
        raise pc.DriverError(f"Lasso addressed the response to {login.msgUrl!r}, not --acs-url {args.acs_url!r}")
    return base64.b64decode(login.msgBody)


def main(argv=None):
    parser = pc.build_arg_parser(
        "Produce a SAML Response with Lasso's IdP (base64 SAMLResponse on stdout).",
        encrypt_choices=["none", *LASSO_DATA_ENC],
        key_transport_choices=list(LASSO_KEY_TRANSPORT),
        sig_alg_choices=list(LASSO_SIG_ALGS),
    )
    args = pc.parse_args(parser, argv)
    try:
        xml = make_response(args)
    except (pc.DriverError, lasso.Error) as e:
        pc.fail(PROG, f"{type(e).__name__}: {e}")
    if args.xml_out:
        pc.write_text(args.xml_out, xml.decode("utf-8"))
    sys.stdout.write(base64.b64encode(xml).decode("ascii") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
