"""Lasso (Debian python3-lasso) as an IdP building a LogoutRequest for samlgate's tests.

Lasso's IdP signs a user in (lasso.Login: initIdpInitiatedAuthnRequest, buildAssertion), so
that its session knows the SP, then starts Single Logout for that SP with lasso.Logout
(initRequest, buildRequestMsg): Lasso itself picks the SP's SingleLogoutService from the SP
metadata, writes the NameID and SessionIndex of the session, and signs the message the way the
binding requires (query-string signature for HTTP-Redirect, enveloped for HTTP-POST). Lasso
always signs a logout message it sends; the tests make unsigned and tampered copies themselves.

Prints on stdout: for --binding redirect the whole URL; for --binding post the base64 form
value. The IdP metadata goes to --metadata-out.

    /usr/bin/python3 tests/interop/lasso_logout.py --help
"""

import argparse
import datetime
import os
import sys
from xml.sax.saxutils import quoteattr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_common as pc  # noqa: E402

try:
    import lasso
except ImportError as e:  # pragma: no cover - environment problem
    print(f"lasso_logout: error: cannot import lasso with {sys.executable} ({e})", file=sys.stderr)
    sys.exit(3)

import lasso_idp  # noqa: E402

PROG = "lasso_logout"


def sp_metadata_xml(sp_entity_id, slo_url):
    acs = slo_url.rsplit("/", 1)[0] + "/acs"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID={quoteattr(sp_entity_id)}>'
        '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f"Location={quoteattr(slo_url)}/>"
        '<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f"Location={quoteattr(slo_url)}/>"
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>"
        '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location={quoteattr(acs)} index="0" isDefault="true"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>\n"
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binding", choices=["redirect", "post"], required=True)
    p.add_argument("--sig-alg", choices=list(lasso_idp.LASSO_SIG_ALGS), default="rsa-sha256")
    p.add_argument("--destination", required=True, help="the SP's SLO URL")
    p.add_argument("--sp-entity-id", required=True)
    p.add_argument("--idp-entity-id", default="https://idp.interop.test/idp")
    p.add_argument("--name-id", default="alice@example.org")
    p.add_argument("--relay-state", default=None)
    p.add_argument("--idp-key", default=None)
    p.add_argument("--idp-cert", default=None)
    p.add_argument("--metadata-out", default=None)
    args = p.parse_args(argv)
    if (args.idp_key is None) != (args.idp_cert is None):
        p.error("give both --idp-key and --idp-cert, or neither")
    key_path, crt_path = pc.idp_key_and_cert(args, "lasso")
    key_pem, crt_pem = pc.read_text(key_path), pc.read_text(crt_path)
    idp_md = lasso_idp.idp_metadata_xml(args.idp_entity_id, crt_pem)
    if args.metadata_out:
        pc.write_text(args.metadata_out, idp_md)
    server = lasso.Server.newFromBuffers(idp_md, key_pem, None, crt_pem)
    server.signatureMethod = lasso_idp.LASSO_SIG_ALGS[args.sig_alg]
    server.addProviderFromBuffer(lasso.PROVIDER_ROLE_SP, sp_metadata_xml(args.sp_entity_id, args.destination))

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    later = now + datetime.timedelta(minutes=5)
    login = lasso.Login(server)
    login.initIdpInitiatedAuthnRequest(args.sp_entity_id)
    login.request.protocolBinding = lasso.SAML2_METADATA_BINDING_POST
    login.request.nameIdPolicy.format = lasso.SAML2_NAME_IDENTIFIER_FORMAT_UNSPECIFIED
    login.request.nameIdPolicy.allowCreate = True
    login.processAuthnRequestMsg(None)
    login.validateRequestMsg(True, True)
    login.buildAssertion(
        lasso.SAML2_AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT,
        lasso_idp.instant(now),
        None,
        lasso_idp.instant(now),
        lasso_idp.instant(later),
    )
    name_id = login.assertion.subject.nameID
    name_id.content = args.name_id
    name_id.format = lasso.SAML2_NAME_IDENTIFIER_FORMAT_UNSPECIFIED
    name_id.nameQualifier = None
    name_id.spNameQualifier = None
    login.buildAuthnResponseMsg()

    logout = lasso.Logout(server)
    logout.setSessionFromDump(login.session.dump())
    method = lasso.HTTP_METHOD_REDIRECT if args.binding == "redirect" else lasso.HTTP_METHOD_POST
    logout.initRequest(args.sp_entity_id, method)
    logout.setSignatureHint(lasso.PROFILE_SIGNATURE_HINT_FORCE)
    if args.relay_state is not None:
        logout.msgRelayState = args.relay_state
    logout.buildRequestMsg()
    if args.binding == "redirect":
        sys.stdout.write(logout.msgUrl + "\n")
    else:
        if logout.msgUrl != args.destination:
            raise pc.DriverError(f"Lasso addressed the request to {logout.msgUrl!r}")
        sys.stdout.write(logout.msgBody + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (pc.DriverError, lasso.Error) as e:
        pc.fail(PROG, str(e))
