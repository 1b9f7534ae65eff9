"""Tawny's crime type for received CAP that does not name one (no ``tawny:crimeType``).

Other systems write CAP for their own purposes: an Amber Alert says ``Rescue`` and "Child
Abduction", a weather service ``Met`` and "Severe Thunderstorm Warning". Tawny derives its
classification from what the message says, most specific first, and marks the alert
``crime_type_derived`` so that the approving officer checks it (and corrects it with
``PUT /alerts/{id}/crime-type``) before anyone receives it:

1. the ``eventCode`` (``EVENT_CODES``: the US SAME codes partners' systems use, and Tawny's
   own ``tawny`` code list, which is the crime type's value);
2. words in the first block's ``event`` (``EVENT_WORDS``, matched case-insensitively);
3. the first ``category`` that maps (``CATEGORIES``);
4. otherwise ``other``.

The table is documented in the README ("Police systems: CAP"); change both together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from services.alerts.models import Category, CrimeType

# (valueName, value) of an eventCode, the scheme's name compared case-insensitively.
EVENT_CODES: dict[tuple[str, str], CrimeType] = {
    ("same", "CAE"): CrimeType.MISSING_PERSON,  # Child Abduction Emergency (Amber Alert)
    ("same", "LEW"): CrimeType.SAFETY_ADVICE,  # Law Enforcement Warning
    ("same", "CDW"): CrimeType.SAFETY_ADVICE,  # Civil Danger Warning
    ("same", "CEM"): CrimeType.SAFETY_ADVICE,  # Civil Emergency Message
    ("same", "LAE"): CrimeType.SAFETY_ADVICE,  # Local Area Emergency
    ("same", "SPW"): CrimeType.SAFETY_ADVICE,  # Shelter in Place Warning
}
# Words of the event, in order: the first that appears decides. Witness appeals are never
# derived (they need a crime reference Tawny cannot guess).
EVENT_WORDS: Sequence[tuple[tuple[str, ...], CrimeType]] = (
    (("abduction", "amber alert", "missing"), CrimeType.MISSING_PERSON),
    (("burglary", "burglaries", "break-in"), CrimeType.BURGLARY),
    (("robbery", "robberies", "mugging"), CrimeType.ROBBERY),
    (("pickpocket", "snatch theft", "theft from the person"), CrimeType.THEFT_FROM_PERSON),
    # MOPAC counts the two apart: "theft from" is checked first, and the general words
    # fall to it as well, since thefts from vehicles are by far the larger group.
    (
        ("theft from motor vehicle", "theft from vehicle", "vehicle crime"),
        CrimeType.THEFT_FROM_MOTOR_VEHICLE,
    ),
    (
        ("theft of motor vehicle", "theft of vehicle", "car theft", "stolen vehicle"),
        CrimeType.THEFT_OF_MOTOR_VEHICLE,
    ),
    (("fraud", "scam"), CrimeType.FRAUD_OR_SCAM),
    (("criminal damage", "vandalism", "arson"), CrimeType.CRIMINAL_DAMAGE),
    (("antisocial", "anti-social"), CrimeType.ANTISOCIAL_BEHAVIOUR),
    (("assault", "stabbing", "shooting", "violence"), CrimeType.VIOLENCE_WITH_INJURY),
    (("road closure", "road closed", "closed road"), CrimeType.ROAD_CLOSURE),
)
CATEGORIES: dict[Category, CrimeType] = {
    Category.TRANSPORT: CrimeType.ROAD_CLOSURE,
    Category.SAFETY: CrimeType.SAFETY_ADVICE,
    Category.MET: CrimeType.SAFETY_ADVICE,
    Category.GEO: CrimeType.SAFETY_ADVICE,
    Category.ENV: CrimeType.SAFETY_ADVICE,
    Category.FIRE: CrimeType.SAFETY_ADVICE,
    Category.HEALTH: CrimeType.SAFETY_ADVICE,
    Category.CBRNE: CrimeType.SAFETY_ADVICE,
    Category.INFRA: CrimeType.SAFETY_ADVICE,
}
TAWNY_EVENT_CODE = "tawny"


def derive_crime_type(
    *,
    categories: Iterable[str],
    event: str | None,
    event_codes: Iterable[tuple[str, str]],
) -> CrimeType:
    """The crime type a message without ``tawny:crimeType`` is filed under (see the module)."""
    for name, value in event_codes:
        scheme, code = name.strip().lower(), value.strip()
        if scheme == TAWNY_EVENT_CODE and code in CrimeType.__members__.values():
            return CrimeType(code)
        if (scheme, code.upper()) in EVENT_CODES:
            return EVENT_CODES[(scheme, code.upper())]
    words = (event or "").lower()
    for needles, crime_type in EVENT_WORDS:
        if any(needle in words for needle in needles):
            return crime_type
    for category in categories:
        if category in Category.__members__.values() and Category(category) in CATEGORIES:
            return CATEGORIES[Category(category)]
    return CrimeType.OTHER
