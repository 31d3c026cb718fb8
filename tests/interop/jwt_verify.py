"""Verify a samlgate identity token with PyJWT, as a backend would.

Reads one JSON object on stdin: {"jwks": <JWK Set>, "token": "...", "audience": "...",
"issuer": "...", "algorithms": ["ES256"], "verify_exp": true}. Writes {"ok": <claims>} when
PyJWT accepts the token, {"refused": "<PyJWT exception class>"} when it does not.
"""
import json
import sys

import jwt

query = json.load(sys.stdin)
try:
    kid = jwt.get_unverified_header(query["token"]).get("kid")
    keys = [k for k in jwt.PyJWKSet.from_dict(query["jwks"]).keys if k.key_id == kid]
    if not keys:
        raise jwt.PyJWKError("no key with kid %r in the JWK Set" % kid)
    claims = jwt.decode(
        query["token"],
        keys[0].key,
        algorithms=query["algorithms"],
        audience=query["audience"],
        issuer=query["issuer"],
        options={
            "verify_exp": query.get("verify_exp", True),
            "require": ["exp", "iat", "iss", "aud", "sub", "jti"],
        },
    )
    print(json.dumps({"ok": claims}))
except jwt.PyJWTError as e:
    print(json.dumps({"refused": type(e).__name__}))
