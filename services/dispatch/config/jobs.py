"""The periodic jobs every dispatch process runs (``shared.periodic.run_every``): daily
digests, the purge past the retention period, delivery totals for alerts, and the backlog
gauges."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PeriodicJobSettings(BaseModel):
    digest_interval_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How often each process looks for daily digests that are due, seconds",
    )
    digest_claim_size: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="Held deliveries one digest run takes at once (their members' digests are "
        "sent before it takes more)",
    )
    alert_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Alerts' content and finished deliveries are deleted this many days after "
        "the alert came, once none of its deliveries is still to be sent",
    )
    purge_interval_s: float = Field(
        default=3600.0,
        gt=0,
        le=86400,
        description="How often each process deletes alerts past alert_retention_days, seconds",
    )
    stats_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often dispatch publishes per-alert delivery totals "
        "(delivery.stats_reported) for alerts whose deliveries changed, seconds",
    )
    backlog_report_interval_s: float = Field(
        default=15.0,
        gt=0,
        le=600,
        description="How often each process counts the deliveries due and in flight per channel "
        "for its Prometheus gauges (every process reports the deployment's totals), seconds",
    )
