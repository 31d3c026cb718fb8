#!/usr/bin/env python3
"""Backends that read request paths the way real servers do, for tests/it/edge_paths.rs.

    backend.py files DIR   Python's http.server (SimpleHTTPRequestHandler, unchanged) serving DIR
    backend.py servlet     a servlet container's reading (Tomcat): ;params removed from each
                           segment before decoding, then decoded, repeated slashes merged and
                           dot segments resolved; mappings match case-sensitively
    backend.py windows     an IIS-like reading: decoded, \\ taken for /, dot segments resolved,
                           the trailing dots and spaces Windows drops removed from each name,
                           matched case-insensitively

Each mode listens on a free loopback port, prints "PORT <n>" and serves until killed. The
servlet and windows modes answer the protected marker for /admin and everything below it,
"healthy" for /healthcheck, and "ordinary <path>" for anything else; each answer names the
path as the backend read it.
"""

import http.server
import sys
import urllib.parse

MARKER = "PROTECTED-LOCATION-7f3a"


def resolve(segments):
    """Dot segments resolved (clamped at the root), empty segments dropped."""
    out = []
    for s in segments:
        if s in ("", "."):
            continue
        if s == "..":
            if out:
                out.pop()
            continue
        out.append(s)
    return out


def servlet_reading(target):
    path = target.split("?", 1)[0]
    stripped = "/".join(s.split(";", 1)[0] for s in path.split("/"))
    decoded = urllib.parse.unquote(stripped, errors="replace")
    return "/" + "/".join(resolve(decoded.split("/")))


def windows_reading(target):
    path = target.split("?", 1)[0]
    decoded = urllib.parse.unquote(path, errors="replace").replace("\\", "/")
    names = [n.rstrip(". ") or n for n in decoded.split("/")]
    return ("/" + "/".join(resolve(names))).casefold()


def answer_for(path, protected_prefix):
    if path == protected_prefix or path.startswith(protected_prefix + "/"):
        return f"{MARKER} {path}\n"
    if path == "/healthcheck":
        return "healthy\n"
    return f"ordinary {path}\n"


class Reading(http.server.BaseHTTPRequestHandler):
    reading = None
    prefix = "/admin"

    def do_GET(self):
        read = type(self).reading(self.path)
        body = answer_for(read, self.prefix).encode("utf-8", "replace")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main():
    mode = sys.argv[1]
    if mode == "files":
        directory = sys.argv[2]

        def handler(*args, **kwargs):
            return Files(*args, directory=directory, **kwargs)

    elif mode == "servlet":
        handler = type("Servlet", (Reading,), {"reading": staticmethod(servlet_reading)})
    elif mode == "windows":
        handler = type("Windows", (Reading,), {"reading": staticmethod(windows_reading)})
    else:
        sys.exit(f"unknown mode {mode}")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
