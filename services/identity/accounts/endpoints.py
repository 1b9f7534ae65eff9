"""Accounts: password reset, TOTP enrolment, signing out everywhere."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from services.identity.accounts.schemas import (
    PasswordChanged,
    PasswordResetAccepted,
    PasswordResetConfirm,
    PasswordResetCreate,
    RecoveryCodes,
    TotpConfirm,
    TotpEnrolment,
    TotpReset,
)
from services.identity.accounts.service import PasswordResetService
from services.identity.accounts.two_factor import TwoFactorService
from services.identity.dependencies import CallerDep, PlatformAdminDep, SettingsDep
from services.identity.members.service import MemberService
from services.identity.tokens.service import TokenService
from shared import idempotency
from shared.errors import problem_responses
from shared.runtime import SessionDep
from shared.web import openapi_examples

router = APIRouter(tags=["accounts"])

_EXAMPLE_TOKEN = "x3Jt0mQ2e9PvY7kHcWbq1Zr8sLdN4uFa6GoEiTnVwXy"  # noqa: S105 (an OpenAPI example)


@router.post(
    "/password-resets",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask for a password-reset link",
    description="Always 202 with the same body: nobody learns whether the address has an account.",
    responses=problem_responses(422),
)
async def request_password_reset(
    body: Annotated[
        PasswordResetCreate,
        Body(openapi_examples=openapi_examples(member={"email": "sam@example.com"})),
    ],
    session: SessionDep,
    settings: SettingsDep,
) -> PasswordResetAccepted:
    await PasswordResetService(session, settings).request(body.email)
    return PasswordResetAccepted()


@router.post(
    "/password-resets/confirmation",
    summary="Set a new password with the token from the reset link",
    description="Every refresh token of the member is revoked: sessions elsewhere end.",
    responses=problem_responses(400, 422),
)
async def confirm_password_reset(
    body: Annotated[
        PasswordResetConfirm,
        Body(
            openapi_examples=openapi_examples(
                reset={"token": _EXAMPLE_TOKEN, "password": "a new sturdy passphrase"}
            )
        ),
    ],
    session: SessionDep,
    settings: SettingsDep,
) -> PasswordChanged:
    await PasswordResetService(session, settings).complete(body.token, body.password)
    return PasswordChanged()


@router.post(
    "/members/me/totp",
    status_code=status.HTTP_201_CREATED,
    summary="Start two-factor enrolment: a new TOTP secret for an authenticator app",
    responses=problem_responses(401, 403, 409),
    openapi_extra=idempotency.SECRET_IN_ANSWER,
)
async def start_totp(
    caller: CallerDep, session: SessionDep, settings: SettingsDep, response: Response
) -> TotpEnrolment:
    secret, uri = await TwoFactorService(session, settings).start_enrolment(
        caller.member, account_label=caller.member.pseudonym
    )
    response.headers["Cache-Control"] = "no-store"
    return TotpEnrolment(secret=secret, otpauth_uri=uri)


@router.post(
    "/members/me/totp/confirmation",
    summary="Finish two-factor enrolment with a first code; returns recovery codes once",
    description="Staff roles are in tokens issued after this (sign in again with a code).",
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def confirm_totp(
    body: Annotated[TotpConfirm, Body(openapi_examples=openapi_examples(code={"code": "492039"}))],
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> RecoveryCodes:
    codes = await TwoFactorService(session, settings).confirm_enrolment(caller.member, body.code)
    response.headers["Cache-Control"] = "no-store"
    return RecoveryCodes(recovery_codes=codes)


@router.post(
    "/members/me/sign-out-everywhere",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out everywhere: every refresh token of the member is revoked",
    description="Access tokens already issued lapse within their lifetime (at most 15 minutes).",
    responses=problem_responses(401, 403),
)
async def sign_out_everywhere(
    caller: CallerDep, session: SessionDep, settings: SettingsDep
) -> Response:
    await TokenService(session, settings).revoke_everywhere(caller.member.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/members/me/totp/recovery-codes",
    summary="New recovery codes, for a current TOTP code; the old codes stop working",
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def regenerate_recovery_codes(
    body: Annotated[TotpConfirm, Body(openapi_examples=openapi_examples(code={"code": "492039"}))],
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> RecoveryCodes:
    codes = await TwoFactorService(session, settings).regenerate_recovery_codes(
        caller.member, body.code
    )
    response.headers["Cache-Control"] = "no-store"
    return RecoveryCodes(recovery_codes=codes)


@router.post(
    "/members/{member_id}/totp-reset",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Switch off a member's two-factor authentication (platform admins; audited)",
    description=(
        "For a member who lost both phone and recovery codes: they enrol again. Until then a "
        "staff member's tokens carry no staff roles."
    ),
    responses=problem_responses(401, 403, 404, 422),
)
async def reset_totp(
    member_id: uuid.UUID,
    body: Annotated[
        TotpReset,
        Body(openapi_examples=openapi_examples(lost_phone={"reason": "Phone lost; ID checked"})),
    ],
    caller: PlatformAdminDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    member = await MemberService(session, settings).get(member_id)
    await TwoFactorService(session, settings).reset(
        member, actor_id=caller.member.id, reason=body.reason
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
