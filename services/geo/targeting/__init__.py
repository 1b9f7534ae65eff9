"""The geometry that subscriptions and audience resolution share: checked shapes, a metric
projection, H3 covers and the in-memory map of the current wards. Pure: no database here."""
