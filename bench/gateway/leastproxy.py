"""The least code that does the gateway's work on a forwarded request, to measure the gateway
against: aiohttp's server and client, the same token check (EdDSA signature, issuer, audience,
expiry against identity's JWKS, fetched once), the same hop-by-hop header rules, the body
streamed both ways. No rate limits, no caching, no metrics, no logs.

    python -m bench.gateway.leastproxy --port 9100 --upstream alerts=http://127.0.0.1:8002 ...
"""

from __future__ import annotations

import argparse
import json
import urllib.request

import aiohttp
import jwt
from aiohttp import web

from services.gateway.proxy.service import HOP_BY_HOP_HEADERS

HOP_BY_HOP = frozenset(name.decode() for name in HOP_BY_HOP_HEADERS) | {"host", "content-length"}


def build(upstreams: dict[str, str], jwks_url: str, issuer: str, audience: str) -> web.Application:
    with urllib.request.urlopen(jwks_url) as answer:  # noqa: S310 - a local URL given by the bench
        keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(json.load(answer)).keys}
    sessions: list[aiohttp.ClientSession] = []

    async def forward(request: web.Request) -> web.StreamResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            try:
                key = keys[jwt.get_unverified_header(token)["kid"]]
                jwt.decode(token, key, algorithms=["EdDSA"], issuer=issuer, audience=audience)
            except (jwt.InvalidTokenError, KeyError):
                return web.json_response({"status": 401}, status=401)
        _, _, service, rest = request.raw_path.split("/", 3)
        base = upstreams.get(service)
        if base is None:
            return web.json_response({"status": 404}, status=404)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with sessions[0].request(
            request.method,
            f"{base}/{rest}",
            headers=headers,
            data=request.content if request.body_exists else None,
            allow_redirects=False,
        ) as upstream:
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP},
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def open_session(app: web.Application) -> None:
        sessions.append(
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=64),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        )

    async def close_session(app: web.Application) -> None:
        await sessions[0].close()

    app = web.Application()
    app.router.add_route("*", "/api/{tail:.*}", forward)
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", action="append", default=[], help="name=base URL")
    parser.add_argument("--jwks-url", required=True)
    parser.add_argument("--issuer", default="https://tawny.london/identity")
    parser.add_argument("--audience", default="tawny")
    args = parser.parse_args()
    upstreams = dict(item.split("=", 1) for item in args.upstream)
    app = build(upstreams, args.jwks_url, args.issuer, args.audience)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
