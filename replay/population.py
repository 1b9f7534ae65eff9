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

Seeding goes through each service's own bulk import, never around it: the same checks and the
same rows as one member at a time, in a few set-based statements per chunk of :data:`CHUNK`
(one member at a time managed about 115 a second on a quiet box, geo's subscriptions the
slowest stage at about 220; BENCHMARKS.md, "Seeding"):

- identity: :meth:`MemberService.import_verified` inserts the members, verified, with one
  precomputed password hash for all (as ``MemberService.seed`` does for the demo members);
- geo: :meth:`services.geo.subscriptions.service.SubscriptionService.subscribe_many`,
  ``subscribe``'s checks and resolution index rows for a batch;
- dispatch: :meth:`MemberEndpointService.record_verified_emails` (what its
  ``member.email_verified`` handler records; the importer hands dispatch the addresses instead
  of staging that event per member, which dispatch consumes one per transaction, so a million
  would take hours and keep the platform busy through the replay that follows),
  :meth:`WebPushSubscriptionService.subscribe_many` for web push (subscriptions made by the web
  push sink, as a browser would) and :meth:`MemberEndpointRepository.record_verified_many` for
  mobile push tokens and phone numbers (what the registration endpoints record once a code is
  confirmed).

Removal (``unseed``) erases each seeded member through identity's rights service, whose
``member.erased`` event makes geo and dispatch delete what they hold.
"""

from __future__ import annotations

import asyncio
import csv
import json
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from replay.plan import ALWAYS_RECEIVED, CRIME_TYPE_WEIGHTS, POSTCODES_CSV

SEEDED_DOMAIN = "replay.tawny.london"
PUSH_SHARE = 2 / 3
SMS_SHARE = 0.02
# Members per bulk import: a few statements per service per chunk.
CHUNK = 2000
# Chunks in flight at once: while one waits on a database, another is built.
SEED_WORKERS = 3
# Seeded phone numbers: +44 7700 9 and five digits, one number per member who has one (two
# members sharing a number would each get the SMS, which the replay's check counts as doubled).
SMS_PREFIX = "+4477009"
SMS_NUMBERS = 100_000


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
    phones = 0
    for index in range(count):
        place = postcodes[rng.randrange(len(postcodes))]
        chosen = [c for c in optional if rng.random() < reach]
        categories = tuple(sorted([*ALWAYS_RECEIVED, *chosen]))
        draw = rng.random()
        push = None if draw >= PUSH_SHARE else ("webpush" if draw < PUSH_SHARE / 2 else "fcm")
        phone = None
        if rng.random() < SMS_SHARE:
            if phones == SMS_NUMBERS:
                raise ValueError(f"more than {SMS_NUMBERS:,} seeded phone numbers")
            phone, phones = f"{SMS_PREFIX}{phones:05d}", phones + 1
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
    """Seeds members into identity, geo and dispatch through each service's bulk import: the
    same checks and rows as one member at a time, in a few statements per chunk. Each chunk
    goes through the three services in turn, :data:`SEED_WORKERS` chunks at a time."""

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
        webpush_members = [m for m in members if m.push == "webpush"]
        browsers = dict(
            zip(
                (m.index for m in webpush_members),
                await self._new_webpush_subscriptions(len(webpush_members)),
                strict=True,
            )
        )
        async with _Databases.open(self._urls) as databases:

            async def seed_chunk(chunk: Sequence[SeededMember]) -> None:
                member_ids = await self._seed_identity(databases, chunk, password_hash)
                self._progress("identity", len(chunk))
                await self._seed_geo(databases, chunk, member_ids)
                self._progress("geo", len(chunk))
                await self._seed_dispatch(databases, chunk, member_ids, browsers)
                self._progress("dispatch", len(chunk))

            await _each_chunk(members, seed_chunk, workers=SEED_WORKERS)
        return {index: b["endpoint"].rsplit("/", 1)[1] for index, b in browsers.items()}

    async def _seed_identity(
        self, databases: _Databases, chunk: Sequence[SeededMember], password_hash: str
    ) -> dict[int, uuid.UUID]:
        from services.identity.members.service import MemberService
        from services.identity.models import Role
        from shared.db import session_scope

        async with session_scope(databases.identity) as session:
            ids = await MemberService(session, databases.identity_settings).import_verified(
                [(m.email, m.pseudonym) for m in chunk],
                password_hash=password_hash,
                roles=[Role.RESIDENT.value],
            )
        return {m.index: ids[m.email] for m in chunk}

    async def _seed_geo(
        self,
        databases: _Databases,
        chunk: Sequence[SeededMember],
        member_ids: dict[int, uuid.UUID],
    ) -> None:
        from services.geo.subscriptions.schemas import SubscriptionCreate
        from services.geo.subscriptions.service import SubscriptionService
        from shared.db import session_scope

        requests = [
            (
                member_ids[m.index],
                SubscriptionCreate.model_validate(
                    {"ward_code": m.ward_code, "categories": m.categories}
                ),
            )
            for m in chunk
        ]
        async with session_scope(databases.geo) as session:
            await SubscriptionService(session).subscribe_many(
                requests, settings=databases.geo_settings
            )

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
        self,
        databases: _Databases,
        chunk: Sequence[SeededMember],
        member_ids: dict[int, uuid.UUID],
        browsers: dict[int, dict[str, Any]],
    ) -> None:
        """Dispatch's bulk imports: the verified emails (what its ``member.email_verified``
        handler records), browsers' web push subscriptions (as ``PUT /endpoints/me/webpush``
        checks them), and mobile push tokens and phone numbers (what the registration
        endpoints record once a code is confirmed)."""
        from services.dispatch.members.repository import MemberEndpointRepository, VerifiedEndpoint
        from services.dispatch.members.service import MemberEndpointService
        from services.dispatch.models import ChannelKind
        from services.dispatch.webpush.schemas import WebPushSubscriptionIn
        from services.dispatch.webpush.service import WebPushSubscriptionService
        from shared.db import session_scope, utcnow
        from shared.events import MemberEmailVerified

        insecure = [self._webpush_sink_url] if self._webpush_sink_url else []
        now = utcnow()
        async with session_scope(databases.dispatch) as session:
            await MemberEndpointService(session).record_verified_emails(
                [
                    MemberEmailVerified(
                        member_id=member_ids[m.index], email=m.email, pseudonym=m.pseudonym
                    )
                    for m in chunk
                ],
                verified_at=now,
            )
            await WebPushSubscriptionService(session, insecure_origins=insecure).subscribe_many(
                [
                    (member_ids[m.index], WebPushSubscriptionIn.model_validate(browsers[m.index]))
                    for m in chunk
                    if m.push == "webpush"
                ]
            )
            await MemberEndpointRepository(session).record_verified_many(
                [
                    VerifiedEndpoint(member_ids[m.index], ChannelKind.FCM, m.fcm_token, now)
                    for m in chunk
                    if m.push == "fcm"
                ]
                + [
                    VerifiedEndpoint(member_ids[m.index], ChannelKind.SMS, m.phone, now)
                    for m in chunk
                    if m.phone is not None
                ]
            )


@dataclass
class _Databases:
    """One engine per service's database for a seeding run, with the settings its code needs."""

    identity: async_sessionmaker[AsyncSession]
    geo: async_sessionmaker[AsyncSession]
    dispatch: async_sessionmaker[AsyncSession]
    identity_settings: Any
    geo_settings: Any

    @classmethod
    @asynccontextmanager
    async def open(cls, urls: DatabaseUrls) -> AsyncIterator[_Databases]:
        from services.geo.config import GeoSettings
        from services.identity.config import IdentitySettings
        from shared.db import build_engine, build_sessionmaker

        engines = [
            build_engine(url, application_name="replay-seed")
            for url in (urls.identity, urls.geo, urls.dispatch)
        ]
        identity, geo, dispatch = (build_sessionmaker(engine) for engine in engines)
        try:
            yield cls(
                identity,
                geo,
                dispatch,
                identity_settings=IdentitySettings(database_url=urls.identity),
                geo_settings=GeoSettings(database_url=urls.geo),
            )
        finally:
            for engine in engines:
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
