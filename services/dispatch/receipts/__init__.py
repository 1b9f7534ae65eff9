"""Delivery receipts: providers say whether a message they accepted reached its recipient."""
