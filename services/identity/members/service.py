"""Registration, email verification and seeding of members. Flushes, never commits."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.config import IdentitySettings
from services.identity.crypto import NAME_PURPOSE, PHONE_PURPOSE, PersonalData
from services.identity.errors import (
    MemberNotFoundError,
    ServiceUnavailableError,
    StateConflictError,
    VerificationTokenExpiredError,
    VerificationTokenInvalidError,
    VerificationTokenUsedError,
)
from services.identity.members.repository import EmailVerificationRepository, MemberRepository
from services.identity.members.schemas import EmailAddress, PersonalDetails, normalise_email
from services.identity.models import Member, OutboxMessage, Role
from services.identity.passwords import hash_password
from services.identity.sending.service import EmailKind, RecipientLimit
from shared.db import utcnow
from shared.events import MemberEmailVerified, VerificationEmailRequested
from shared.logs import get_logger
from shared.outbox import add_event

log = get_logger(__name__)

PRODUCER = "identity"
VERIFICATION_PATH = "/api/identity/email-verifications/"
PSEUDONYM_ATTEMPTS = 20
IMPORTED_EMAIL: TypeAdapter[str] = TypeAdapter(EmailAddress)


def random_pseudonym() -> str:
    """``Neighbour`` and 4 to 6 digits: what other members see instead of a name."""
    return f"Neighbour {1_000 + secrets.randbelow(999_000)}"


def hash_verification_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class MemberService:
    def __init__(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        *,
        new_pseudonym: Callable[[], str] = random_pseudonym,
    ) -> None:
        self._session = session
        self._settings = settings
        self._members = MemberRepository(session)
        self._verifications = EmailVerificationRepository(session)
        self._new_pseudonym = new_pseudonym
        self._personal = PersonalData.from_settings(settings)

    async def find_by_email(self, email: str) -> Member | None:
        return await self._members.get_by_email_index(self._personal.email_index(email))

    def email_of(self, member: Member) -> str:
        return self._personal.open_email(member.email_encrypted)

    def personal_details_of(self, member: Member) -> PersonalDetails:
        return PersonalDetails(
            name=(
                self._personal.open_text(member.name_encrypted, purpose=NAME_PURPOSE)
                if member.name_encrypted
                else None
            ),
            phone=(
                self._personal.open_text(member.phone_encrypted, purpose=PHONE_PURPOSE)
                if member.phone_encrypted
                else None
            ),
        )

    async def set_personal_details(self, member: Member, details: PersonalDetails) -> None:
        member.name_encrypted = (
            self._personal.seal_text(details.name, purpose=NAME_PURPOSE) if details.name else None
        )
        member.phone_encrypted = (
            self._personal.seal_text(details.phone, purpose=PHONE_PURPOSE)
            if details.phone
            else None
        )
        await self._session.flush()

    async def register(self, email: str, password: str) -> None:
        """Create the member (or find them) and email a link, revealing nothing to the caller.

        The password is hashed first on every path so the response time does not say whether
        the address already had an account.
        """
        password_hash = await hash_password(password)
        allowed = await RecipientLimit(self._session, self._settings).allows(
            EmailKind.VERIFICATION, email
        )
        member = await self._insert_member(
            email, password_hash, roles=[Role.RESIDENT.value], verified_at=None
        )
        if member is None:
            member = await self.find_by_email(email)
            assert member is not None, "the insert conflicted on this address"
            if member.email_verified:
                log.info("identity.registration.already_verified", member_id=str(member.id))
                return
            log.info("identity.registration.repeated", member_id=str(member.id))
        else:
            log.info("identity.registration.created", member_id=str(member.id))
        if allowed:
            await self._send_verification(member, password_hash)

    async def verify_email(self, token: str) -> None:
        verification = await self._verifications.get_for_update(hash_verification_token(token))
        if verification is None:
            raise VerificationTokenInvalidError()
        if verification.used_at is not None:
            raise VerificationTokenUsedError()
        now = utcnow()
        if verification.expires_at <= now:
            raise VerificationTokenExpiredError()
        await self._verifications.mark_used(verification, now)
        member = await self._members.mark_verified(
            verification.member_id, password_hash=verification.password_hash, at=now
        )
        if member is None:
            # Verified already through another link: nothing new to announce.
            log.info("identity.email.already_verified", member_id=str(verification.member_id))
            return
        await self._announce_verified(member)
        log.info("identity.email.verified", member_id=str(member.id))

    async def get(self, member_id: uuid.UUID) -> Member:
        member = await self._members.get(member_id)
        if member is None:
            raise MemberNotFoundError()
        return member

    async def seed(
        self,
        email: str,
        password: str,
        roles: list[str],
        *,
        organisation_id: uuid.UUID | None = None,
        totp_exempt: bool = False,
    ) -> Member | None:
        """Create a verified member unless the address exists; None when it did already."""
        email = str(normalise_email(email))
        member = await self._insert_member(
            email,
            await hash_password(password),
            roles=roles,
            verified_at=utcnow(),
            organisation_id=organisation_id,
            totp_exempt=totp_exempt,
        )
        if member is None:
            # Seeded before (perhaps before the exemption existed): keep the flag current.
            existing = await self.find_by_email(email)
            if existing is not None and existing.totp_exempt != totp_exempt:
                existing.totp_exempt = totp_exempt
                await self._session.flush()
            return None
        await self._announce_verified(member)
        log.info("identity.member.seeded", member_id=str(member.id), roles=roles)
        return member

    async def import_verified(
        self, members: Sequence[tuple[str, str]], *, password_hash: str, roles: list[str]
    ) -> dict[str, uuid.UUID]:
        """Bulk import (seeding a population): verified members, each an (email, pseudonym)
        pair, sharing one password hash, in set-based statements. Returns each address's
        member id, whether inserted now or by an earlier import, so an import can be run again.

        No ``member.email_verified`` per member: dispatch consumes those one per transaction,
        so the importer hands dispatch the addresses through its own bulk import instead."""
        emails = [str(normalise_email(email)) for email, _ in members]
        for email in emails:
            IMPORTED_EMAIL.validate_python(email)
        indexes = [self._personal.email_index(email) for email in emails]
        verified_at = utcnow()
        await self._members.insert_many_if_free(
            [
                {
                    "email_index": index,
                    "email_encrypted": self._personal.seal_email(email),
                    "password_hash": password_hash,
                    "pseudonym": pseudonym,
                    "roles": roles,
                    "email_verified_at": verified_at,
                }
                for index, email, (_, pseudonym) in zip(indexes, emails, members, strict=True)
            ]
        )
        ids = await self._members.ids_by_email_index(indexes)
        missing = [email for email, index in zip(emails, indexes, strict=True) if index not in ids]
        if missing:
            # The address is free but the pseudonym was someone else's.
            raise StateConflictError(
                f"{len(missing)} imported members' pseudonyms belong to other members."
            )
        log.info("identity.members.imported", count=len(members), roles=roles)
        return {email: ids[index] for email, index in zip(emails, indexes, strict=True)}

    async def _insert_member(
        self,
        email: str,
        password_hash: str,
        *,
        roles: list[str],
        verified_at: datetime | None,
        organisation_id: uuid.UUID | None = None,
        totp_exempt: bool = False,
    ) -> Member | None:
        """The new member, or None when the address is taken; pseudonym clashes are retried."""
        for _ in range(PSEUDONYM_ATTEMPTS):
            member = await self._members.insert_if_free(
                email_index=self._personal.email_index(email),
                email_encrypted=self._personal.seal_email(email),
                password_hash=password_hash,
                pseudonym=self._new_pseudonym(),
                roles=roles,
                email_verified_at=verified_at,
                organisation_id=organisation_id,
                totp_exempt=totp_exempt,
            )
            if member is not None:
                return member
            if await self.find_by_email(email) is not None:
                return None
            log.info("identity.pseudonym.collision")
        raise ServiceUnavailableError("No free pseudonym was found; please try again.")

    async def _send_verification(self, member: Member, password_hash: str) -> None:
        token = secrets.token_urlsafe(32)
        await self._verifications.add(
            member_id=member.id,
            token_hash=hash_verification_token(token),
            password_hash=password_hash,
            expires_at=utcnow() + timedelta(hours=self._settings.email_verification_ttl_h),
        )
        await add_event(
            self._session,
            OutboxMessage,
            VerificationEmailRequested(
                member_id=member.id,
                email=self.email_of(member),
                pseudonym=member.pseudonym,
                verify_url=f"{self._settings.public_base_url}{VERIFICATION_PATH}{token}",
            ),
            producer=PRODUCER,
        )

    async def _announce_verified(self, member: Member) -> None:
        await add_event(
            self._session,
            OutboxMessage,
            MemberEmailVerified(
                member_id=member.id, email=self.email_of(member), pseudonym=member.pseudonym
            ),
            producer=PRODUCER,
        )
