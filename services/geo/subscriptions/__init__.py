"""Subscriptions: which members watch which wards."""
