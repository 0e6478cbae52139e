"""``python -m snapkit``: the same as the ``snapkit`` command."""

from snapkit.cli.main import main

main()
