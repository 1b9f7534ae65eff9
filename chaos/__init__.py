"""Faults injected into a running platform, and what each cost: recipients lost, recipients
doubled, and how long delivery took to recover.

    python -m chaos                 # what `make chaos` runs: every fault, 2,000 recipients
    python -m chaos --help

Each fault publishes one alert to a ward whose only watchers are the members seeded for the run
(through the services' own code, as the replay seeds, ``replay.population``), injects the fault
(:mod:`chaos.faults`), and counts what the SMTP and FCM sinks received for that alert. The run
ends with a table and exits non-zero when any recipient was lost, or more were doubled than the
window the dispatcher documents (``--max-doubled``).
"""
