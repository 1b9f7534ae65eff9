"""Replay a year of London's crime alerts against Tawny and measure it (issue 12)."""
