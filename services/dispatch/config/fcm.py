"""Mobile push through FCM HTTP v1: the API and token endpoints, the Firebase project and
its service-account key, and how fast and how many at once (``DISPATCH_FCM_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from services.dispatch.config.email import MAX_SMTP_TIMEOUT_S


class FcmSettings(BaseModel):
    fcm_base_url: str = Field(
        default="https://fcm.googleapis.com",
        min_length=8,
        max_length=300,
        description="Base URL of the FCM HTTP v1 API (messages:send lives under /v1/projects/)",
    )
    fcm_token_url: str = Field(
        default="https://oauth2.googleapis.com/token",
        min_length=8,
        max_length=300,
        description="OAuth2 token endpoint that exchanges the service account's signed JWT for "
        "an access token",
    )
    fcm_project_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The Firebase project id; unset (or no service-account key): no mobile push",
    )
    fcm_service_account_file: Path | None = Field(
        default=None,
        description="Path of the Google service-account key (JSON) that signs FCM token requests",
    )
    fcm_service_account_json: SecretStr | None = Field(
        default=None,
        max_length=10_000,
        description="The service-account key's JSON itself, instead of a file",
    )
    fcm_concurrency: int = Field(
        default=32,
        ge=1,
        le=1000,
        description="FCM requests one process has in flight at once (multiplexed over HTTP/2)",
    )
    fcm_rate_per_s: float = Field(
        default=0.0,
        ge=0,
        le=100_000,
        description="FCM requests per second the whole deployment may make (a token bucket "
        "shared through PostgreSQL, fcm_concurrency tokens deep); 0: no limit",
    )
    fcm_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=MAX_SMTP_TIMEOUT_S,
        description="Longest time one FCM request (or token request) may take, in seconds",
    )

    @property
    def fcm_enabled(self) -> bool:
        has_key = self.fcm_service_account_file is not None or self.fcm_service_account_json
        return self.fcm_project_id is not None and bool(has_key)

    def _check_fcm_for_production(self) -> None:
        for name, url in (
            ("DISPATCH_FCM_BASE_URL", self.fcm_base_url),
            ("DISPATCH_FCM_TOKEN_URL", self.fcm_token_url),
        ):
            if not url.startswith("https://"):
                raise ValueError(f"{name} must be an https URL in production")
