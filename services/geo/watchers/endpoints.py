"""The public dashboard's members-watching counts: no sign-in, the same for everyone, so they
carry ``Cache-Control: public`` and an ETag (the gateway's public cache honours both). An
officer's token unsuppresses their own boroughs' counts (a platform admin's every count): such
an answer is private and never cached."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response

from services.geo.dependencies import SettingsDep
from services.geo.watchers.schemas import WatcherCounts
from services.geo.watchers.service import LondonCountsCache, WatcherCountService
from shared.auth import OptionalPrincipal
from shared.dashboard import Viewer
from shared.errors import problem_responses
from shared.http_caching import cacheable_response
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/dashboard/watchers", tags=["dashboard"])

CACHED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: your copy (If-None-Match) is current"},
}
IfNoneMatch = Annotated[str | None, Header(max_length=1000)]


def _service(
    request: Request, session: SessionDep, settings: SettingsDep, principal: OptionalPrincipal
) -> WatcherCountService:
    cache: LondonCountsCache | None = getattr(request.app.state, "london_watcher_counts", None)
    if cache is None:
        cache = request.app.state.london_watcher_counts = LondonCountsCache()
    return WatcherCountService(session, settings=settings, cache=cache, viewer=Viewer.of(principal))


def _public(counts: WatcherCounts, max_age_s: int, if_none_match: str | None) -> Response:
    cache_control = (
        f"public, max-age={max_age_s}" if counts.exact_for == "nobody" else "private, no-store"
    )
    return cacheable_response(
        counts.model_dump_json().encode(),
        media_type="application/json",
        cache_control=cache_control,
        if_none_match=if_none_match,
        headers={"Vary": "Authorization"},
    )


@router.get(
    "",
    response_model=WatcherCounts,
    summary="How many members watch London and each borough now (small counts suppressed)",
    responses={**CACHED, **problem_responses(401, 503)},
)
async def london_watchers(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
    if_none_match: IfNoneMatch = None,
) -> Response:
    counts = await _service(request, session, settings, principal).london()
    return _public(counts, settings.dashboard_max_age_s, if_none_match)


@router.get(
    "/{borough_code}",
    response_model=WatcherCounts,
    summary="How many members watch a borough and each of its wards now (small counts suppressed)",
    responses={**CACHED, **problem_responses(401, 422, 503)},
)
async def borough_watchers(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    borough_code: Annotated[
        str,
        Path(
            pattern=r"^E09[0-9]{6}$",
            description="An ONS borough code",
            openapi_examples=openapi_examples(westminster="E09000033"),
        ),
    ],
    principal: OptionalPrincipal,
    if_none_match: IfNoneMatch = None,
) -> Response:
    counts = await _service(request, session, settings, principal).borough(borough_code)
    return _public(counts, settings.dashboard_max_age_s, if_none_match)
