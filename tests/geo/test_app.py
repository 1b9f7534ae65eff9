"""The app's contract as published: every endpoint documented with its problems and examples."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.geo.app import create_app
from services.geo.config import GeoSettings

GEO_PATHS = {"/wards", "/wards/{code}", "/boroughs", "/admin/boundary-sets", "/subscriptions",
             "/subscriptions/{subscription_id}", "/audience/preview", "/lookup/point",
             "/lookup/postcodes/{postcode}", "/map/{layer}.geojson"}  # fmt: skip


class TestOpenAPI:
    def test_every_endpoint_has_a_summary_problem_responses_and_examples(self) -> None:
        schema = create_app(GeoSettings()).openapi()
        operations = [
            (path, method, operation)
            for path, methods in schema["paths"].items()
            if path in GEO_PATHS
            for method, operation in methods.items()
        ]

        assert {path for path, _, _ in operations} == GEO_PATHS
        for path, method, operation in operations:
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            problems = [
                response
                for status, response in operation["responses"].items()
                if status.startswith(("4", "5"))
            ]
            assert problems, where
            assert all("application/problem+json" in p["content"] for p in problems), where
            if "requestBody" in operation:
                assert operation["requestBody"]["content"]["application/json"]["examples"], where

    def test_every_setting_is_described(self) -> None:
        undescribed = [n for n, f in GeoSettings.model_fields.items() if not f.description]
        assert undescribed == []


class TestOperations:
    async def test_ready_when_database_broker_and_consumer_are(self, app: FastAPI) -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            response = await client.get("/readyz")
        checks = response.json()["checks"]
        assert checks["database"] == "ok"
        assert "consumer:geo.audience" in checks
