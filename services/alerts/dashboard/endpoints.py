"""The public dashboard's figures and the same as open data (CSV and JSON per month).

No sign-in: everyone reads the figures with small counts suppressed. An officer's token
unsuppresses their own boroughs' counts (and a MOPAC or platform admin's every count); such an
answer is private and never cached, while the anonymous ones carry ``Cache-Control: public``
and an ETag, which the gateway's public cache also honours.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from services.alerts.config import AlertsSettings
from services.alerts.dashboard.repository import CellQuery
from services.alerts.dashboard.schemas import (
    COLUMNS,
    MONTH_PATTERN,
    SUPPRESSED_TEXT,
    AreaKind,
    FigureList,
    FigureRow,
    OpenDataDocument,
    OpenDataIndex,
    OpenDataMonth,
)
from services.alerts.dashboard.service import DashboardService
from services.alerts.dependencies import AlertsSettingsDep
from services.alerts.errors import AlertInvalidError
from services.alerts.models import CrimeType
from shared.auth import OptionalPrincipal
from shared.dashboard import Viewer
from shared.errors import problem_responses
from shared.http_caching import cacheable_response
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(prefix="/dashboard", tags=["dashboard"])

MAX_MONTHS = 36
MAX_ROWS = 20_000
OPEN_DATA_LICENCE = "Open Government Licence v3.0"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

Month = Annotated[
    str,
    Path(
        pattern=MONTH_PATTERN,
        description="A calendar month, YYYY-MM",
        openapi_examples=openapi_examples(november="2026-11"),
    ),
]
MonthQuery = Annotated[
    str | None,
    Query(pattern=MONTH_PATTERN, description="A calendar month, YYYY-MM"),
]


def _month(text: str) -> date:
    year, month = text.split("-")
    try:
        return date(int(year), int(month), 1)
    except ValueError as error:
        raise AlertInvalidError(f"{text} is not a calendar month (YYYY-MM).") from error


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def _answer(
    request: Request, body: bytes, media_type: str, *, public: bool, max_age: int
) -> Response:
    """The body with its caching headers, or 304 when the caller's validator matches."""
    return cacheable_response(
        body,
        media_type=media_type,
        cache_control=f"public, max-age={max_age}" if public else "private, no-store",
        if_none_match=request.headers.get("if-none-match"),
        headers={"Vary": "Authorization"},
    )


def _open_data(
    request: Request, settings: AlertsSettings, body: bytes, media_type: str
) -> Response:
    """Open data is the same for everyone (always the public's counts): cacheable anywhere."""
    return _answer(request, body, media_type, public=True, max_age=settings.dashboard_max_age_s)


@router.get(
    "/figures",
    response_model=FigureList,
    summary="Alerts, reach and usefulness per month, area and crime type",
    responses={
        200: {"description": "The figures, ordered by month, area and crime type"},
        **problem_responses(401, 422),
    },
)
async def figures(
    request: Request,
    session: SessionDep,
    settings: AlertsSettingsDep,
    principal: OptionalPrincipal,
    first_month: Annotated[
        str,
        Query(
            alias="from",
            pattern=MONTH_PATTERN,
            description="The first month, YYYY-MM",
            openapi_examples=openapi_examples(january="2026-01"),
        ),
    ],
    last_month: Annotated[
        str | None,
        Query(alias="to", pattern=MONTH_PATTERN, description="The last month (default: from)"),
    ] = None,
    area_kind: Annotated[AreaKind | None, Query(description="london, borough or ward")] = None,
    area_code: Annotated[
        str | None, Query(pattern=r"^E[0-9]{8}$|^[A-Z][0-9]{8}$", description="One area")
    ] = None,
    borough: Annotated[
        str | None,
        Query(pattern=r"^E09[0-9]{6}$", description="A borough and its wards"),
    ] = None,
    crime_type: Annotated[
        CrimeType | Literal["all"] | None,
        Query(description="One crime type, or all: the cells that add up every crime type"),
    ] = None,
) -> Response:
    first = _month(first_month)
    last = _month(last_month) if last_month else first
    if last < first:
        raise AlertInvalidError("The last month comes before the first.")
    if _months_between(first, last) > MAX_MONTHS:
        raise AlertInvalidError(f"Ask for at most {MAX_MONTHS} months at once.")
    viewer = Viewer.of(principal)
    query = CellQuery(
        first_month=first,
        last_month=last,
        area_kind=area_kind,
        area_code=area_code,
        borough_code=borough,
        crime_type=crime_type,
    )
    found = await DashboardService(session, settings=settings).figures(
        query, viewer, limit=MAX_ROWS
    )
    body = FigureList(
        suppress_below=settings.dashboard_suppress_below,
        exact_for=viewer.exact_for,
        rows=[FigureRow.of(f) for f in found],
    )
    return _answer(
        request,
        body.model_dump_json().encode(),
        "application/json",
        public=viewer.is_public,
        max_age=settings.dashboard_max_age_s,
    )


