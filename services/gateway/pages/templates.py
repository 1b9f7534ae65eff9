"""The gateway's two HTML pages (the web client is served from ``services/gateway/web``).
Plain HTML5 with no script or inline style, so that the strict Content-Security-Policy they
are sent with holds without exceptions."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape


def _page(title: str, main: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
</head>
<body>
<header>
<p><a href="/">Tawny</a></p>
</header>
<main>
{main}
</main>
</body>
</html>
"""


def home_page() -> str:
    return _page(
        "Tawny: community crime alerts for London",
        """<h1>Tawny</h1>
<p>Tawny is a London-wide community crime-alert platform: verified but pseudonymous neighbours
and the police share alerts about what is happening near them, the police approve them, and
every member hears about them on the channel they chose.</p>
<p><a href="/app">Open Tawny</a>: residents choose the areas they watch and read their alerts;
police officers write, approve and publish alerts.</p>
<h2>For developers</h2>
<ul>
<li><a href="/api-docs">API documentation</a> for each service</li>
<li><a href="/healthz">Liveness</a>: is the gateway up (<code>/healthz</code>)</li>
<li><a href="/readyz">Readiness</a>: is every service ready (<code>/readyz</code>)</li>
</ul>""",
    )


def api_docs_page(services: Mapping[str, str]) -> str:
    """One row per service, linking its OpenAPI document and Swagger UI through the gateway."""
    rows = "\n".join(
        f"""<tr>
<th scope="row">{escape(name)}</th>
<td>{escape(summary)}</td>
<td><a href="/api/{escape(name)}/openapi.json">{escape(name)} OpenAPI (JSON)</a></td>
<td><a href="/api/{escape(name)}/docs">{escape(name)} Swagger UI</a></td>
</tr>"""
        for name, summary in services.items()
    )
    return _page(
        "API documentation - Tawny",
        f"""<h1>API documentation</h1>
<p>Every service's API is reached through this gateway under <code>/api/&lt;service&gt;/</code>:
for example <code>/api/alerts/alerts</code> is the alerts service's <code>/alerts</code>.</p>
<table>
<caption>Tawny's services</caption>
<thead>
<tr>
<th scope="col">Service</th>
<th scope="col">What it does</th>
<th scope="col">OpenAPI document</th>
<th scope="col">Interactive documentation</th>
</tr>
</thead>
<tbody>
{rows}
</tbody>
</table>
<p>The gateway's own API (this page, health and readiness, the proxy itself) is described at
<a href="/openapi.json">/openapi.json</a> and <a href="/docs">/docs</a>.</p>""",
    )
