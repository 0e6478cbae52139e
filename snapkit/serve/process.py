"""What ``snapkit serve`` does to its own process before it serves (see docs/serve.md).

:func:`snapkit.serve.create_app` never changes process-wide state: a host's process is the
host's. ``snapkit serve`` owns its process, so once the app is built it moves every object
alive at that point (modules, the app, templates, the plugin manager: about all the objects
the process will ever hold for long) out of the garbage collector's reach with
:func:`gc.freeze`. The collector's full collections then walk only what requests create,
instead of pausing every request in flight for the whole heap.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect the start-up garbage, then freeze what is left; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
