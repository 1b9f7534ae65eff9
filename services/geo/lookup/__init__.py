"""Lookup: a point to its ward and borough, and a postcode to a point (through a geocoder)."""
