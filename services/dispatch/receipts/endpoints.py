"""Providers' delivery-receipt callbacks."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response

from services.dispatch.config import DispatchSettings
from services.dispatch.errors import ReceiptUnauthorisedError
from services.dispatch.receipts.schemas import NotifyReceipt
from services.dispatch.receipts.service import ReceiptService
from shared.errors import problem_responses
from shared.runtime import SessionDep

router = APIRouter(prefix="/receipts", tags=["receipts"])


def receipt_service(session: SessionDep) -> ReceiptService:
    return ReceiptService(session)


ReceiptServiceDep = Annotated[ReceiptService, Depends(receipt_service)]


def require_notify_token(
    request: Request,
    authorization: Annotated[str | None, Header(max_length=500)] = None,
) -> None:
    settings: DispatchSettings = request.app.state.settings
    expected = settings.notify_receipt_token_value
    scheme, _, token = (authorization or "").partition(" ")
    if (
        expected is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(token.encode(), expected.encode())
    ):
        raise ReceiptUnauthorisedError("The callback must carry the configured bearer token.")


@router.post(
    "/notify",
    status_code=204,
    summary="Record a GOV.UK Notify delivery receipt",
    description="Called by Notify (its callback for SMS and letters), authenticated with the "
    "bearer token `DISPATCH_NOTIFY_RECEIPT_TOKEN`. `delivered` marks the message delivered; "
    "`permanent-failure`, `temporary-failure` and `technical-failure` mark it failed (a "
    "permanent failure also disables the SMS number). Answers 204 for a receipt about an "
    "unknown or already settled message too, so the provider stops retrying. FCM and web push "
    "send no receipts.",
    responses=problem_responses(401, 422),
    dependencies=[Depends(require_notify_token)],
)
async def notify_receipt(receipt: NotifyReceipt, service: ReceiptServiceDep) -> Response:
    await service.record_notify(receipt)
    return Response(status_code=204)