@router.get(
    "/open-data",
    response_model=OpenDataIndex,
    summary="The open data: its columns and a stable URL per month, as CSV and JSON",
)
async def open_data_index(
    request: Request, session: SessionDep, settings: AlertsSettingsDep
) -> Response:
    months = await DashboardService(session, settings=settings).months()
    body = OpenDataIndex(
        licence=OPEN_DATA_LICENCE,
        suppress_below=settings.dashboard_suppress_below,
        suppressed_as=SUPPRESSED_TEXT.format(n=settings.dashboard_suppress_below),
        columns=COLUMNS,
        months=[
            OpenDataMonth(
                month=m.strftime("%Y-%m"),
                json_url=f"open-data/{m:%Y-%m}.json",
                csv_url=f"open-data/{m:%Y-%m}.csv",
            )
            for m in months
        ],
    )
    return _open_data(request, settings, body.model_dump_json().encode(), "application/json")


async def _public_month(
    session: SessionDep, settings: AlertsSettingsDep, month: str
) -> list[FigureRow]:
    first = _month(month)
    found = await DashboardService(session, settings=settings).figures(
        CellQuery(first_month=first, last_month=first), Viewer(), limit=MAX_ROWS * 10
    )
    return [FigureRow.of(f) for f in found]


@router.get(
    "/open-data/{month}.json",
    response_model=OpenDataDocument,
    summary="One month's figures for every area and crime type, as JSON (public counts)",
    responses=problem_responses(422),
)
async def open_data_json(
    request: Request, session: SessionDep, settings: AlertsSettingsDep, month: Month
) -> Response:
    body = OpenDataDocument(
        month=month,
        suppress_below=settings.dashboard_suppress_below,
        columns=COLUMNS,
        rows=await _public_month(session, settings, month),
    )
    return _open_data(request, settings, body.model_dump_json().encode(), "application/json")


@router.get(
    "/open-data/{month}.csv",
    summary="One month's figures for every area and crime type, as CSV (public counts)",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {
                    "example": "month,area_kind,area_code,borough_code,crime_type,alerts,...\r\n"
                    "2026-11,london,E12000007,,burglary,412,...\r\n"
                }
            },
            "description": "A header row naming the columns documented at /dashboard/open-data",
        },
        **problem_responses(422),
    },
)
async def open_data_csv(
    request: Request, session: SessionDep, settings: AlertsSettingsDep, month: Month
) -> Response:
    rows = await _public_month(session, settings, month)
    suppressed = SUPPRESSED_TEXT.format(n=settings.dashboard_suppress_below)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        values = row.model_dump()
        writer.writerow(
            [
                suppressed
                if name in row.suppressed
                else ("" if values[name] is None else values[name])
                for name in COLUMNS
            ]
        )
    return _open_data(request, settings, out.getvalue().encode(), CSV_MEDIA_TYPE)
