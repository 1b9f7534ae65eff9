"""Members: registration, the emailed verification link, and who am I."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Request, status
from fastapi.responses import RedirectResponse

from services.identity.dependencies import CallerDep, SettingsDep
from services.identity.members.schemas import (
    VERIFICATION_TOKEN_MAX_LENGTH,
    EmailVerificationCreate,
    EmailVerified,
    MemberCreate,
    MemberMe,
    PersonalDetails,
    RegistrationAccepted,
)
from services.identity.members.service import MemberService
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(tags=["members"])

# The web client's page that confirms an address
# (services/gateway/web/js/views/public/verify-email.js).
CLIENT_VERIFY_PAGE = "/app#/verify?token="

_EXAMPLE_TOKEN = "x3Jt0mQ2e9PvY7kHcWbq1Zr8sLdN4uFa6GoEiTnVwXy"  # noqa: S105 (an OpenAPI example)


@router.post(
    "/members",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Register with an email address and a password",
    description=(
        "Always answers 202 with the same body, whether or not the address already has an "
        "account, so that nobody can find out who is a member. A new or still unverified "
        "address is sent a verification link."
    ),
    responses=problem_responses(422, 503),
)
async def register(
    body: Annotated[
        MemberCreate,
        Body(
            openapi_examples=openapi_examples(
                new_member={"email": "sam@example.com", "password": "correct horse battery"}
            )
        ),
    ],
    session: SessionDep,
    settings: SettingsDep,
) -> RegistrationAccepted:
    await MemberService(session, settings).register(body.email, body.password)
    return RegistrationAccepted()


@router.get(
    "/email-verifications/{token}",
    summary="Verify an email address (the link in the email)",
    description=(
        "A browser (Accept: text/html) is sent on to the web client's confirmation page "
        "(303), which confirms with `POST /email-verifications`: a mail scanner that fetches "
        "the link then verifies nothing, and the member sees a page rather than JSON. Any other "
        "client verifies here."
    ),
    response_model=EmailVerified,
    responses={
        303: {"description": "To the web client's page that confirms the address"},
        **problem_responses(400, 410, 422),
    },
)
async def verify_email_link(
    token: Annotated[
        str,
        Path(
            min_length=1,
            max_length=VERIFICATION_TOKEN_MAX_LENGTH,
            openapi_examples=openapi_examples(emailed_token=_EXAMPLE_TOKEN),
        ),
    ],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> EmailVerified | RedirectResponse:
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(
            f"{settings.public_base_url}{CLIENT_VERIFY_PAGE}{quote(token, safe='')}",
            status_code=status.HTTP_303_SEE_OTHER,
        )
    await MemberService(session, settings).verify_email(token)
    return EmailVerified()


@router.post(
    "/email-verifications",
    summary="Verify an email address with the token from the link",
    responses=problem_responses(400, 410, 422),
)
async def verify_email(
    body: Annotated[
        EmailVerificationCreate,
        Body(openapi_examples=openapi_examples(emailed_token={"token": _EXAMPLE_TOKEN})),
    ],
    session: SessionDep,
    settings: SettingsDep,
) -> EmailVerified:
    await MemberService(session, settings).verify_email(body.token)
    return EmailVerified()


@router.get(
    "/members/me",
    summary="The signed-in member: pseudonym, roles, organisation and verification state",
    responses=problem_responses(401, 403, 404),
)
async def me(caller: CallerDep) -> MemberMe:
    member = caller.member
    return MemberMe(
        member_id=member.id,
        pseudonym=member.pseudonym,
        roles=member.roles,
        email_verified=member.email_verified,
        verification_level=member.verification_level,
        organisation_id=member.organisation_id,
        two_factor_enabled=member.totp_enabled_at is not None,
    )


@router.put(
    "/members/me/personal-details",
    summary="Set my name and phone number (kept encrypted, never shown to other members)",
    description="Staff see them only through a two-person identity reveal. Null clears one.",
    responses=problem_responses(401, 403, 404, 422),
)
async def set_personal_details(
    body: Annotated[
        PersonalDetails,
        Body(
            openapi_examples=openapi_examples(
                details={"name": "Sam Taylor", "phone": "+44 20 7946 0000"}
            )
        ),
    ],
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> PersonalDetails:
    service = MemberService(session, settings)
    await service.set_personal_details(caller.member, body)
    return service.personal_details_of(caller.member)
