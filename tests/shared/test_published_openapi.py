"""The OpenAPI documents published under docs/api/ are the ones the services serve, and carry
the API's version (deploy/openapi_documents.py; ``make openapi`` rewrites them)."""

from __future__ import annotations

import json

import pytest

from deploy import openapi_documents
from shared.app import API_VERSION
from shared.idempotency import HEADER


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    return openapi_documents.build()


class TestPublishedDocuments:
    def test_every_service_has_one_and_it_matches_what_it_serves(
        self, built: dict[str, str]
    ) -> None:
        assert sorted(built) == ["alerts", "dispatch", "gateway", "geo", "identity"]
        assert openapi_documents.stale(built) == [], "run make openapi"

    def test_each_carries_the_api_version_in_its_folder(self, built: dict[str, str]) -> None:
        for name, text in built.items():
            assert json.loads(text)["info"]["version"] == API_VERSION
            assert openapi_documents.path_of(name).parent.name == f"v{API_VERSION.split('.')[0]}"

    def test_the_check_command_agrees(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert openapi_documents.main(["--check"]) == 0
        assert "5 of 5 documents up to date" in capsys.readouterr().out

    def test_creating_posts_document_the_idempotency_key(self, built: dict[str, str]) -> None:
        alerts = json.loads(built["alerts"])
        for path in ("/alerts", "/alerts/cap", "/webhooks"):
            parameters = alerts["paths"][path]["post"]["parameters"]
            assert HEADER in [p["name"] for p in parameters], path
        identity = json.loads(built["identity"])
        secret = identity["paths"]["/api-clients"]["post"]
        assert HEADER not in [p["name"] for p in secret.get("parameters", [])]
