"""Shared pieces of the interop IdP drivers (pysaml2_idp.py, lasso_idp.py).

Standard library only: this module is imported both by the pysaml2 driver (run
with build/venv/bin/python) and by the Lasso driver (run with Debian's
/usr/bin/python3, the only interpreter that has the `lasso` module).

It holds the common command line, the IdP key/certificate (generated once with
the openssl CLI and cached in build/interop/), and a minimal SP
EntityDescriptor that tells each IdP where the SP is and which certificate it
encrypts to.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from xml.sax.saxutils import quoteattr

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CACHE_DIR = os.path.join(REPO_ROOT, "build", "interop")

SIGN_MODES = ["none", "assertion", "response", "both"]
SIG_ALGS = {
    "rsa-sha1": "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "rsa-sha256": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "rsa-sha512": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
}
DIGEST_ALGS = {
    "sha1": "http://www.w3.org/2000/09/xmldsig#sha1",
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
}
# Data encryption: algorithm URI and the xmlsec1 `--session-key` that fits it.
DATA_ENC_ALGS = {
    "aes128-cbc": ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", "aes-128"),
    "aes192-cbc": ("http://www.w3.org/2001/04/xmlenc#aes192-cbc", "aes-192"),
    "aes256-cbc": ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", "aes-256"),
    "aes128-gcm": ("http://www.w3.org/2009/xmlenc11#aes128-gcm", "aes-128"),
    "aes256-gcm": ("http://www.w3.org/2009/xmlenc11#aes256-gcm", "aes-256"),
    "tripledes-cbc": ("http://www.w3.org/2001/04/xmlenc#tripledes-cbc", "des-192"),
}
KEY_TRANSPORT_ALGS = {
    "rsa-oaep-mgf1p": "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
    "rsa-1_5": "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
}


class DriverError(Exception):
    """A request the driver (or the peer behind it) cannot fulfil."""


def build_arg_parser(description, encrypt_choices, key_transport_choices, sig_alg_choices):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--sp-entity-id", required=True, help="the SP's entityID (Audience)")
    p.add_argument("--acs-url", required=True, help="the SP's AssertionConsumerService URL (Destination, Recipient)")
    p.add_argument("--in-response-to", default=None, help="ID of the AuthnRequest; omit for an unsolicited response")
    p.add_argument("--idp-entity-id", default="https://idp.interop.test/idp", help="the IdP's entityID (Issuer)")
    p.add_argument("--name-id", default="alice@example.org", help="the Subject NameID value")
    p.add_argument(
        "--attributes",
        default="{}",
        help='attributes as JSON: {"name": ["value", ...]} (default: none)',
    )
    p.add_argument("--sign", choices=SIGN_MODES, default="assertion", help="what the IdP signs")
    p.add_argument("--sig-alg", choices=sig_alg_choices, default="rsa-sha256", help="signature algorithm")
    p.add_argument(
        "--digest",
        choices=sorted(DIGEST_ALGS),
        default=None,
        help="digest algorithm (default: the hash of --sig-alg)",
    )
    p.add_argument("--encrypt", choices=encrypt_choices, default="none", help="data encryption of the assertion")
    p.add_argument(
        "--key-transport",
        choices=key_transport_choices,
        default=key_transport_choices[0],
        help="key transport of the session key",
    )
    p.add_argument("--sp-cert", default=None, help="PEM certificate of the SP, the encryption target")
    p.add_argument("--idp-key", default=None, help="PEM private key of the IdP (default: generated, cached)")
    p.add_argument("--idp-cert", default=None, help="PEM certificate of the IdP (default: generated, cached)")
    p.add_argument("--metadata-out", default=None, help="write the IdP's metadata XML to this path")
    p.add_argument("--lifetime-minutes", type=int, default=5, help="assertion validity (NotOnOrAfter - now)")
    p.add_argument("--xml-out", default=None, help="also write the decoded response XML to this path (debugging)")
    return p


def parse_args(parser, argv=None):
    args = parser.parse_args(argv)
    if args.digest is None:
        args.digest = args.sig_alg.split("-", 1)[1]
    try:
        attrs = json.loads(args.attributes)
    except ValueError as e:
        parser.error(f"--attributes is not JSON: {e}")
    if not isinstance(attrs, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v) for k, v in attrs.items()
    ):
        parser.error('--attributes must be a JSON object {"name": ["value", ...]}')
    args.attributes = attrs
    if args.encrypt != "none" and not args.sp_cert:
        parser.error("--encrypt needs --sp-cert (the SP certificate to encrypt to)")
    if (args.idp_key is None) != (args.idp_cert is None):
        parser.error("give both --idp-key and --idp-cert, or neither")
    if args.lifetime_minutes <= 0:
        parser.error("--lifetime-minutes must be positive")
    return args


def _openssl(*argv):
    r = subprocess.run(["openssl", *argv], capture_output=True, text=True)
    if r.returncode != 0:
        raise DriverError(f"openssl {' '.join(argv)} failed: {r.stderr.strip()}")


def idp_key_and_cert(args, name):
    """The IdP's (key path, cert path): the given files, or a pair generated
    once with the openssl CLI and cached as build/interop/<name>-idp/{key,cert}.pem.
    The pair is made in a fresh directory that is then renamed into place:
    a directory rename is atomic and fails when the target exists, so parallel
    runs never see half a pair, nor a key from one run with a cert from another."""
    if args.idp_key:
        return args.idp_key, args.idp_cert
    final = os.path.join(CACHE_DIR, f"{name}-idp")
    key, crt = os.path.join(final, "key.pem"), os.path.join(final, "cert.pem")
    if not os.path.isdir(final):
        os.makedirs(CACHE_DIR, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{name}-idp-", dir=CACHE_DIR)
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
            "-subj", f"/CN={name} interop test IdP",
            "-keyout", os.path.join(tmp, "key.pem"), "-out", os.path.join(tmp, "cert.pem"),
        )  # fmt: skip
        try:
            os.rename(tmp, final)
        except OSError:
            # Another run got there first: use its pair.
            shutil.rmtree(tmp, ignore_errors=True)
    return key, crt


def read_text(path):
    with open(path, encoding="ascii") as f:
        return f.read()


def cert_base64(pem_text):
    """The base64 body of a PEM certificate, on one line (for ds:X509Certificate)."""
    lines = pem_text.strip().splitlines()
    try:
        begin = lines.index("-----BEGIN CERTIFICATE-----")
        end = lines.index("-----END CERTIFICATE-----")
    except ValueError:
        raise DriverError("not a PEM certificate (no BEGIN/END CERTIFICATE lines)") from None
    return "".join(lines[begin + 1 : end])


def sp_metadata_xml(sp_entity_id, acs_url, sp_cert_pem=None):
    """A minimal SP EntityDescriptor: one HTTP-POST ACS and, when given, the
    SP certificate as its encryption key."""
    key_descriptor = ""
    if sp_cert_pem:
        key_descriptor = (
            '<md:KeyDescriptor use="encryption">'
            '<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>'
            f"{cert_base64(sp_cert_pem)}"
            "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID={quoteattr(sp_entity_id)}>'
        '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{key_descriptor}"
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>"
        '<md:AssertionConsumerService index="0" isDefault="true" '
        'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f"Location={quoteattr(acs_url)}/>"
        "</md:SPSSODescriptor></md:EntityDescriptor>\n"
    )


def write_text(path, text):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def fail(prog, message):
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(2)
