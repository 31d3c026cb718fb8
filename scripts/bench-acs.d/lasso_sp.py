#!/usr/bin/python3
"""Lasso's row of scripts/bench-acs: the same Response, certificate and
expectations as samlgate's row, through Lasso's SP side of Web SSO.

Must run with Debian's /usr/bin/python3 (python3-lasso). A lasso.Server is built
once from the SP's and the IdP's metadata; each validation is what a Lasso SP
does per POST to its ACS: a new lasso.Login, processAuthnResponseMsg (base64
decoding, parsing, the issuer's provider, status, and the signatures present,
with Lasso's default verify hint: PROFILE_SIGNATURE_VERIFY_HINT_FORCE would
refuse the common Response signed on the Assertion only) and acceptSso (the
federation and session built from the assertion).

Lasso leaves the rest to the application: mod_auth_mellon, for one, checks the
audience, Recipient, Destination and validity instants itself. This driver does
the same after Lasso (application_checks), so that the row checks what
samlgate's does; the checks are string comparisons, microseconds against the
milliseconds of Lasso's part. --lasso-only leaves them out (the accept/refuse
matrix of scripts/bench-acs shows both).

Lasso reads the clock itself, and so do these checks: the Response must be fresh
when this runs.

Usage: lasso_sp.py --response FILE --sp-metadata FILE --idp-metadata FILE
       --sp-entity-id ID --acs-url URL [--request-id ID] [--seconds S]
       [--lasso-only] [--check FILE...]
"""

import argparse
import datetime
import sys
import time

try:
    import lasso
except ImportError as e:  # pragma: no cover - environment problem
    print(f"lasso_sp: error: cannot import lasso with {sys.executable} ({e}); install python3-lasso", file=sys.stderr)
    sys.exit(3)


class Refused(Exception):
    pass


BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
# samlgate's defaults (docs/security.md): clock skew and IssueInstant age.
SKEW = datetime.timedelta(seconds=180)
MAX_ISSUE_AGE = datetime.timedelta(minutes=10)


def instant(value, what):
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise Refused(f"{what} is not an instant: {value!r}") from None


def application_checks(login, args):
    """What an application on Lasso checks itself (as mod_auth_mellon does)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    response, assertion = login.response, login.assertion
    if response.destination is not None and response.destination != args.acs_url:
        raise Refused(f"Destination {response.destination!r} is not the ACS URL")
    if args.request_id is not None and response.inResponseTo != args.request_id:
        raise Refused(f"InResponseTo {response.inResponseTo!r} is not {args.request_id!r}")
    if args.request_id is None and response.inResponseTo is not None:
        raise Refused(f"unsolicited login, but InResponseTo is {response.inResponseTo!r}")
    for what, value in (("Response", response.issueInstant), ("Assertion", assertion.issueInstant)):
        issued = instant(value, f"{what} IssueInstant")
        if not (issued - SKEW <= now <= issued + MAX_ISSUE_AGE + SKEW):
            raise Refused(f"{what} IssueInstant {value} is too old or in the future")
    conditions = assertion.conditions
    if conditions is None:
        raise Refused("no Conditions")
    if conditions.notBefore is not None and now < instant(conditions.notBefore, "NotBefore") - SKEW:
        raise Refused("Conditions NotBefore is in the future")
    if conditions.notOnOrAfter is not None and now >= instant(conditions.notOnOrAfter, "NotOnOrAfter") + SKEW:
        raise Refused("Conditions NotOnOrAfter has passed")
    for restriction in conditions.audienceRestriction:
        # Lasso's binding holds one Audience per AudienceRestriction.
        if restriction.audience != args.sp_entity_id:
            raise Refused("AudienceRestriction does not name this SP")
    confirmation = assertion.subject.subjectConfirmation if assertion.subject else None
    data = confirmation.subjectConfirmationData if confirmation else None
    if confirmation is None or confirmation.method != BEARER or data is None:
        raise Refused("no bearer SubjectConfirmationData")
    if data.recipient != args.acs_url:
        raise Refused(f"Recipient {data.recipient!r} is not the ACS URL")
    if data.notOnOrAfter is None or now >= instant(data.notOnOrAfter, "NotOnOrAfter") + SKEW:
        raise Refused("SubjectConfirmationData NotOnOrAfter is missing or has passed")
    if data.inResponseTo != args.request_id:
        raise Refused(f"SubjectConfirmationData InResponseTo {data.inResponseTo!r} is not {args.request_id!r}")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def make_server(args):
    server = lasso.Server.newFromBuffers(read(args.sp_metadata))
    server.addProviderFromBuffer(lasso.PROVIDER_ROLE_IDP, read(args.idp_metadata))
    return server


def validate(server, args, b64):
    login = lasso.Login(server)
    try:
        login.processAuthnResponseMsg(b64)
        login.acceptSso()
    except lasso.Error as e:
        raise Refused(f"Lasso: {type(e).__name__}: {e}") from None
    if not args.lasso_only:
        application_checks(login, args)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--response")
    p.add_argument("--sp-metadata", required=True)
    p.add_argument("--idp-metadata", required=True)
    p.add_argument("--sp-entity-id", required=True)
    p.add_argument("--acs-url", required=True)
    p.add_argument("--request-id", default=None)
    p.add_argument("--lasso-only", action="store_true", help="leave out the application's checks")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--check", nargs="+", default=[])
    args = p.parse_args()
    server = make_server(args)
    if args.check:
        for path in args.check:
            try:
                validate(server, args, read(path))
                print(f"{path}: accepted")
            except Refused as e:
                print(f"{path}: refused ({e})")
        return 0
    response = read(args.response)
    try:
        validate(server, args, response)
    except Refused as e:
        print(f"lasso_sp: the Response is refused: {e}", file=sys.stderr)
        return 1
    for _ in range(5):
        validate(server, args, response)
    n = 0
    wall, cpu = time.perf_counter(), time.process_time()
    while time.process_time() - cpu < args.seconds:
        validate(server, args, response)
        n += 1
    cpu_us = (time.process_time() - cpu) * 1e6 / n
    wall_us = (time.perf_counter() - wall) * 1e6 / n
    print(f"result n={n} cpu_us={cpu_us:.2f} wall_us={wall_us:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
