"""Address and identity verification. Flushes, never commits.

A member gives a name, address lines and a London postcode. Either identity asks dispatch to
post a one-time code (``member.address_letter_requested``; the code is kept as a hash, works
for ``IDENTITY_ADDRESS_CODE_TTL_DAYS`` and ``IDENTITY_ADDRESS_CODE_MAX_ATTEMPTS`` tries), or
the member uploads a proof of address that a verifier approves or refuses. Uploaded files are
encrypted and deleted once decided. A verified address raises the member to ``address`` and
publishes ``member.address_verified`` with the ward and a coarse H3 cell, never the address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import h3
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.audit.service import AuditLog
from services.identity.config import IdentitySettings
from services.identity.crypto import (
    ADDRESS_PURPOSE,
    DOCUMENT_PURPOSE,
    NAME_PURPOSE,
    PENDING_ADDRESS_PURPOSE,
    PersonalData,
)
from services.identity.errors import (
    AddressCodeExpiredError,
    AddressCodeInvalidError,
    AddressRefusedError,
    IdentityError,
    LetterLimitError,
    MemberNotFoundError,
    RecordNotFoundError,
    StateConflictError,
)
from services.identity.members.repository import MemberRepository
from services.identity.models import (
    AddressMethod,
    AddressVerification,
    AddressVerificationStatus,
    CheckOutcome,
    DocumentPurpose,
    IdentityCheck,
    Member,
    OutboxMessage,
    VerificationDocument,
    VerificationLevel,
)
from services.identity.notices import request_notice
from services.identity.verification.repository import VerificationRepository
from services.identity.verification.schemas import (
    LETTER_CODE_LENGTH,
    IdentityCheckCreate,
    PostalAddress,
)
from shared.db import utcnow
from shared.events import AddressLetterRequested, MemberAddressVerified
from shared.geocoding import Geocoder, normalise_postcode
from shared.logs import get_logger
from shared.outbox import add_event

log = get_logger(__name__)

PRODUCER = "identity"
# Resolution 7 cells are about 5 km²: enough for geo to place a member, too coarse to find them.
HOME_CELL_RESOLUTION = 7
# London's 33 boroughs (and only they) have E09 GSS codes.
LONDON_BOROUGH_PREFIX = "E09"
# No 0/O or 1/I: a letter's code is typed by hand.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LETTER_WINDOW = timedelta(days=30)
_LEVEL_RANK = {level.value: rank for rank, level in enumerate(VerificationLevel)}


def new_letter_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(LETTER_CODE_LENGTH))


def normalise_code(code: str) -> str:
    return "".join(code.split()).upper().replace("-", "")


def hash_letter_code(verification_id: uuid.UUID, code: str) -> str:
    """Keyed by the attempt's id, so one code's hash says nothing about another attempt's."""
    digest = hmac.new(verification_id.bytes, normalise_code(code).encode(), hashlib.sha256)
    return digest.hexdigest()


def raise_level(member: Member, level: VerificationLevel) -> None:
    """Verification only rises: an identity-checked member who verifies an address stays so."""
    if _LEVEL_RANK[level.value] > _LEVEL_RANK[member.verification_level]:
        member.verification_level = level.value


@dataclass(frozen=True)
class LocatedAddress:
    postcode: str
    ward_code: str
    h3_cell: str


@dataclass(frozen=True)
class CodeOutcome:
    verification: AddressVerification
    verification_level: str | None


# What ``enter_code`` refuses after recording the try: the caller runs it in
# ``session_scope(..., kept_on=CODE_REFUSALS)`` so that a wrong try counts.
CODE_REFUSALS = (AddressCodeInvalidError, AddressCodeExpiredError)


