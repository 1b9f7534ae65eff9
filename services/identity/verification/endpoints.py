"""Address verification (a letter's one-time code, or a verifier's look at an uploaded proof),
identity checks, and the queue of what waits for verifiers and officers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, File, Form, Query, Request, Response, UploadFile, status

from services.identity.coordinators.service import CoordinatorService
from services.identity.dependencies import (
    CallerDep,
    SettingsDep,
    VerifierDep,
    VettingDep,
)
from services.identity.models import AddressVerification, Role
from services.identity.verification.repository import VerificationRepository
from services.identity.verification.schemas import (
    AddressCodeEntry,
    AddressDecision,
    AddressProofReview,
    AddressVerificationState,
    DocumentUploaded,
    IdentityCheckCreate,
    IdentityCheckRecord,
    PostalAddress,
    PostalAddressForm,
    QueueItem,
    VerificationQueue,
)
from services.identity.verification.service import CODE_REFUSALS, VerificationService
from services.identity.verification.uploads import read_upload
from shared.db import session_scope
from shared.errors import problem_responses
from shared.geocoding import Geocoder
from shared.runtime import SessionDep, SessionsDep, runtime_of
from shared.web import openapi_examples

router = APIRouter(tags=["verification"])

_ADDRESS_EXAMPLE = {
    "name": "Sam Taylor",
    "address_lines": ["Flat 2", "10 Mansell Street"],
    "postcode": "E1 8AA",
}
_UPLOAD_HELP = "A JPEG, PNG or PDF up to IDENTITY_UPLOAD_MAX_BYTES, kept encrypted until decided."


def geocoder_of(request: Request) -> Geocoder:
    geocoder: Geocoder = request.app.state.geocoder
    return geocoder


def _state(
    service: VerificationService, verification: AddressVerification, level: str
) -> AddressVerificationState:
    return AddressVerificationState(
        id=verification.id,
        method=verification.method,
        status=verification.status,
        ward_code=verification.ward_code,
        created_at=verification.created_at,
        expires_at=verification.expires_at,
        attempts_left=service.attempts_left(verification),
        verification_level=level,
    )


@router.post(
    "/members/me/address/letter",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Give my London address and have a one-time code posted to it",
    description=(
        "Publishes `member.address_letter_requested` for dispatch to post. The code works for "
        "30 days and 5 tries (`IDENTITY_ADDRESS_CODE_TTL_DAYS`, `_MAX_ATTEMPTS`); a new address "
        "replaces one still waiting. Addresses outside London are refused (422); at most "
        "`IDENTITY_ADDRESS_LETTERS_PER_30_DAYS` letters are sent to a member (429)."
    ),
    responses=problem_responses(401, 403, 422, 429, 503),
)
async def request_letter(
    body: Annotated[PostalAddress, Body(openapi_examples=openapi_examples(home=_ADDRESS_EXAMPLE))],
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> AddressVerificationState:
    service = VerificationService(session, settings, geocoder_of(request))
    verification = await service.request_letter(caller.member, body)
    return _state(service, verification, caller.member.verification_level)


@router.post(
    "/members/me/address/proof",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Give my London address with a proof of address for a verifier",
    description=f"Multipart: the address fields and `file`. {_UPLOAD_HELP}",
    responses=problem_responses(401, 403, 413, 415, 422, 503),
)
async def submit_proof(
    address: Annotated[PostalAddressForm, Form()],
    file: Annotated[UploadFile, File(description="The proof: a recent bill or statement")],
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> AddressVerificationState:
    content_type, content = await read_upload(file, max_bytes=settings.upload_max_bytes)
    service = VerificationService(session, settings, geocoder_of(request))
    verification = await service.submit_proof(
        caller.member,
        PostalAddress.model_validate(address.model_dump()),
        content_type=content_type,
        content=content,
    )
    return _state(service, verification, caller.member.verification_level)


@router.post(
    "/members/me/address/confirmation",
    summary="Enter the code from the letter",
    description=(
        "Verifies the address: the level becomes `address` and `member.address_verified` "
        "(ward and coarse H3 cell, never the address) is published. A wrong code counts "
        "against the tries left; after the last, or after expiry, a new letter is needed (410)."
    ),
    responses=problem_responses(400, 401, 403, 409, 410, 422),
)
async def confirm_code(
    body: Annotated[
        AddressCodeEntry, Body(openapi_examples=openapi_examples(code={"code": "K7PX3QMA"}))
    ],
    request: Request,
    caller: CallerDep,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> AddressVerificationState:
    # A transaction of its own, committed before a refused code's error goes on: the wrong try
    # must count although the answer is an error (``shared.runtime.independent_sessions``).
    async with session_scope(sessions, kept_on=CODE_REFUSALS) as session:
        service = VerificationService(session, settings)
        outcome = await service.enter_code(caller.member.id, body.code)
        state = _state(
            service,
            outcome.verification,
            outcome.verification_level or caller.member.verification_level,
        )
    # The request's own session did not commit this: wake the relay for the staged event.
    relay = runtime_of(request).relay
    if relay is not None:
        relay.wake()
    return state


@router.get(
    "/members/me/address",
    summary="Where my address verification stands",
    responses=problem_responses(401, 403, 404),
)
async def my_address(
    caller: CallerDep, session: SessionDep, settings: SettingsDep
) -> AddressVerificationState:
    service = VerificationService(session, settings)
    verification = await service.state_of(caller.member)
    return _state(service, verification, caller.member.verification_level)


@router.get(
    "/address-verifications/{verification_id}",
    summary="A proof of address to decide on: the claimed address (verifiers; audited)",
    responses=problem_responses(401, 403, 404, 422),
)
async def review_proof(
    verification_id: uuid.UUID, caller: VerifierDep, session: SessionDep, settings: SettingsDep
) -> AddressProofReview:
    verification, address, pseudonym = await VerificationService(
        session, settings
    ).proof_for_review(verification_id, actor_id=caller.member.id)
    return AddressProofReview(
        id=verification.id,
        member_id=verification.member_id,
        pseudonym=pseudonym,
        status=verification.status,
        name=address["name"],
        address_lines=address["address_lines"],
        postcode=address["postcode"],
        ward_code=verification.ward_code,
        submitted_at=verification.created_at,
        document_id=verification.document_id,
    )


@router.get(
    "/verification-documents/{document_id}",
    summary="An uploaded proof or identity document, until decided (verifiers; audited)",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}},
        **problem_responses(401, 403, 404, 422),
    },
)
async def document_content(
    document_id: uuid.UUID, caller: VerifierDep, session: SessionDep, settings: SettingsDep
) -> Response:
    content_type, content = await VerificationService(session, settings).document_content(
        document_id, actor_id=caller.member.id
    )
    return Response(
        content,
        media_type=content_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": "inline"},
    )


@router.post(
    "/address-verifications/{verification_id}/decision",
    summary="Approve or refuse a proof of address (verifiers; audited)",
    description="The uploaded file is deleted either way; the decision is kept.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def decide_proof(
    verification_id: uuid.UUID,
    body: Annotated[
        AddressDecision,
        Body(
            openapi_examples=openapi_examples(
                approve={"approve": True},
                refuse={"approve": False, "reason": "The bill is more than three months old"},
            )
        ),
    ],
    caller: VerifierDep,
    session: SessionDep,
    settings: SettingsDep,
) -> AddressVerificationState:
    service = VerificationService(session, settings)
    verification, member = await service.decide_proof(
        verification_id, actor_id=caller.member.id, approve=body.approve, reason=body.reason
    )
    return _state(service, verification, member.verification_level)


@router.post(
    "/members/me/identity-documents",
    status_code=status.HTTP_201_CREATED,
    summary="Upload an identity document for a verifier to check",
    description=f"{_UPLOAD_HELP} Deleted once a verifier records the check.",
    responses=problem_responses(401, 403, 413, 415, 422),
)
async def upload_identity_document(
    file: Annotated[UploadFile, File(description="A photo or scan of the document")],
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> DocumentUploaded:
    content_type, content = await read_upload(file, max_bytes=settings.upload_max_bytes)
    document = await VerificationService(session, settings).upload_identity_document(
        caller.member, content_type=content_type, content=content
    )
    return DocumentUploaded(
        document_id=document.id, content_type=document.content_type, size_bytes=document.size_bytes
    )


@router.post(
    "/members/{member_id}/identity-checks",
    status_code=status.HTTP_201_CREATED,
    summary="Record a document check of a member (verifiers; audited)",
    description=(
        "Keeps the document type, outcome, verifier and date, never the document: an uploaded "
        "one named here is deleted. A pass raises the member to `identity`."
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def record_identity_check(
    member_id: uuid.UUID,
    body: Annotated[
        IdentityCheckCreate,
        Body(
            openapi_examples=openapi_examples(
                passport={
                    "document_type": "passport",
                    "outcome": "pass",
                    "checked_on": "2026-11-23",
                }
            )
        ),
    ],
    caller: VerifierDep,
    session: SessionDep,
    settings: SettingsDep,
) -> IdentityCheckRecord:
    check, member = await VerificationService(session, settings).record_identity_check(
        member_id, body, actor_id=caller.member.id
    )
    return IdentityCheckRecord(
        id=check.id,
        member_id=check.member_id,
        document_type=check.document_type,
        outcome=check.outcome,
        verifier_id=check.verifier_id,
        checked_on=check.checked_on,
        document_deleted=check.document_deleted,
        recorded_at=check.recorded_at,
        verification_level=member.verification_level,
    )


@router.get(
    "/verification-queue",
    summary="What waits for a decision (verifiers: everything; officers: their area's schemes)",
    description=(
        "Pending proofs of address, identity documents and coordinator applications, oldest "
        "first, with pseudonyms: names are shown only on the proof itself."
    ),
    responses=problem_responses(401, 403, 422),
)
async def verification_queue(
    caller: VettingDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> VerificationQueue:
    items: list[QueueItem] = []
    if caller.has_any_role(Role.VERIFIER):
        repository = VerificationRepository(session)
        items += [
            QueueItem(
                kind="address_proof",
                id=verification.id,
                member_id=verification.member_id,
                pseudonym=pseudonym,
                submitted_at=verification.created_at,
            )
            for verification, pseudonym in await repository.pending_proofs(limit)
        ]
        items += [
            QueueItem(
                kind="identity_document",
                id=document.id,
                member_id=document.member_id,
                pseudonym=pseudonym,
                submitted_at=document.uploaded_at,
            )
            for document, pseudonym in await repository.pending_identity_documents(limit)
        ]
    coordinators = CoordinatorService(session)
    area = await coordinators.officer_area(caller)
    items += [
        QueueItem(
            kind="coordinator_application",
            id=application.id,
            member_id=application.member_id,
            pseudonym=pseudonym,
            submitted_at=application.created_at,
            scheme_id=application.scheme_id,
        )
        for application, pseudonym in await coordinators.pending_applications(area, limit)
    ]
    items.sort(key=lambda item: item.submitted_at)
    return VerificationQueue(items=items[:limit])
