"""Is a process still running?  For the tests that prove nothing is left behind.

A killed child whose parent has not reaped it yet is a zombie: it runs no
code, so it counts as gone (PID 1 in a container may never reap it).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

LINUX = sys.platform.startswith("linux")


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    """Is `pid` a running (not zombie) process?"""
    if LINUX:
        fields = _stat(pid)
        return fields is not None and fields[0] not in "ZX"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int) -> bool:
    """Is any running (not zombie) process left in process group `pgid`?"""
    if LINUX:
        for entry in os.listdir("/proc"):
            fields = _stat(entry) if entry.isdigit() else None
            if fields is not None and int(fields[2]) == pgid and fields[0] not in "ZX":
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def gone_within(check, items, within: float = 3.0) -> list:
    """The items for which `check` is still true after `within` seconds (reaping takes
    a moment)."""
    end = time.monotonic() + within
    left = [item for item in items if check(item)]
    while left and time.monotonic() < end:
        time.sleep(0.05)
        left = [item for item in left if check(item)]
    return left
