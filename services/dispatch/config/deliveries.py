"""The delivery workers: how many per channel and process, what they claim and under which
lease, how long a chunk may take, how they poll, retry and sweep, and how long a recipient
kept pending for want of an address may still get an alert."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator

# Room for recording a chunk's results after its last hand-over, before the sweeper may take
# its rows back: see ``services.dispatch.deliveries.worker``.
RECORDING_MARGIN_S = 10.0


class DeliverySettings(BaseModel):
    worker_tasks: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Delivery workers per channel in each process (email, web push, and FCM "
        "and SMS when configured), each claiming only its channel's deliveries and sending one "
        "chunk at a time, so that a slow channel never holds up another; a process holds at "
        "most worker_tasks x channels x claim_size deliveries",
    )
    claim_size: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="Deliveries a worker claims at once and holds under its process's lease "
        "until their outcomes are written",
    )
    record_slice: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="A worker hands a chunk to its channel in slices of this many recipients, "
        "all under way at once, and records each slice's accepted messages as it ends: a "
        "dispatcher that dies resends only the messages on the wire and the slices under way",
    )
    poll_interval_s: float = Field(
        default=0.25,
        gt=0,
        le=10,
        description="How long a worker waits before looking for deliveries again after a claim "
        "that was not full, seconds (one that found none backs off to idle_poll_max_s)",
    )
    idle_poll_max_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="The longest an idle worker waits between looks for deliveries (its wait "
        "doubles from poll_interval_s while it finds none; new rows wake it at once through "
        "PostgreSQL LISTEN/NOTIFY), seconds",
    )
    send_budget_s: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="A chunk starts no new hand-over after this many seconds, so it ends in time",
    )
    sending_timeout_s: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="A backstop: a delivery held 'sending' this long is sent again even while "
        "its process renews the lease; must exceed send_budget_s + the longest channel "
        "timeout + 10",
    )
    lease_s: float = Field(
        default=10.0,
        ge=1,
        le=600,
        description="How long a claim on deliveries lasts unless its process renews it: a "
        "dispatcher that dies has its deliveries sent again within lease_s + sweep_interval_s",
    )
    lease_renew_interval_s: float = Field(
        default=3.0,
        gt=0,
        le=300,
        description="How often a dispatcher renews the leases of the deliveries it holds; at "
        "most a third of lease_s, so one late renewal never lets a lease lapse",
    )
    sweep_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="How often each process resumes stuck deliveries and pending ones that "
        "became deliverable, seconds",
    )
    max_attempts: int = Field(
        default=6,
        ge=1,
        le=50,
        description="Attempts at a delivery before a temporary failure becomes 'failed'",
    )
    retry_base_delay_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="First retry delay after a temporary failure; doubled per attempt, each "
        "delay drawn between half and all of it (jitter), seconds",
    )
    retry_max_delay_s: float = Field(
        default=1800.0,
        gt=0,
        le=86400,
        description="Longest retry delay, seconds",
    )
    pending_max_age_s: float = Field(
        default=86400.0,
        gt=0,
        le=30 * 86400,
        description="A member who verifies an address after an alert without an expiry time "
        "still gets it if it was sent less than this long ago, seconds",
    )

    @model_validator(mode="after")
    def _leases_are_renewed_in_time(self) -> Self:
        if self.lease_renew_interval_s * 3 > self.lease_s:
            raise ValueError(
                "lease_renew_interval_s must be at most a third of lease_s: a live dispatcher's "
                "lease would lapse after one slow renewal, and its deliveries be sent twice"
            )
        return self
