"""``python -m replay``: see :mod:`replay.cli`."""

from replay.cli import main

main()
