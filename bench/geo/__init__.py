"""The geo-targeting benchmark: a million synthetic subscribers at real London postcodes.

python -m bench.geo [--subscribers N] [--output bench/results/geo.json]
"""
