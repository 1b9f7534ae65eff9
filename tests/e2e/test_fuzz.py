"""Fuzzing in CI: schemathesis against every service's OpenAPI document, through the gateway,
as an anonymous caller and as a signed-in officer. No answer may be a server error (5xx), and
every answer must match the schema its operation documents.

Bounded in time: ``FUZZ_EXAMPLES`` generated requests per operation and generation mode (valid
and invalid input), each sent twice (with and without a token), about 124 operations in all.
Set ``FUZZ_EXAMPLES`` higher for a longer run by hand. Every failure is collected, then
reported together with the request that caused it, so one run shows them all.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from deploy.devstack import DEMO_OFFICER, DevStack
from tests.shared.test_openapi_documents import SERVICES

pytestmark = pytest.mark.e2e

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass(frozen=True)
class Finding:
    service: str
    operation: str
    caller: str
    problem: str
    request: str

    def line(self) -> str:
        return (
            f"{self.service} {self.operation} ({self.caller}): {self.problem}\n    {self.request}"
        )


def officer_headers(stack: DevStack) -> dict[str, str]:
    response = httpx.post(
        f"{stack.gateway_url}/api/identity/tokens",
        json={"email": DEMO_OFFICER[0], "password": DEMO_OFFICER[1]},
        timeout=30,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class Fuzzer:
    """Sends generated requests for one service and collects what went wrong."""

    service: str
    base_url: str
    callers: dict[str, dict[str, str]]
    session: requests.Session
    sent: int = 0

    def __post_init__(self) -> None:
        self.findings: list[Finding] = []

    def operation(
        self, operation: schemathesis.APIOperation[Any, Any, Any, Any], mode: GenerationMode
    ) -> None:
        label = f"{operation.method.upper()} {operation.path}"

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def send(case: schemathesis.Case[Any]) -> None:
            for caller, headers in self.callers.items():
                self._send(case, label, caller, headers)

        try:
            send()
        except Unsatisfiable:
            # An operation without parameters or body has no invalid input to generate.
            assert mode is GenerationMode.NEGATIVE, label

    def _send(
        self, case: schemathesis.Case[Any], label: str, caller: str, headers: dict[str, str]
    ) -> None:
        self.sent += 1
        try:
            response = case.call(
                base_url=self.base_url, session=self.session, headers=headers, timeout=30
            )
        except requests.RequestException as error:
            request = f"{case.method} {self.base_url}{case.formatted_path}"
            self.findings.append(
                Finding(self.service, label, caller, f"no answer: {type(error).__name__}", request)
            )
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as error:
            failures = error.exceptions if isinstance(error, FailureGroup) else [error]
            self.findings.extend(
                Finding(
                    self.service,
                    label,
                    caller,
                    f"{response.status_code} {failure.title}",
                    f"{case.method} {response.request.url} headers={case.headers!r:.200} "
                    f"body={case.body!r:.200}",
                )
                for failure in failures
            )


def fuzz_service(
    stack: DevStack, service: str, callers: dict[str, dict[str, str]], session: requests.Session
) -> Fuzzer:
    """Every operation of one service, with valid and with invalid input."""
    prefix = "" if service == "gateway" else f"/api/{service}"
    document = httpx.get(f"{stack.gateway_url}{prefix}/openapi.json", timeout=30)
    document.raise_for_status()
    schema = schemathesis.openapi.from_dict(document.json())
    fuzzer = Fuzzer(service, f"{stack.gateway_url}{prefix}", callers, session)
    for result in schema.get_all_operations():
        # An operation schemathesis cannot read fails here (the document test says why).
        operation = result.ok()  # type: ignore[union-attr]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzzer.operation(operation, mode)
    return fuzzer


class TestFuzzing:
    def test_no_server_errors_and_every_answer_matches_its_schema(self, platform: DevStack) -> None:
        callers = {"anonymous": {}, "officer": officer_headers(platform)}
        started = time.monotonic()
        findings: list[Finding] = []
        sent: Counter[str] = Counter()
        with requests.Session() as session:
            for service in SERVICES:
                fuzzer = fuzz_service(platform, service, callers, session)
                sent[service] = fuzzer.sent
                findings.extend(fuzzer.findings)
        elapsed = time.monotonic() - started

        summary = ", ".join(f"{service} {count}" for service, count in sent.items())
        print(f"\nfuzzing: {sum(sent.values())} requests in {elapsed:.0f}s ({summary})")
        unique = {(f.service, f.operation, f.caller, f.problem): f for f in findings}
        assert not unique, f"{len(unique)} distinct failures:\n" + "\n".join(
            finding.line() for finding in unique.values()
        )
