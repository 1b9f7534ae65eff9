"""Per-alert delivery totals, published every few seconds while they change."""
