"""Settings every service shares.

Platform-wide values (the broker, the environment, the identity service's JWKS) are read
from unprefixed variables such as ``KAFKA_BOOTSTRAP_SERVERS``; each service's own values use
its prefix, for example ``IDENTITY_DATABASE_URL``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def platform_field(env_name: str, default: object, description: str) -> object:
    """A field read from one unprefixed variable shared by every service."""
    return Field(default=default, validation_alias=AliasChoices(env_name), description=description)


class ServerProcessSettings(BaseSettings):
    """How uvicorn runs a service: it reads these variables itself (``WEB_CONCURRENCY``, and
    ``UVICORN_<OPTION>`` for any option); they are declared here so that they are validated at
    start-up and listed with every other setting."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    web_concurrency: int = platform_field(  # type: ignore[assignment]
        "WEB_CONCURRENCY",
        1,
        "Worker processes uvicorn starts for the service (each with its own bounds and pools); "
        "k8s sets it from the pod's CPU request",
    )
    uvicorn_backlog: int = platform_field(  # type: ignore[assignment]
        "UVICORN_BACKLOG",
        256,
        "Connections the kernel queues for the service before accepting: short, so a flood is "
        "refused at the door rather than waiting unseen",
    )
    uvicorn_limit_concurrency: int = platform_field(  # type: ignore[assignment]
        "UVICORN_LIMIT_CONCURRENCY",
        1000,
        "uvicorn's own last bound on connections and tasks per worker (plain 503 beyond it); "
        "the requests in flight are bounded more tightly by the service's setting",
    )

    # OpenTelemetry's standard variables (shared/tracing.py): the exporter and the SDK read
    # them (and the rest of OTEL_EXPORTER_OTLP_*) themselves; declared here to be validated,
    # listed, and to decide whether tracing is on at all.
    otel_exporter_otlp_endpoint: str = platform_field(  # type: ignore[assignment]
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "",
        "OTLP/HTTP collector base URL (http://collector:4318); traces are exported only when "
        "this or the traces endpoint is set (unset in the dev stack: no tracing, no cost)",
    )
    otel_exporter_otlp_traces_endpoint: str = platform_field(  # type: ignore[assignment]
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "",
        "OTLP/HTTP traces URL in full (http://collector:4318/v1/traces), instead of the base URL",
    )
    otel_sdk_disabled: bool = platform_field(  # type: ignore[assignment]
        "OTEL_SDK_DISABLED", False, "true turns tracing off even with an endpoint set"
    )
    otel_service_name: str = platform_field(  # type: ignore[assignment]
        "OTEL_SERVICE_NAME",
        "",
        "Service name on the spans (default tawny-<service>); OTEL_RESOURCE_ATTRIBUTES adds more",
    )
    otel_traces_sampler: str = platform_field(  # type: ignore[assignment]
        "OTEL_TRACES_SAMPLER",
        "parentbased_always_on",
        "Which requests are traced (parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG=0.1: "
        "one in ten, and every span of a sampled trace)",
    )
    otel_traces_sampler_arg: str = platform_field(  # type: ignore[assignment]
        "OTEL_TRACES_SAMPLER_ARG", "", "The sampler's argument (the ratio for traceidratio)"
    )


class ServiceSettings(ServerProcessSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: Environment = platform_field(  # type: ignore[assignment]
        "TAWNY_ENV", Environment.DEVELOPMENT, "development, test or production"
    )
    log_level: str = platform_field("LOG_LEVEL", "INFO", "Log level")  # type: ignore[assignment]
    log_json: bool = platform_field(  # type: ignore[assignment]
        "LOG_JSON", True, "Write logs as JSON lines (false: coloured console lines)"
    )
    kafka_bootstrap_servers: str = platform_field(  # type: ignore[assignment]
        "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", "Kafka bootstrap servers, comma-separated"
    )
    kafka_enable_idempotence: bool = platform_field(  # type: ignore[assignment]
        "KAFKA_ENABLE_IDEMPOTENCE",
        True,
        "Idempotent producer; must be false for the embedded Tansu broker",
    )
    kafka_namespace: str = Field(
        default="",
        validation_alias=AliasChoices("KAFKA_NAMESPACE"),
        pattern=r"^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)?$",
        max_length=100,
        description=(
            "Prefix of every Kafka topic and consumer-group name (`staging` reads and writes "
            "`staging.tawny.alerts.lifecycle.v1`), so that several environments can share one "
            "cluster; empty for none"
        ),
    )
    identity_jwks_url: str = platform_field(  # type: ignore[assignment]
        "IDENTITY_JWKS_URL",
        "http://127.0.0.1:8001/.well-known/jwks.json",
        "Where services fetch identity's public signing keys",
    )
    jwt_issuer: str = platform_field(  # type: ignore[assignment]
        "JWT_ISSUER", "https://tawny.london/identity", "The iss claim of access tokens"
    )
    jwt_audience: str = platform_field(  # type: ignore[assignment]
        "JWT_AUDIENCE", "tawny", "The aud claim of access tokens"
    )
    jwt_max_lifetime_s: int = platform_field(  # type: ignore[assignment]
        "JWT_MAX_LIFETIME_S",
        900,
        "Longest an access token may live (exp after iat or now); longer-lived ones are refused",
    )
    outbox_poll_interval_s: float = platform_field(  # type: ignore[assignment]
        "OUTBOX_POLL_INTERVAL_S",
        0.2,
        "How often the outbox relay looks for new events; idle, it backs off to 1 s (a commit "
        "in the process that staged events wakes it at once)",
    )

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        description="This service's own PostgreSQL database",
    )
    database_pool_size: int = Field(
        default=10, ge=1, le=100, description="Connections kept open to this service's database"
    )
    database_pool_timeout_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds a request waits for a free database connection before it is "
        "answered 503 with Retry-After (a short wait: a long one only queues the overload)",
    )
    max_in_flight_requests: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="Most HTTP requests one worker process works on at once; beyond it an "
        "immediate 503 with Retry-After (probes and /metrics are never refused)",
    )

    @model_validator(mode="after")
    def _refuse_dev_defaults_in_production(self) -> ServiceSettings:
        if self.environment is Environment.PRODUCTION:
            self.check_production()
        return self

    def check_production(self) -> None:
        """Services override this to refuse placeholder secrets outside development."""
