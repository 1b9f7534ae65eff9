"""The members a replay sends to: generated from a seed, seeded through the services' own code.

Every seeded member has an address at :data:`SEEDED_DOMAIN`, a domain no real member can have
(the project's own), so seeded members are told apart from everyone else and removed again in
one command. Each member:

- lives at a real London postcode, drawn uniformly from ``postcodes.csv`` (so wards fill in
  proportion to their postcode counts, the plan's population proxy) and watches its ward;
- receives ``safety_advice`` always and each other crime type with probability ``reach`` (from
  the plan's header), so that alerts reach the plan's expected audiences;
- has a verified email; two thirds have a push endpoint (web push or mobile push, half each);
  a few (:data:`SMS_SHARE`) a verified phone number.

Seeding goes through each service's own layers, never around them:

- identity: :class:`MemberRepository` inserts the member, verified (one precomputed password
  hash for all), as ``MemberService.seed`` does for the demo members;
- dispatch's email endpoint: :meth:`MemberEndpointService.record_verified_email`, the call its
  ``member.email_verified`` handler makes. Seeding calls it directly instead of staging that
  event in identity's outbox: dispatch consumes member events one per transaction (about 8 a
  second on the loaded 2-core box), so a million members would take a day and keep the
  platform busy through the replay that follows;
- geo: :func:`services.geo.subscriptions.service.subscribe`, with its checks and indexes;
- dispatch: :class:`WebPushSubscriptionService` for web push (subscriptions made by the web
  push sink, as a browser would) and :class:`MemberEndpointRepository` for mobile push tokens and
  phone numbers (what the registration endpoints record once a code is confirmed).

Removal (``unseed``) erases each seeded member through identity's rights service, whose
``member.erased`` event makes geo and dispatch delete what they hold.
"""

from __future__ import annotations

import asyncio
import csv
import json
import random
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from replay.plan import ALWAYS_RECEIVED, CRIME_TYPE_WEIGHTS, POSTCODES_CSV

SEEDED_DOMAIN = "replay.tawny.london"
PUSH_SHARE = 2 / 3
SMS_SHARE = 0.02
CHUNK = 500
# Chunks in flight at once per service: enough to overlap database round trips.
SEED_WORKERS = 4
# The Ofcom drama range: numbers that are never assigned to anyone.
SMS_PREFIX = "+4477009"


@dataclass(frozen=True)
class SeededMember:
    index: int
    postcode: str
    ward_code: str
    categories: tuple[str, ...]
    push: str | None  # "webpush", "fcm" or None
    phone: str | None

    @property
    def email(self) -> str:
        return f"member{self.index:07d}@{SEEDED_DOMAIN}"

    @property
    def pseudonym(self) -> str:
        return f"Replay {self.index}"

    @property
    def fcm_token(self) -> str:
        return f"replay-fcm-{self.index:07d}"


@dataclass(frozen=True)
class Postcode:
    postcode: str
    ward_code: str


def load_postcodes(path: Path = POSTCODES_CSV) -> list[Postcode]:
    with path.open(newline="") as handle:
        return [Postcode(r["postcode"], r["ward_code"]) for r in csv.DictReader(handle)]


def generate_members(
    count: int, *, seed: int, reach: float, postcodes: Sequence[Postcode]
) -> Iterator[SeededMember]:
    """The same ``count``, seed and reach always give the same members, in the same order."""
    rng = random.Random(seed * 7919 + count)
    optional = [c for c in CRIME_TYPE_WEIGHTS if c not in ALWAYS_RECEIVED]
    for index in range(count):
        place = postcodes[rng.randrange(len(postcodes))]
        chosen = [c for c in optional if rng.random() < reach]
        categories = tuple(sorted([*ALWAYS_RECEIVED, *chosen]))
        draw = rng.random()
        push = None if draw >= PUSH_SHARE else ("webpush" if draw < PUSH_SHARE / 2 else "fcm")
        phone = f"{SMS_PREFIX}{index % 100_000:05d}" if rng.random() < SMS_SHARE else None
        yield SeededMember(index, place.postcode, place.ward_code, categories, push, phone)


@dataclass
class PopulationState:
    """What a seeding run leaves behind for the replay and for ``unseed``: how to regenerate the
    members, and the web push subscription the sink made for each web push member."""

    seed: int
    count: int
    reach: float
    webpush_subscriptions: dict[int, str]

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> PopulationState:
        data = json.loads(path.read_text())
        data["webpush_subscriptions"] = {
            int(k): v for k, v in data["webpush_subscriptions"].items()
        }
        return cls(**data)

    def members(self, postcodes: Sequence[Postcode] | None = None) -> list[SeededMember]:
        return list(
            generate_members(
                self.count,
                seed=self.seed,
                reach=self.reach,
                postcodes=postcodes if postcodes is not None else load_postcodes(),
            )
        )


@dataclass(frozen=True)
class DatabaseUrls:
    identity: str
    geo: str
    dispatch: str


