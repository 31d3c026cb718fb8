"""An HTTPS backend for tests/it/proxy_https_backend.rs: Python's http.server behind ssl.

tls_backend.py PORT CERT KEY [CLIENT_CA]: serves every GET with 200 and the text
"tls backend; client <subject CN of the client certificate or 'none'>". With CLIENT_CA a client
certificate signed by it is required (mutual TLS). Prints "ready" once listening.
"""
import http.server
import ssl
import sys

port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if len(sys.argv) > 4:
    ctx.load_verify_locations(sys.argv[4])
    ctx.verify_mode = ssl.CERT_REQUIRED


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        peer = self.connection.getpeercert() or {}
        cn = dict(x[0] for x in peer.get("subject", ())).get("commonName", "none")
        body = ("tls backend; client %s; sni %s" % (cn, self.server.sni)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.sni = None


def remember_sni(sock, name, context):
    server.sni = name


ctx.sni_callback = remember_sni
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
