"""Address verification by an uploaded proof that a verifier approves or refuses; the file is
encrypted until decided and deleted once decided."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.config import IdentitySettings
from services.identity.models import AddressVerification, VerificationDocument
from shared.events import MemberAddressVerified, MemberNoticeRequested
from tests.identity.factories import audit_actions, signed_in_member, staged_for_member

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
FORM = {
    "name": "Sam Taylor",
    "address_lines": ["Flat 2", "10 Mansell Street"],
    "postcode": "E1 8AA",
}


async def submit_proof(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes = PNG,
    form: dict[str, Any] = FORM,
) -> httpx.Response:
    return await client.post(
        "/members/me/address/proof",
        data=form,
        files={"file": ("bill.png", content, "image/png")},
        headers=headers,
    )


async def queued(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, member_id: uuid.UUID
) -> list[dict[str, Any]]:
    response = await client.get("/verification-queue", params={"limit": 200}, headers=headers)
    assert response.status_code == 200, response.text
    return [
        item
        for item in response.json()["items"]
        if item["kind"] == kind and item["member_id"] == str(member_id)
    ]


class TestProofOfAddress:
    async def test_a_verifier_sees_it_in_the_queue_reviews_and_approves_it(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, member = await signed_in_member(client, sessions, settings)
        verifier_id, verifier = await signed_in_member(client, sessions, settings, "verifier")
        submitted = await submit_proof(client, member)
        assert submitted.status_code == 202, submitted.text
        verification_id = submitted.json()["id"]

        [item] = await queued(client, verifier, "address_proof", member_id)
        assert item["id"] == verification_id
        assert "Sam" not in str(item) and item["pseudonym"]
        review = (
            await client.get(f"/address-verifications/{verification_id}", headers=verifier)
        ).json()
        assert (review["name"], review["postcode"]) == ("Sam Taylor", "E1 8AA")
        assert review["address_lines"] == ["Flat 2", "10 Mansell Street"]
        document = await client.get(
            f"/verification-documents/{review['document_id']}", headers=verifier
        )
        assert document.status_code == 200
        assert (document.content, document.headers["content-type"]) == (PNG, "image/png")

        decided = await client.post(
            f"/address-verifications/{verification_id}/decision",
            json={"approve": True},
            headers=verifier,
        )

        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "verified"
        assert decided.json()["verification_level"] == "address"
        [event] = await staged_for_member(sessions, MemberAddressVerified.event_type, member_id)
        assert event["home_ward_code"] == "E05009317"
        async with sessions() as session:
            assert await session.get(VerificationDocument, uuid.UUID(review["document_id"])) is None
            verification = await session.get(AddressVerification, uuid.UUID(verification_id))
            assert verification is not None and verification.decided_by == verifier_id
        gone = await client.get(
            f"/verification-documents/{review['document_id']}", headers=verifier
        )
        assert gone.status_code == 404
        assert not await queued(client, verifier, "address_proof", member_id)
        actions = await audit_actions(sessions, member_id)
        assert actions == [
            "address_proof.viewed",
            "verification_document.viewed",
            "address_proof.decided",
        ]

    async def test_a_refusal_needs_a_reason_deletes_the_file_and_tells_the_member(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        member_id, member = await signed_in_member(client, sessions, settings)
        _, verifier = await signed_in_member(client, sessions, settings, "verifier")
        verification_id = (await submit_proof(client, member)).json()["id"]
        path = f"/address-verifications/{verification_id}/decision"

        no_reason = await client.post(path, json={"approve": False}, headers=verifier)
        refused = await client.post(
            path, json={"approve": False, "reason": "The bill is a year old"}, headers=verifier
        )
        again = await client.post(path, json={"approve": True}, headers=verifier)

        assert no_reason.status_code == 422
        assert refused.status_code == 200 and refused.json()["status"] == "refused"
        assert refused.json()["verification_level"] == "email"
        assert again.status_code == 409
        [notice] = await staged_for_member(sessions, MemberNoticeRequested.event_type, member_id)
        assert notice["kind"] == "address_refused" and "a year old" in notice["body"]
        async with sessions() as session:
            verification = await session.get(AddressVerification, uuid.UUID(verification_id))
            assert verification is not None and verification.document_id is None
            assert verification.refusal_reason == "The bill is a year old"

    async def test_a_verifier_does_not_decide_on_their_own_address(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, verifier = await signed_in_member(client, sessions, settings, "verifier")
        verification_id = (await submit_proof(client, verifier)).json()["id"]

        response = await client.post(
            f"/address-verifications/{verification_id}/decision",
            json={"approve": True},
            headers=verifier,
        )

        assert response.status_code == 409

    @pytest.mark.parametrize(
        ("content", "status"),
        [
            (b"GIF89a" + b"\x00" * 100, 415),
            (b"<html>not a pdf</html>", 415),
            (b"%PDF-1.7\n" + b"\x00" * 6_000_000, 413),
        ],
    )
    async def test_only_small_photos_and_pdfs(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
        content: bytes,
        status: int,
    ) -> None:
        _, member = await signed_in_member(client, sessions, settings)

        response = await submit_proof(client, member, content)

        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"

    async def test_the_address_fields_are_validated_in_the_form_too(
        self,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        settings: IdentitySettings,
    ) -> None:
        _, member = await signed_in_member(client, sessions, settings)

        response = await submit_proof(client, member, form={**FORM, "name": "n" * 101})

        assert response.status_code == 422