class VerificationService:
    def __init__(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        geocoder: Geocoder | None = None,
    ) -> None:
        self._session = session
        self._settings = settings
        self._geocoder = geocoder
        self._personal = PersonalData.from_settings(settings)
        self._verifications = VerificationRepository(session)
        self._members = MemberRepository(session)
        self._audit = AuditLog(session)

    async def locate(self, postcode: str) -> LocatedAddress:
        assert self._geocoder is not None, "address submissions need the geocoder"
        normalised = normalise_postcode(postcode)
        record = await self._geocoder.lookup(normalised)
        if record is None:
            raise AddressRefusedError(f"The postcode {normalised} is not known.")
        in_london = (record.borough_code or "").startswith(LONDON_BOROUGH_PREFIX)
        if not in_london or not record.ward_code:
            raise AddressRefusedError(
                f"Tawny verifies London addresses only, and {normalised} is not in London.",
                postcode=normalised,
            )
        return LocatedAddress(
            postcode=normalised,
            ward_code=record.ward_code,
            h3_cell=h3.latlng_to_cell(record.lat, record.lon, HOME_CELL_RESOLUTION),
        )

    async def request_letter(self, member: Member, address: PostalAddress) -> AddressVerification:
        located = await self.locate(address.postcode)
        # Letters cost money and reach a real door: a member cannot have them sent endlessly.
        limit = self._settings.address_letters_per_30_days
        if await self._verifications.letters_since(member.id, utcnow() - LETTER_WINDOW) >= limit:
            raise LetterLimitError(limit)
        verification = await self._new_attempt(member, address, located, AddressMethod.LETTER)
        code = new_letter_code()
        verification.code_hash = hash_letter_code(verification.id, code)
        verification.expires_at = utcnow() + timedelta(days=self._settings.address_code_ttl_days)
        await self._session.flush()
        await add_event(
            self._session,
            OutboxMessage,
            AddressLetterRequested(
                member_id=member.id,
                letter_id=verification.id,
                recipient_name=address.name,
                address_lines=address.address_lines,
                postcode=located.postcode,
                code=code,
                expires_at=verification.expires_at,
            ),
            producer=PRODUCER,
        )
        log.info("identity.address.letter_requested", member_id=str(member.id))
        return verification

    async def submit_proof(
        self, member: Member, address: PostalAddress, *, content_type: str, content: bytes
    ) -> AddressVerification:
        located = await self.locate(address.postcode)
        document = await self._store_document(
            member, DocumentPurpose.PROOF_OF_ADDRESS, content_type=content_type, content=content
        )
        verification = await self._new_attempt(member, address, located, AddressMethod.PROOF)
        verification.document_id = document.id
        await self._session.flush()
        log.info("identity.address.proof_submitted", member_id=str(member.id))
        return verification

    async def enter_code(self, member_id: uuid.UUID, code: str) -> CodeOutcome:
        """Verify the address with the letter's code. A wrong or expired code is refused with
        one of ``CODE_REFUSALS`` after its try is recorded (flushed)."""
        verification = await self._verifications.pending_for_member(member_id)
        if verification is None or verification.method != AddressMethod.LETTER.value:
            raise StateConflictError("No letter is waiting for a code: ask for a letter first.")
        assert verification.code_hash is not None and verification.expires_at is not None
        now = utcnow()
        if verification.expires_at <= now:
            verification.status = AddressVerificationStatus.EXPIRED.value
            verification.decided_at = now
            await self._session.flush()
            raise AddressCodeExpiredError()
        if not hmac.compare_digest(hash_letter_code(verification.id, code), verification.code_hash):
            verification.failed_attempts += 1
            attempts_left = self._settings.address_code_max_attempts - verification.failed_attempts
            failure: IdentityError = AddressCodeInvalidError(attempts_left)
            if attempts_left <= 0:
                verification.status = AddressVerificationStatus.EXPIRED.value
                verification.decided_at = now
                failure = AddressCodeExpiredError()
            await self._session.flush()
            log.info("identity.address.code_refused", member_id=str(member_id))
            raise failure
        member = await self._members.get(member_id)
        if member is None:
            raise MemberNotFoundError()
        await self._verify(member, verification, decided_by=None)
        return CodeOutcome(verification, member.verification_level)

    async def state_of(self, member: Member) -> AddressVerification:
        verification = await self._verifications.latest_for_member(member.id)
        if verification is None:
            raise RecordNotFoundError("You have not given an address yet.")
        return verification

    def attempts_left(self, verification: AddressVerification) -> int | None:
        if verification.method != AddressMethod.LETTER.value:
            return None
        return max(0, self._settings.address_code_max_attempts - verification.failed_attempts)

    async def proof_for_review(
        self, verification_id: uuid.UUID, *, actor_id: uuid.UUID
    ) -> tuple[AddressVerification, dict[str, Any], str]:
        """The claimed address and the member's pseudonym, for the verifier comparing them
        with the proof. Reading it is audited."""
        verification = await self._verifications.get_address(verification_id)
        if verification is None or verification.method != AddressMethod.PROOF.value:
            raise RecordNotFoundError("There is no proof of address with that id.")
        member = await self._members.get(verification.member_id)
        assert member is not None, "verifications cascade with their member"
        address = self._personal.open_json(
            verification.address_encrypted, purpose=PENDING_ADDRESS_PURPOSE
        )
        await self._audit.record(
            "address_proof.viewed",
            actor_id=actor_id,
            subject=f"member:{member.id}",
            details={"verification_id": str(verification.id)},
        )
        return verification, address, member.pseudonym

    async def document_content(
        self, document_id: uuid.UUID, *, actor_id: uuid.UUID
    ) -> tuple[str, bytes]:
        document = await self._verifications.get_document(document_id)
        if document is None:
            raise RecordNotFoundError("There is no such document (it is deleted once decided).")
        await self._audit.record(
            "verification_document.viewed",
            actor_id=actor_id,
            subject=f"member:{document.member_id}",
            details={"document_id": str(document.id), "purpose": document.purpose},
        )
        content = self._personal.cipher.decrypt(
            document.content_encrypted, purpose=DOCUMENT_PURPOSE
        )
        return document.content_type, content

    async def decide_proof(
        self,
        verification_id: uuid.UUID,
        *,
        actor_id: uuid.UUID,
        approve: bool,
        reason: str | None,
    ) -> tuple[AddressVerification, Member]:
        verification = await self._verifications.address_for_update(verification_id)
        if verification is None or verification.method != AddressMethod.PROOF.value:
            raise RecordNotFoundError("There is no proof of address with that id.")
        if verification.status != AddressVerificationStatus.PENDING.value:
            raise StateConflictError(f"This proof is {verification.status} already.")
        if verification.member_id == actor_id:
            raise StateConflictError("Another verifier must decide on your own address.")
        member = await self._members.get(verification.member_id)
        assert member is not None, "verifications cascade with their member"
        document_ids = [verification.document_id] if verification.document_id else []
        if approve:
            await self._verify(member, verification, decided_by=actor_id)
        else:
            verification.status = AddressVerificationStatus.REFUSED.value
            verification.decided_at = utcnow()
            verification.decided_by = actor_id
            verification.refusal_reason = reason
            await request_notice(
                self._session,
                member.id,
                kind="address_refused",
                subject="Your proof of address was not accepted",
                body=f"A verifier could not accept your proof of address: {reason}",
            )
        verification.document_id = None
        await self._session.flush()
        await self._verifications.delete_documents(document_ids)
        await self._audit.record(
            "address_proof.decided",
            actor_id=actor_id,
            subject=f"member:{member.id}",
            details={
                "verification_id": str(verification.id),
                "approved": approve,
                "reason": reason,
            },
        )
        return verification, member

    async def upload_identity_document(
        self, member: Member, *, content_type: str, content: bytes
    ) -> VerificationDocument:
        document = await self._store_document(
            member, DocumentPurpose.IDENTITY_DOCUMENT, content_type=content_type, content=content
        )
        log.info("identity.identity_document.uploaded", member_id=str(member.id))
        return document

    async def record_identity_check(
        self, member_id: uuid.UUID, body: IdentityCheckCreate, *, actor_id: uuid.UUID
    ) -> tuple[IdentityCheck, Member]:
        member = await self._members.get(member_id)
        if member is None:
            raise RecordNotFoundError("There is no member with that id.")
        if member_id == actor_id:
            raise StateConflictError("Another verifier must check your own identity.")
        if body.checked_on > utcnow().date():
            raise StateConflictError("A check cannot be dated in the future.")
        if body.document_id is not None:
            document = await self._verifications.get_document(body.document_id)
            if (
                document is None
                or document.member_id != member_id
                or document.purpose != DocumentPurpose.IDENTITY_DOCUMENT.value
            ):
                raise RecordNotFoundError("This member has no such identity document.")
            await self._verifications.delete_documents([document.id])
        check = await self._verifications.add_identity_check(
            IdentityCheck(
                member_id=member_id,
                document_type=body.document_type.value,
                outcome=body.outcome.value,
                verifier_id=actor_id,
                checked_on=body.checked_on,
                document_deleted=body.document_id is not None,
            )
        )
        if body.outcome is CheckOutcome.PASS:
            member.identity_verified_at = utcnow()
            raise_level(member, VerificationLevel.IDENTITY)
            await self._session.flush()
        await self._audit.record(
            "identity_check.recorded",
            actor_id=actor_id,
            subject=f"member:{member_id}",
            details={
                "check_id": str(check.id),
                "document_type": check.document_type,
                "outcome": check.outcome,
                "checked_on": check.checked_on.isoformat(),
            },
        )
        log.info(
            "identity.identity_check.recorded", member_id=str(member_id), outcome=check.outcome
        )
        return check, member

    async def _new_attempt(
        self,
        member: Member,
        address: PostalAddress,
        located: LocatedAddress,
        method: AddressMethod,
    ) -> AddressVerification:
        now = utcnow()
        await self._verifications.delete_documents(
            await self._verifications.supersede_pending(member.id, now)
        )
        return await self._verifications.add_address(
            AddressVerification(
                id=uuid.uuid4(),
                member_id=member.id,
                method=method.value,
                status=AddressVerificationStatus.PENDING.value,
                address_encrypted=self._personal.seal_json(
                    {
                        "name": address.name,
                        "address_lines": address.address_lines,
                        "postcode": located.postcode,
                    },
                    purpose=PENDING_ADDRESS_PURPOSE,
                ),
                ward_code=located.ward_code,
                h3_cell=located.h3_cell,
                created_at=now,
            )
        )

    async def _store_document(
        self, member: Member, purpose: DocumentPurpose, *, content_type: str, content: bytes
    ) -> VerificationDocument:
        return await self._verifications.add_document(
            VerificationDocument(
                member_id=member.id,
                purpose=purpose.value,
                content_type=content_type,
                size_bytes=len(content),
                content_encrypted=self._personal.cipher.encrypt(content, purpose=DOCUMENT_PURPOSE),
            )
        )

    async def _verify(
        self, member: Member, verification: AddressVerification, *, decided_by: uuid.UUID | None
    ) -> None:
        now = utcnow()
        verification.status = AddressVerificationStatus.VERIFIED.value
        verification.decided_at = now
        verification.decided_by = decided_by
        address = self._personal.open_json(
            verification.address_encrypted, purpose=PENDING_ADDRESS_PURPOSE
        )
        member.name_encrypted = self._personal.seal_text(address["name"], purpose=NAME_PURPOSE)
        member.address_encrypted = self._personal.seal_json(
            {"address_lines": address["address_lines"], "postcode": address["postcode"]},
            purpose=ADDRESS_PURPOSE,
        )
        member.home_ward_code = verification.ward_code
        member.address_verified_at = now
        raise_level(member, VerificationLevel.ADDRESS)
        await self._session.flush()
        await add_event(
            self._session,
            OutboxMessage,
            MemberAddressVerified(
                member_id=member.id,
                home_ward_code=verification.ward_code,
                h3_cell=verification.h3_cell,
            ),
            producer=PRODUCER,
        )
        await request_notice(
            self._session,
            member.id,
            kind="address_verified",
            subject="Your address is verified",
            body="Your address is verified: you now get alerts for your home ward.",
        )
        log.info("identity.address.verified", member_id=str(member.id), method=verification.method)


def address_of(personal: PersonalData, member: Member) -> dict[str, Any] | None:
    if member.address_encrypted is None:
        return None
    return personal.open_json(member.address_encrypted, purpose=ADDRESS_PURPOSE)
