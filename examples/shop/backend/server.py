"""The shop's API, small but real: auth, content, an OAuth callback and an AI endpoint.

Run locally with PORT set; stagegate's rehearsal starts it as the "deployed" backend.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARTICLES = {"1": {"id": "1", "title": "Welcome to the shop"}}


def route(method, path, body):
    """Returns (status, payload) for a request. Pure, so unit tests call it directly."""
    if method == "GET" and path == "/health":
        return 200, {"status": "ok"}
    if method == "POST" and path == "/auth/login":
        creds = json.loads(body or "{}")
        if creds.get("user") and creds.get("password") == "staging-only":
            return 200, {"token": "session-" + creds["user"]}
        return 401, {"error": "invalid credentials"}
    if method == "GET" and path == "/content":
        return 200, {"articles": list(ARTICLES.values())}
    if method == "POST" and path == "/content":
        item = json.loads(body or "{}")
        if not item.get("title"):
            return 400, {"error": "title is required"}
        new_id = str(len(ARTICLES) + 1)
        ARTICLES[new_id] = {"id": new_id, "title": item["title"]}
        return 201, ARTICLES[new_id]
    if method == "GET" and path.startswith("/oauth/callback"):
        if "code=" in path:
            return 200, {"linked": True}
        return 400, {"error": "missing code"}
    if method == "POST" and path == "/ai/complete":
        # stagegate rehearse --fail integration-tests asks the app to break something
        # (STAGEGATE_FAULT lists every stage made to fail, comma-separated).
        if "integration-tests" in os.environ.get("STAGEGATE_FAULT", "").split(","):
            return 500, {"error": "model unavailable"}
        prompt = json.loads(body or "{}").get("prompt", "")
        return 200, {"completion": prompt[::-1]}
    return 404, {"error": "not found"}


class Handler(BaseHTTPRequestHandler):
    def _serve(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        status, payload = route(method, self.path, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def log_message(self, *args):
        pass


def main():
    port = int(os.environ.get("PORT", "0"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"shop backend listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
