"""Audience resolution: turning an alert's target wards into batches of member ids."""
