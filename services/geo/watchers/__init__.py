"""How many distinct members watch each ward and borough now, for the public dashboard: counts
only, small ones suppressed; no member id leaves geo."""
