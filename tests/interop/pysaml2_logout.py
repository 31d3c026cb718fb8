#!/usr/bin/env python3
"""pysaml2's IdP building Single Logout messages for samlgate's tests.

A LogoutRequest (saml2.entity.Entity.create_logout_request) or a LogoutResponse
(Entity._status_response with samlp.LogoutResponse, as create_logout_response does), put on
the wire by pysaml2's own bindings (Entity.apply_binding: HTTP-Redirect with the query-string
signature, or HTTP-POST with the enveloped signature made by xmlsec1).

Prints on stdout: for --binding redirect the whole Location URL; for --binding post the base64
form value (SAMLRequest or SAMLResponse); for --binding soap the SOAP envelope
(saml2.pack.make_soap_enveloped_saml_thingy) around the enveloped-signed message. The IdP metadata goes to --metadata-out.

    build/venv/bin/python tests/interop/pysaml2_logout.py --help
"""

import argparse
import base64
import os
import shutil
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore", message="CFB has been moved")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_common as pc  # noqa: E402

try:
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
    from saml2.config import IdPConfig
    from saml2.metadata import entity_descriptor
    from saml2.pack import make_soap_enveloped_saml_thingy
    from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, NameID
    from saml2.samlp import STATUS_PARTIAL_LOGOUT, STATUS_RESPONDER, STATUS_SUCCESS
    from saml2.server import Server
    from saml2.time_util import in_a_while
except ImportError as e:  # pragma: no cover - environment problem
    print(f"pysaml2_logout: error: pysaml2 is not importable ({e}); run scripts/install-test-deps", file=sys.stderr)
    sys.exit(3)

PROG = "pysaml2_logout"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=["request", "response"], default="request")
    p.add_argument("--binding", choices=["redirect", "post", "soap"], required=True)
    p.add_argument("--sign", choices=["yes", "no"], default="yes")
    p.add_argument("--sig-alg", choices=list(pc.SIG_ALGS), default="rsa-sha256")
    p.add_argument("--destination", required=True, help="the SP's SLO URL (Destination)")
    p.add_argument("--sp-entity-id", required=True)
    p.add_argument("--idp-entity-id", default="https://idp.interop.test/idp")
    p.add_argument("--name-id", default="alice@example.org")
    p.add_argument("--session-index", action="append", default=[])
    p.add_argument("--relay-state", default="")
    p.add_argument("--in-response-to", default=None, help="LogoutResponse: the request it answers")
    p.add_argument("--status", choices=["success", "partial"], default="success")
    p.add_argument("--idp-key", default=None)
    p.add_argument("--idp-cert", default=None)
    p.add_argument("--metadata-out", default=None)
    args = p.parse_args(argv)
    if (args.idp_key is None) != (args.idp_cert is None):
        p.error("give both --idp-key and --idp-cert, or neither")
    if args.kind == "response" and not args.in_response_to:
        p.error("--kind response needs --in-response-to")
    sig_alg = pc.SIG_ALGS[args.sig_alg]
    digest = pc.DIGEST_ALGS[args.sig_alg.split("-", 1)[1]]
    key, crt = pc.idp_key_and_cert(args, "pysaml2")
    sign = args.sign == "yes"
    with tempfile.TemporaryDirectory(prefix="pysaml2-logout-") as workdir:
        sp_md = os.path.join(workdir, "sp.xml")
        pc.write_text(sp_md, pc.sp_metadata_xml(args.sp_entity_id, args.destination))
        base = args.idp_entity_id.rstrip("/")
        conf = IdPConfig()
        conf.load(
            {
                "entityid": args.idp_entity_id,
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [(base + "/sso", BINDING_HTTP_REDIRECT)],
                            "single_logout_service": [
                                (base + "/slo", BINDING_HTTP_REDIRECT),
                                (base + "/slo", BINDING_HTTP_POST),
                            ],
                        },
                        "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
                    }
                },
                "key_file": key,
                "cert_file": crt,
                "xmlsec_binary": shutil.which("xmlsec1"),
                "metadata": {"local": [sp_md]},
                "delete_tmpfiles": True,
                "signing_algorithm": sig_alg,
                "digest_algorithm": digest,
            }
        )
        if args.metadata_out:
            pc.write_text(args.metadata_out, str(entity_descriptor(conf)))
        server = Server(config=conf)
        # Signed POST messages carry an enveloped signature; Redirect ones the query signature.
        sign_xml = sign and args.binding in ("post", "soap")
        if args.kind == "request":
            _id, message = server.create_logout_request(
                destination=args.destination,
                issuer_entity_id=args.sp_entity_id,
                name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=args.name_id),
                expire=in_a_while(minutes=5),
                session_indexes=args.session_index or None,
                sign=sign_xml,
                sign_alg=sig_alg,
                digest_alg=digest,
            )
            typ_response = False
        else:
            if args.status == "success":
                status = samlp.Status(status_code=samlp.StatusCode(value=STATUS_SUCCESS))
            else:
                status = samlp.Status(
                    status_code=samlp.StatusCode(
                        value=STATUS_RESPONDER, status_code=samlp.StatusCode(value=STATUS_PARTIAL_LOGOUT)
                    )
                )
            message = server._status_response(
                samlp.LogoutResponse,
                server._issuer(),
                status,
                sign_xml,
                sign_alg=sig_alg,
                digest_alg=digest,
                in_response_to=args.in_response_to,
                destination=args.destination,
            )
            typ_response = True
        if args.binding == "soap":
            envelope = make_soap_enveloped_saml_thingy(message)
            if isinstance(envelope, bytes):
                envelope = envelope.decode("utf-8")
            sys.stdout.write(envelope + "\n")
            return 0
        binding = BINDING_HTTP_REDIRECT if args.binding == "redirect" else BINDING_HTTP_POST
        info = server.apply_binding(
            binding,
            str(message),
            destination=args.destination,
            relay_state=args.relay_state,
            response=typ_response,
            sign=sign and args.binding == "redirect",
            sigalg=sig_alg,
        )
    if args.binding == "redirect":
        location = dict(info["headers"])["Location"]
        sys.stdout.write(location + "\n")
    else:
        xml = str(message).encode("utf-8")
        sys.stdout.write(base64.b64encode(xml).decode("ascii") + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except pc.DriverError as e:
        pc.fail(PROG, str(e))
