"""Read a process's resident memory and thread count from /proc, for the memory and endpoint tests."""

from __future__ import annotations


def status(pid: int | str, field: str) -> int:
    """A number from /proc/<pid>/status (``VmRSS`` in kB, ``Threads``)."""
    with open(f"/proc/{pid}/status") as lines:
        return int(next(line for line in lines if line.startswith(f"{field}:")).split()[1])


def rss_mb(pid: int | str = "self") -> float:
    return status(pid, "VmRSS") / 1024