Progress = Callable[[str, int], None]


def _chunks(items: Sequence[SeededMember], size: int) -> Iterator[Sequence[SeededMember]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _each_chunk(
    members: Sequence[SeededMember],
    handle: Callable[[Sequence[SeededMember]], Awaitable[None]],
    *,
    workers: int,
) -> None:
    """``handle`` every chunk, ``workers`` at a time: each chunk is one transaction, and while
    one waits on the database another can run."""
    chunks = iter(list(_chunks(members, CHUNK)))

    async def work() -> None:
        for chunk in chunks:
            await handle(chunk)

    await asyncio.gather(*(work() for _ in range(workers)))


class Seeder:
    """Seeds members into identity, geo and dispatch through their own layers."""

    def __init__(
        self, urls: DatabaseUrls, *, webpush_sink_url: str | None, progress: Progress
    ) -> None:
        self._urls = urls
        self._webpush_sink_url = webpush_sink_url
        self._progress = progress

    async def seed(self, members: Sequence[SeededMember]) -> dict[int, str]:
        """Seed every member; returns the web push subscription id of each web push member."""
        from services.identity.passwords import hash_password

        # One hash for every seeded member: hashing a million passwords would take hours, and
        # nobody signs in as a seeded member with a password anyway.
        password_hash = await hash_password(uuid.uuid4().hex)
        member_ids = await self._seed_identity(members, password_hash)
        await self._seed_geo(members, member_ids)
        subscriptions = await self._seed_dispatch(members, member_ids)
        await self._wait_for_email_endpoints(member_ids)
        return subscriptions

    async def _seed_identity(
        self, members: Sequence[SeededMember], password_hash: str
    ) -> dict[int, uuid.UUID]:
        from services.identity.config import IdentitySettings
        from services.identity.crypto import PersonalData
        from services.identity.members.repository import MemberRepository
        from services.identity.models import Role
        from shared.db import build_engine, build_sessionmaker, session_scope, utcnow

        personal = PersonalData.from_settings(IdentitySettings(database_url=self._urls.identity))
        engine = build_engine(self._urls.identity, application_name="replay-seed")
        sessions = build_sessionmaker(engine)
        ids: dict[int, uuid.UUID] = {}

        async def seed_chunk(chunk: Sequence[SeededMember]) -> None:
            async with session_scope(sessions) as session:
                repository = MemberRepository(session)
                for member in chunk:
                    row = await repository.insert_if_free(
                        email_index=personal.email_index(member.email),
                        email_encrypted=personal.seal_email(member.email),
                        password_hash=password_hash,
                        pseudonym=member.pseudonym,
                        roles=[Role.RESIDENT.value],
                        email_verified_at=utcnow(),
                    )
                    if row is None:
                        row = await repository.get_by_email_index(
                            personal.email_index(member.email)
                        )
                        assert row is not None, "the insert conflicted on a seeded address"
                    ids[member.index] = row.id
            self._progress("identity", len(chunk))

        try:
            await _each_chunk(members, seed_chunk, workers=SEED_WORKERS)
        finally:
            await engine.dispose()
        return ids

    async def _seed_geo(
        self, members: Sequence[SeededMember], member_ids: dict[int, uuid.UUID]
    ) -> None:
        from services.geo.config import GeoSettings
        from services.geo.errors import AlreadySubscribedError
        from services.geo.subscriptions import service
        from services.geo.subscriptions.schemas import SubscriptionCreate
        from shared.db import build_engine, build_sessionmaker, session_scope

        settings = GeoSettings(database_url=self._urls.geo)
        engine = build_engine(self._urls.geo, application_name="replay-seed")
        sessions = build_sessionmaker(engine)

        async def seed_chunk(chunk: Sequence[SeededMember]) -> None:
            async with session_scope(sessions) as session:
                for member in chunk:
                    body = SubscriptionCreate.model_validate(
                        {"ward_code": member.ward_code, "categories": member.categories}
                    )
                    try:
                        async with session.begin_nested():
                            await service.subscribe(
                                session, member_ids[member.index], body, settings=settings
                            )
                    except AlreadySubscribedError:
                        pass  # seeded before: the subscription stands
            self._progress("geo", len(chunk))

        try:
            await _each_chunk(members, seed_chunk, workers=SEED_WORKERS)
        finally:
            await engine.dispose()

    async def _new_webpush_subscriptions(self, count: int) -> list[dict[str, Any]]:
        if count == 0:
            return []
        if self._webpush_sink_url is None:
            raise ValueError("web push members need the web push sink's URL (--webpush-sink)")
        made: list[dict[str, Any]] = []
        async with httpx.AsyncClient(base_url=self._webpush_sink_url, timeout=60.0) as client:
            while len(made) < count:
                response = await client.post(
                    "/subscriptions/batch", json={"count": min(10_000, count - len(made))}
                )
                response.raise_for_status()
                made.extend(response.json())
        return made

    async def _seed_dispatch(
        self, members: Sequence[SeededMember], member_ids: dict[int, uuid.UUID]
    ) -> dict[int, str]:
        from services.dispatch.members.repository import MemberEndpointRepository
        from services.dispatch.members.service import MemberEndpointService
        from services.dispatch.models import ChannelKind
        from services.dispatch.webpush.schemas import WebPushSubscriptionIn
        from services.dispatch.webpush.service import WebPushSubscriptionService
        from shared.db import build_engine, build_sessionmaker, session_scope, utcnow
        from shared.events import MemberEmailVerified

        webpush_members = [m for m in members if m.push == "webpush"]
        browsers = iter(await self._new_webpush_subscriptions(len(webpush_members)))
        insecure = [self._webpush_sink_url] if self._webpush_sink_url else []
        subscription_ids: dict[int, str] = {}
        engine = build_engine(self._urls.dispatch, application_name="replay-seed")
        sessions = build_sessionmaker(engine)

        async def seed_chunk(chunk: Sequence[SeededMember]) -> None:
            async with session_scope(sessions) as session:
                endpoints = MemberEndpointRepository(session)
                emails = MemberEndpointService(session)
                webpush = WebPushSubscriptionService(session, insecure_origins=insecure)
                for member in chunk:
                    member_id = member_ids[member.index]
                    verified = MemberEmailVerified(
                        member_id=member_id, email=member.email, pseudonym=member.pseudonym
                    )
                    await emails.record_verified_email(verified, verified_at=utcnow())
                    if member.push == "webpush":
                        browser = next(browsers)
                        await webpush.subscribe(
                            member_id, WebPushSubscriptionIn.model_validate(browser)
                        )
                        subscription_ids[member.index] = browser["endpoint"].rsplit("/", 1)[1]
                    elif member.push == "fcm":
                        await endpoints.record_verified(
                            member_id=member_id,
                            channel=ChannelKind.FCM,
                            address=member.fcm_token,
                            verified_at=utcnow(),
                        )
                    if member.phone is not None:
                        await endpoints.record_verified(
                            member_id=member_id,
                            channel=ChannelKind.SMS,
                            address=member.phone,
                            verified_at=utcnow(),
                        )
            self._progress("dispatch", len(chunk))

        try:
            await _each_chunk(members, seed_chunk, workers=SEED_WORKERS)
        finally:
            await engine.dispose()
        return subscription_ids

    async def _wait_for_email_endpoints(
        self, member_ids: dict[int, uuid.UUID], timeout_s: float = 1800.0
    ) -> None:
        """Dispatch learns each email address from identity's event; an alert reaches only
        members whose address it knows, so the replay starts once it knows every one."""
        from services.dispatch.members.repository import MemberEndpointRepository
        from services.dispatch.models import ChannelKind
        from shared.db import build_engine, build_sessionmaker, session_scope

        engine = build_engine(self._urls.dispatch, application_name="replay-seed")
        sessions = build_sessionmaker(engine)
        waiting = list(member_ids.values())
        deadline = asyncio.get_running_loop().time() + timeout_s
        try:
            while waiting:
                async with session_scope(sessions) as session:
                    known: set[uuid.UUID] = set()
                    repository = MemberEndpointRepository(session)
                    for start in range(0, len(waiting), 5_000):
                        rows = await repository.usable_for(waiting[start : start + 5_000])
                        known.update(r.member_id for r in rows if r.channel is ChannelKind.EMAIL)
                still = [m for m in waiting if m not in known]
                self._progress("email endpoints", len(waiting) - len(still))
                waiting = still
                if waiting:
                    if asyncio.get_running_loop().time() > deadline:
                        raise TimeoutError(f"dispatch still lacks {len(waiting)} email addresses")
                    await asyncio.sleep(1.0)
        finally:
            await engine.dispose()


async def unseed(identity_url: str, members: Sequence[SeededMember], progress: Progress) -> int:
    """Erase every seeded member through identity's rights service: its ``member.erased``
    events make geo and dispatch delete their subscriptions and endpoints."""
    from services.identity.config import IdentitySettings
    from services.identity.crypto import PersonalData
    from services.identity.members.repository import MemberRepository
    from services.identity.rights.service import DataRightsService
    from shared.db import build_engine, build_sessionmaker, session_scope

    settings = IdentitySettings(database_url=identity_url)
    personal = PersonalData.from_settings(settings)
    engine = build_engine(identity_url, application_name="replay-unseed")
    sessions = build_sessionmaker(engine)
    erased = 0
    try:
        for chunk in _chunks(members, CHUNK):
            async with session_scope(sessions) as session:
                repository = MemberRepository(session)
                rights = DataRightsService(session, settings)
                for member in chunk:
                    row = await repository.get_by_email_index(personal.email_index(member.email))
                    if row is not None:
                        await rights.erase_by_staff(
                            row.id, actor_id=row.id, reason="replay population removed"
                        )
                        erased += 1
            progress("erased", len(chunk))
    finally:
        await engine.dispose()
    return erased
