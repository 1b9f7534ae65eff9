"""Boundary sets: importing ONS boroughs and wards, and reading the current set."""
