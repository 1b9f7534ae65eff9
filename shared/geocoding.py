"""Postcode to point, behind one small interface with two implementations. Geo (postcode
lookup) and identity (address verification) each build their own from their settings.

* :class:`CsvGeocoder` reads an offline file (``postcode,lat,lon,ward_code,borough_code``, such
  as the OS Code-Point Open extract in ../shared/data/london/postcodes.csv), lazily on the first
  lookup and in a thread, so that starting the service costs nothing.
* :class:`HttpGeocoder` asks a postcodes.io-compatible API (``GET {base}/postcodes/{postcode}``).

Both return the ward and borough codes the record carries: those beat point-in-polygon against
the generalised ward polygons, which are coarse near ward edges.
"""

from __future__ import annotations

import asyncio
import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx

from shared.errors import TawnyError
from shared.logs import get_logger

log = get_logger(__name__)


class InvalidPostcodeError(TawnyError):
    status_code = 422
    slug = "invalid-postcode"
    title = "Not a UK postcode"

    def __init__(self, postcode: str) -> None:
        super().__init__(f"{postcode[:20]!r} is not a UK postcode.")


class GeocoderUnavailableError(TawnyError):
    status_code = 503
    slug = "geocoder-unavailable"
    title = "Postcode lookup is unavailable"


# The shapes of UK postcodes (outward code, space, inward code), after normalising.
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")


def normalise_postcode(raw: str) -> str:
    """``sw1a1aa`` and `` SW1A  1AA`` become ``SW1A 1AA``; anything that cannot be a UK
    postcode raises :class:`InvalidPostcodeError`."""
    compact = "".join(raw.split()).upper()
    candidate = f"{compact[:-3]} {compact[-3:]}" if len(compact) >= 5 else compact
    if len(compact) > 8 or not _POSTCODE.match(candidate):
        raise InvalidPostcodeError(raw)
    return candidate


@dataclass(frozen=True)
class PostcodeRecord:
    postcode: str
    lat: float
    lon: float
    ward_code: str | None
    borough_code: str | None


class Geocoder(Protocol):
    async def lookup(self, postcode: str) -> PostcodeRecord | None:
        """The record of a normalised postcode, or None if it is not known."""
        ...

    async def aclose(self) -> None: ...


class NoGeocoder:
    async def lookup(self, postcode: str) -> PostcodeRecord | None:
        raise GeocoderUnavailableError("No geocoder is configured (GEOCODER=none).")

    async def aclose(self) -> None:
        return None


class CsvGeocoder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: dict[str, PostcodeRecord] | None = None
        self._loading = asyncio.Lock()

    async def lookup(self, postcode: str) -> PostcodeRecord | None:
        if self._records is None:
            async with self._loading:
                if self._records is None:
                    self._records = await asyncio.to_thread(self._load)
        return self._records.get(postcode)

    def _load(self) -> dict[str, PostcodeRecord]:
        try:
            with self.path.open(newline="", encoding="utf-8") as file:
                records: dict[str, PostcodeRecord] = {}
                for row in csv.DictReader(file):
                    try:
                        postcode = normalise_postcode(row["postcode"])
                        records[postcode] = PostcodeRecord(
                            postcode=postcode,
                            lat=float(row["lat"]),
                            lon=float(row["lon"]),
                            ward_code=row.get("ward_code") or None,
                            borough_code=row.get("borough_code") or None,
                        )
                    except (InvalidPostcodeError, KeyError, TypeError, ValueError):
                        continue  # a bad row is that postcode unknown, not the file unusable
        except OSError as error:
            raise GeocoderUnavailableError(
                f"The postcode file cannot be read: {error.strerror or error}."
            ) from error
        log.info("geocoder.loaded", path=str(self.path), postcodes=len(records))
        return records

    async def aclose(self) -> None:
        return None


class HttpGeocoder:
    """postcodes.io's contract: 200 with ``result.latitude``, ``result.longitude`` and
    ``result.codes.admin_ward`` / ``admin_district``; 404 for an unknown postcode."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 3.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport
        )

    async def lookup(self, postcode: str) -> PostcodeRecord | None:
        try:
            response = await self._client.get(f"/postcodes/{quote(postcode)}")
        except httpx.HTTPError as error:
            raise GeocoderUnavailableError(
                f"The postcode service did not answer: {type(error).__name__}."
            ) from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise GeocoderUnavailableError(f"The postcode service answered {response.status_code}.")
        try:
            result = response.json()["result"]
            codes = result.get("codes") or {}
            lat, lon = result["latitude"], result["longitude"]
            if lat is None or lon is None:
                return None  # postcodes.io has records without a position
            return PostcodeRecord(
                postcode=normalise_postcode(str(result.get("postcode") or postcode)),
                lat=float(lat),
                lon=float(lon),
                ward_code=codes.get("admin_ward") or None,
                borough_code=codes.get("admin_district") or None,
            )
        except (ValueError, KeyError, TypeError, AttributeError, InvalidPostcodeError) as error:
            raise GeocoderUnavailableError(
                "The postcode service answered with something unreadable."
            ) from error

    async def aclose(self) -> None:
        await self._client.aclose()


def build_geocoder(kind: str, *, csv_path: str, api_url: str, timeout_s: float) -> Geocoder:
    if kind == "csv":
        return CsvGeocoder(Path(csv_path))
    if kind == "http":
        return HttpGeocoder(api_url, timeout_s=timeout_s)
    return NoGeocoder()
