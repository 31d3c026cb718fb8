#!/usr/bin/env python3
"""pysaml2 as an IdP nobody on the samlgate team wrote.

Produces one SAML 2.0 Response with pysaml2's own IdP machinery
(saml2.server.Server.create_authn_response, which signs and encrypts through
the xmlsec1 binary) and prints the base64 value of the HTTP-POST form field
SAMLResponse on stdout. The IdP metadata (pysaml2's own
saml2.metadata.entity_descriptor) goes to --metadata-out.

Run with the virtualenv made by scripts/install-test-deps:
    build/venv/bin/python tests/interop/pysaml2_idp.py --help

The response carries the real current time (pysaml2 reads the system clock).
"""

import base64
import os
import shutil
import sys
import tempfile
import warnings

# pysaml2 7.5.5 still names cryptography's CFB mode at import time; keep stderr for real errors.
warnings.filterwarnings("ignore", message="CFB has been moved")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_common as pc  # noqa: E402

try:
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml
    from saml2.config import IdPConfig
    from saml2.metadata import entity_descriptor
    from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_UNSPECIFIED
    from saml2.server import Server
    from saml2.sigver import get_pem_wrapped_unwrapped, make_temp, pre_encryption_part
except ImportError as e:  # pragma: no cover - environment problem
    print(f"pysaml2_idp: error: pysaml2 is not importable ({e}); run scripts/install-test-deps", file=sys.stderr)
    sys.exit(3)

PROG = "pysaml2_idp"


class AlgorithmChoosingServer(Server):
    """pysaml2's Server with the encryption algorithms made selectable.

    pysaml2 7.5 hard-codes its encryption template in Entity._encrypt_assertion
    (pre_encryption_part() with its defaults: tripledes-cbc data, rsa-oaep-mgf1p
    key transport, session key "des-192"). This override is the same code path
    (self.sec.encrypt_assertion, i.e. `xmlsec1 --encrypt` on pysaml2's template)
    with the template built from pre_encryption_part(msg_enc=..., key_enc=...)
    and the matching xmlsec1 session key size."""

    msg_enc = None
    key_enc = None
    session_key = None

    def _encrypt_assertion(self, encrypt_cert, sp_entity_id, response, node_xpath=None):
        if encrypt_cert:
            certs = [(None, encrypt_cert)]
        else:
            certs = self.metadata.certs(sp_entity_id, "any", "encryption")
        if not certs:
            raise pc.DriverError(f"no encryption certificate for {sp_entity_id}")
        _name, cert = certs[0]
        wrapped, unwrapped = get_pem_wrapped_unwrapped(cert)
        tmp = make_temp(wrapped.encode("ascii"), decode=False, delete_tmpfiles=self.config.delete_tmpfiles)
        template = pre_encryption_part(msg_enc=self.msg_enc, key_enc=self.key_enc, encrypt_cert=unwrapped)
        return self.sec.encrypt_assertion(
            response, tmp.name, template, key_type=self.session_key, node_xpath=node_xpath
        )


def idp_config(args, workdir, key, crt, sp_md_path):
    sso = args.idp_entity_id.rstrip("/") + "/sso"
    conf = {
        "entityid": args.idp_entity_id,
        "service": {
            "idp": {
                "name": "pysaml2 interop IdP",
                "endpoints": {
                    "single_sign_on_service": [(sso, BINDING_HTTP_REDIRECT), (sso, BINDING_HTTP_POST)],
                },
                "policy": {
                    "default": {
                        "lifetime": {"minutes": args.lifetime_minutes},
                        # Release every attribute given on the command line.
                        "attribute_restrictions": None,
                        "name_form": NAME_FORMAT_URI,
                    },
                },
                "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
            },
        },
        "key_file": key,
        "cert_file": crt,
        "encryption_keypairs": [{"key_file": key, "cert_file": crt}],
        "xmlsec_binary": shutil.which("xmlsec1"),
        "metadata": {"local": [sp_md_path]},
        "delete_tmpfiles": True,
        "signing_algorithm": pc.SIG_ALGS[args.sig_alg],
        "digest_algorithm": pc.DIGEST_ALGS[args.digest],
    }
    if conf["xmlsec_binary"] is None:
        raise pc.DriverError("xmlsec1 not found on PATH (Debian package xmlsec1)")
    c = IdPConfig()
    c.load(conf)
    return c


def make_response(args, workdir):
    key, crt = pc.idp_key_and_cert(args, "pysaml2")
    sp_cert_pem = pc.read_text(args.sp_cert) if args.sp_cert else None
    sp_md_path = os.path.join(workdir, "sp-metadata.xml")
    pc.write_text(sp_md_path, pc.sp_metadata_xml(args.sp_entity_id, args.acs_url, sp_cert_pem))

    conf = idp_config(args, workdir, key, crt, sp_md_path)
    if args.metadata_out:
        pc.write_text(args.metadata_out, str(entity_descriptor(conf)))

    server = AlgorithmChoosingServer(config=conf)
    encrypt = args.encrypt != "none"
    if encrypt:
        server.msg_enc, server.session_key = pc.DATA_ENC_ALGS[args.encrypt]
        server.key_enc = pc.KEY_TRANSPORT_ALGS[args.key_transport]

    name_id = saml.NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=args.name_id)
    response = server.create_authn_response(
        identity=args.attributes,
        in_response_to=args.in_response_to,
        destination=args.acs_url,
        sp_entity_id=args.sp_entity_id,
        name_id=name_id,
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
        sign_response=args.sign in ("response", "both"),
        sign_assertion=args.sign in ("assertion", "both"),
        encrypt_assertion=encrypt,
        encrypt_cert_assertion=sp_cert_pem if encrypt else None,
        sign_alg=pc.SIG_ALGS[args.sig_alg],
        digest_alg=pc.DIGEST_ALGS[args.digest],
    )
    xml = response if isinstance(response, (str, bytes)) else str(response)
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    return xml


def main(argv=None):
    parser = pc.build_arg_parser(
        "Produce a SAML Response with pysaml2's IdP (base64 SAMLResponse on stdout).",
        encrypt_choices=["none", *pc.DATA_ENC_ALGS],
        key_transport_choices=list(pc.KEY_TRANSPORT_ALGS),
        sig_alg_choices=list(pc.SIG_ALGS),
    )
    args = pc.parse_args(parser, argv)
    with tempfile.TemporaryDirectory(prefix="pysaml2-idp-") as workdir:
        try:
            xml = make_response(args, workdir)
        except pc.DriverError as e:
            pc.fail(PROG, str(e))
    if args.xml_out:
        pc.write_text(args.xml_out, xml.decode("utf-8"))
    sys.stdout.write(base64.b64encode(xml).decode("ascii") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
