"""Python's ssl module as a TLS client of the gateway, for tests/it/tls_listener.rs.

probe PORT CAFILE SNI [MAXVERSION]: one handshake and `GET /healthz`; prints JSON
  {"ok": true, "version", "alpn", "cert_sha256", "status"} or {"ok": false, "error"}.
  MAXVERSION (TLSv1, TLSv1_1, ...) offers only versions up to and including it.
keepalive PORT CAFILE: one kept-alive connection: GET /healthz, print
  {"status", "local_port", "cert_sha256"}, wait for a line on stdin, GET /healthz again on the
  same connection and print the same again.
"""
import hashlib
import http.client
import json
import socket
import ssl
import sys


def context(cafile, maxversion=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if maxversion:
        # Let the client offer the old versions at all (OpenSSL 3 refuses them by default).
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = getattr(ssl.TLSVersion, maxversion)
    return ctx


def probe(port, cafile, sni, maxversion=None):
    ctx = context(cafile, maxversion)
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        tls = ctx.wrap_socket(raw, server_hostname=sni)
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        reply = b""
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            reply += chunk
        print(json.dumps({
            "ok": True,
            "version": tls.version(),
            "alpn": tls.selected_alpn_protocol(),
            "cert_sha256": hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest(),
            "status": int(reply.split(b" ", 2)[1]),
        }))
    except (ssl.SSLError, ssl.CertificateError, OSError) as e:
        print(json.dumps({"ok": False, "error": "%s: %s" % (type(e).__name__, e)}))


def keepalive(port, cafile):
    conn = http.client.HTTPSConnection("localhost", port, context=context(cafile), timeout=30)

    def once():
        conn.request("GET", "/healthz")
        reply = conn.getresponse()
        reply.read()
        print(json.dumps({
            "status": reply.status,
            "local_port": conn.sock.getsockname()[1],
            "cert_sha256": hashlib.sha256(conn.sock.getpeercert(binary_form=True)).hexdigest(),
        }), flush=True)

    once()
    sys.stdin.readline()
    # http.client would silently reconnect a closed connection: forbid it.
    conn.auto_open = 0
    once()


if sys.argv[1] == "probe":
    probe(int(sys.argv[2]), sys.argv[3], sys.argv[4], *(sys.argv[5:6]))
else:
    keepalive(int(sys.argv[2]), sys.argv[3])
