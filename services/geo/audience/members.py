"""From member numbers (the resolution indexes' 4-byte ids) to sorted, packed member ids.

A member's number never changes and is never reused (``member_numbers``), so each process
keeps the mapping it has read, per database, and asks only for the numbers it has not seen:
after the first London-wide alert, turning a million numbers into ids is one numpy gather.
A rolled-back number stays in the cache harmlessly: no index row can refer to it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.geo.audience.repository import AudienceRepository

ID_BYTES = 16
NUMBER = np.dtype(">i4")
PACKED = np.dtype("S16")
# Above this many unknown numbers, read the whole table (one sequential scan) rather than
# look each up by key.
_READ_ALL_ABOVE = 20_000
# Below one number in this many of the range they span, de-duplicate by sorting.
_SORT_BELOW_DENSITY = 16


def unique_numbers(*packed: bytes) -> npt.NDArray[np.int32]:
    """The distinct member numbers in big-endian int32 arrays, ascending (a bitmap)."""
    arrays = [np.frombuffer(p, dtype=NUMBER) for p in packed if p]
    if not arrays:
        return np.zeros(0, dtype=np.int32)
    numbers = np.concatenate(arrays).astype(np.int32)
    if not len(numbers):
        return numbers
    largest = int(numbers.max())
    if len(numbers) * _SORT_BELOW_DENSITY < largest:
        # Few numbers spread over a large range: a sort beats clearing a bitmap that large.
        return np.unique(numbers)
    seen = np.zeros(largest + 1, dtype=bool)
    seen[numbers] = True
    return np.flatnonzero(seen).astype(np.int32)


def count_distinct(packed: bytes) -> int:
    return len(unique_numbers(packed))


class _Mapping:
    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=PACKED)
        self.known = np.zeros(0, dtype=bool)

    def learn(self, numbers: bytes, ids: bytes) -> None:
        learned = np.frombuffer(numbers, dtype=NUMBER).astype(np.int64)
        if not len(learned):
            return
        size = int(learned.max()) + 1
        if size > len(self.ids):
            grown = max(size, len(self.ids) * 5 // 4)
            self.ids = np.concatenate([self.ids, np.zeros(grown - len(self.ids), dtype=PACKED)])
            self.known = np.concatenate([self.known, np.zeros(grown - len(self.known), dtype=bool)])
        self.ids[learned] = np.frombuffer(ids, dtype=PACKED)
        self.known[learned] = True

    def missing(self, numbers: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
        inside = numbers < len(self.known)
        unknown = np.ones(len(numbers), dtype=bool)
        unknown[inside] = ~self.known[numbers[inside]]
        return numbers[unknown]


_MAPPINGS: dict[tuple[str, int], _Mapping] = {}


async def packed_ids(
    repository: AudienceRepository, database: str, numbers: npt.NDArray[np.int32]
) -> bytes:
    """The member ids of ``numbers``, sorted by id and packed 16 bytes each."""
    if not len(numbers):
        return b""
    key = (database, await repository.database_oid())
    mapping = _MAPPINGS.setdefault(key, _Mapping())
    missing = mapping.missing(numbers)
    if len(missing) > _READ_ALL_ABOVE:
        mapping.learn(*await repository.member_ids(None))
    elif len(missing):
        mapping.learn(*await repository.member_ids(missing.tolist()))
    missing = mapping.missing(numbers)
    if len(missing):
        raise LookupError(f"{len(missing)} member numbers without a member")
    return sort_packed(mapping.ids[numbers])


def sort_packed(ids: npt.NDArray[np.bytes_]) -> bytes:
    """Sort 16-byte ids as the database sorts UUIDs (bytewise). By the first eight bytes as
    a native integer (ten times faster than numpy's string sort); only if two ids share
    them, which random ids practically never do, by both halves."""
    halves = np.frombuffer(ids.tobytes(), dtype=">u8").reshape(-1, 2)
    high = halves[:, 0].astype(np.uint64)
    order = np.argsort(high)
    ordered_high = high[order]
    if len(ids) > 1 and bool(np.any(ordered_high[1:] == ordered_high[:-1])):
        order = np.lexsort((halves[:, 1].astype(np.uint64), high))
    return bytes(ids[order].tobytes())
