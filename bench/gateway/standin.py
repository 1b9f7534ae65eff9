"""A stand-in for the services behind the gateway, for measuring the proxy alone: identity's
JWKS (the file the bench wrote, with the public half of the key it signs tokens with) and, for
any other path, a fixed 1 KB JSON document answered at once. aiohttp, so that it costs little
of the shared machine.

    python -m bench.gateway.standin --port 9200 --jwks keys.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aiohttp import web

DOCUMENT = json.dumps(
    {"ward": "E05000001", "alerts": [{"id": index, "headline": "x" * 40} for index in range(16)]}
).encode()


def build(jwks: bytes) -> web.Application:

    async def keys(request: web.Request) -> web.Response:
        return web.Response(body=jwks, content_type="application/json")

    async def document(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=DOCUMENT, content_type="application/json")

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", keys)
    app.router.add_route("*", "/{tail:.*}", document)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks", type=Path, required=True)
    args = parser.parse_args()
    app = build(args.jwks.read_bytes())
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
