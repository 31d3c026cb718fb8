#!/usr/bin/env bash
# xmlsec1 as a canonicalization oracle.
#
# Usage: tests/interop/xmlsec_c14n.sh FILE ID_ATTR_SPEC CERT OUTDIR [NODE_XPATH]
#
#   FILE          the signed XML document
#   ID_ATTR_SPEC  which attributes are IDs: "saml" (ID on samlp:Response and
#                 saml:Assertion), or a comma-separated list of
#                 ATTR:[NAMESPACE-URI:]LOCAL-NAME, e.g.
#                 "ID:urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
#   CERT          PEM certificate of the signer: the only key xmlsec1 may use
#                 (--enabled-key-data key-name: keys in the document's KeyInfo
#                 are never used)
#   OUTDIR        created if needed; receives
#                   reference-1.c14n, reference-2.c14n, ...  the bytes each
#                       ds:Reference digests (after its transforms: enveloped
#                       signature removed, exclusive c14n), in document order
#                   signedinfo.c14n  the canonical ds:SignedInfo, the bytes the
#                       signature value is computed over
#                   xmlsec1.log      xmlsec1's stderr and verdict
#   NODE_XPATH    optional: start the search for the ds:Signature at this
#                 node (xmlsec1 --node-xpath); default: the first ds:Signature
#                 in the document, e.g. for an assertion signature inside a
#                 signed response (also after xmlsec1 --decrypt):
#                 "//*[local-name()='Assertion']"
#
# Exit status: 0 when xmlsec1 verified the signature, 1 when it did not (the
# .c14n files are still written when xmlsec1 got as far as computing them),
# 2 on a usage error, 3 when xmlsec1 printed no canonical data at all.
#
# How: xmlsec1 1.2.x/1.3.x `--verify --store-references --store-signatures
# --print-debug` prints, for each Reference, "== PreDigest data - start
# buffer:\n" + the raw bytes + "\n== PreDigest data - end buffer\n", and the
# same with "PreSigned" for SignedInfo. This script cuts those buffers out
# byte for byte.
set -uo pipefail

usage() {
    sed -n '3,35p' "$0" >&2
    exit 2
}
[ $# -ge 4 ] && [ $# -le 5 ] || usage
file=$1
spec=$2
cert=$3
outdir=$4
xpath=${5:-}

[ -r "$file" ] || { echo "xmlsec_c14n: cannot read $file" >&2; exit 2; }
[ -r "$cert" ] || { echo "xmlsec_c14n: cannot read certificate $cert" >&2; exit 2; }
command -v xmlsec1 >/dev/null || { echo "xmlsec_c14n: xmlsec1 not found (Debian package xmlsec1)" >&2; exit 2; }

id_args=()
if [ "$spec" = "saml" ]; then
    spec="ID:urn:oasis:names:tc:SAML:2.0:protocol:Response,ID:urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
fi
IFS=',' read -r -a items <<<"$spec"
for item in "${items[@]}"; do
    attr=${item%%:*}
    node=${item#*:}
    if [ -z "$attr" ] || [ "$attr" = "$item" ] || [ -z "$node" ]; then
        echo "xmlsec_c14n: bad ID_ATTR_SPEC item '$item' (want ATTR:[NS:]NAME)" >&2
        exit 2
    fi
    id_args+=("--id-attr:$attr" "$node")
done

xpath_args=()
[ -n "$xpath" ] && xpath_args=(--node-xpath "$xpath")

mkdir -p "$outdir" || exit 2
rm -f "$outdir"/reference-*.c14n "$outdir"/signedinfo.c14n
debug="$outdir/xmlsec1.debug"

xmlsec1 --verify --pubkey-cert-pem "$cert" --enabled-key-data key-name \
    --enabled-reference-uris empty,same-doc \
    "${id_args[@]}" "${xpath_args[@]}" \
    --store-references --store-signatures --print-debug \
    "$file" >"$debug" 2>"$outdir/xmlsec1.log"
status=$?
echo "xmlsec1 exit status: $status" >>"$outdir/xmlsec1.log"

# Cut the buffers out byte for byte (binary-safe; Debian's python3 is always
# there on this project's machines).
/usr/bin/python3 - "$debug" "$outdir" <<'PY'
import os, sys

debug_path, outdir = sys.argv[1], sys.argv[2]
data = open(debug_path, "rb").read()
refs = 0
signed_info = 0
pos = 0
while True:
    starts = [(data.find(b"== %s data - start buffer:\n" % k, pos), k) for k in (b"PreDigest", b"PreSigned")]
    starts = [(i, k) for i, k in starts if i >= 0]
    if not starts:
        break
    i, kind = min(starts)
    begin = data.index(b"\n", i) + 1
    end_marker = b"\n== %s data - end buffer\n" % kind
    end = data.find(end_marker, begin)
    if end < 0:
        sys.exit(f"xmlsec_c14n: unterminated {kind.decode()} buffer in xmlsec1 output")
    if kind == b"PreDigest":
        refs += 1
        name = f"reference-{refs}.c14n"
    else:
        signed_info += 1
        name = "signedinfo.c14n"
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data[begin:end])
    pos = end + len(end_marker)
if refs == 0 and signed_info == 0:
    sys.exit(3)
PY
py=$?
if [ $py -eq 3 ]; then
    echo "xmlsec_c14n: xmlsec1 printed no canonical data (see $outdir/xmlsec1.log)" >&2
    exit 3
elif [ $py -ne 0 ]; then
    exit 3
fi
[ $status -eq 0 ] && exit 0
exit 1
