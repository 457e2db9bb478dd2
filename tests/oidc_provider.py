"""A minimal OpenID Connect provider for the browser test: discovery, an authorization
endpoint that approves at once (as a provider would for someone already logged in there),
a token endpoint issuing an RS256-signed id_token (joserfc, which Authlib brings), and its
key set. Enough for st.login's
Authlib client to run the whole code flow without a real identity provider."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID, CLIENT_SECRET = "factory-annotation", "provider-secret"


@contextmanager
def provider(email: str) -> Iterator[str]:
    """A provider on a free local port that vouches for ``email``; yields its base URL."""
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    codes: dict[str, dict[str, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _json(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._json({"issuer": base, "authorization_endpoint": f"{base}/authorize",
                            "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks",
                            "response_types_supported": ["code"],
                            "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"]})
            elif url.path == "/jwks":
                self._json({"keys": [key.as_dict(private=False)]})
            elif url.path == "/authorize" and query.get("client_id") == CLIENT_ID:
                code = secrets.token_urlsafe(16)
                codes[code] = {"nonce": query.get("nonce", "")}
                back = urlencode({"code": code, "state": query["state"]})
                self.send_response(302)
                self.send_header("Location", f"{query['redirect_uri']}?{back}")
                self.end_headers()
            else:
                self.send_error(404)

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            form = {k: v[0] for k, v in parse_qs(body).items()}
            grant = codes.pop(form.get("code", ""), None)
            if urlsplit(self.path).path != "/token" or grant is None:
                self.send_error(400)
                return
            now = int(time.time())
            claims = {"iss": base, "sub": "user-1", "aud": CLIENT_ID, "iat": now,
                      "exp": now + 300, "nonce": grant["nonce"], "email": email,
                      "email_verified": True}
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
            self._json({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                        "expires_in": 300, "id_token": id_token})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
