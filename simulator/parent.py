"""A simulator started by `turnout serve` ends with it, however the gateway ends (even SIGKILL).

On Linux the kernel sends SIGTERM to the simulator when its parent dies (prctl PR_SET_PDEATHSIG), and
uvicorn shuts down on SIGTERM. Elsewhere there is no such signal: the gateway's own shutdown stops
the simulator as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def end_with_parent() -> bool:
    """Ask for SIGTERM when the parent process dies; False when it has died already (before the
    request took effect) and the caller should stop now."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    return parent != 1 and os.getppid() == parent
