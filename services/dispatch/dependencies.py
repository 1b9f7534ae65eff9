"""Request dependencies shared by the dispatch service's domains."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from shared.auth import Principal, require_roles

# Built once so that FastAPI sees one dependency (and caches it) wherever it is used.
require_officer = require_roles("officer", "admin")
Officer = Annotated[Principal, Depends(require_officer)]
