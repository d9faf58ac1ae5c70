"""Waiting for a `flashgrade serve` subprocess to answer (tests and benchmarks alike)."""

from __future__ import annotations

import subprocess
import time
import urllib.request


def wait_until_up(process: subprocess.Popen[bytes], base: str, *, seconds: float) -> bool:
    """True once ``base``/healthz answers 200; False if the process ends or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.05)
