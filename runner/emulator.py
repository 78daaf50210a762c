"""Starting the Google Cloud Pub/Sub emulator locally when none is reachable (never in production)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def reachable(host_port: str, timeout: float = 0.5) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def start(host_port: str, project: str, log_path: Path, wait_seconds: float = 60.0) -> subprocess.Popen:
    """Start `gcloud beta emulators pubsub start` in its own process group and wait until it answers."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise RuntimeError("the Pub/Sub emulator is not reachable and gcloud is not installed")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port={host_port}", f"--project={project}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + wait_seconds
    while not reachable(host_port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"the Pub/Sub emulator did not start; see {log_path}")
        time.sleep(0.25)
    return process


def stop(process: subprocess.Popen) -> None:
    """Stop the emulator and its Java child (the whole process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
