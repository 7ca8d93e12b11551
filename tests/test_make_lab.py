"""`make lab`, the README's first command, starts JupyterLab on 127.0.0.1 with the lessons."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.skipif(not list((ROOT / "notebooks").glob("00_*.ipynb")),
                    reason="no lessons in notebooks/ yet (issue 8 open)")
def test_make_lab_serves_the_notebooks_on_loopback(tmp_path):
    port, token = free_port(), "lab-test-token"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    env["JUPYTER_PATH"] = str(ROOT / ".venv" / "share" / "jupyter")
    args = (f"--no-browser --port={port} --ServerApp.port_retries=0 "
            f"--IdentityProvider.token={token} "
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    proc = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        contents = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/contents?token={token}"
                with urllib.request.urlopen(url, timeout=2) as r:
                    contents = json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        assert contents is not None, proc.stderr.read1().decode() if proc.poll() else "no answer"
        names = {item["name"] for item in contents["content"]}
        assert any(name.startswith("00_") and name.endswith(".ipynb") for name in names), names
        # it listens on loopback only
        with pytest.raises(OSError):
            hostname_ip = socket.gethostbyname(socket.gethostname())
            if hostname_ip.startswith("127."):
                raise OSError("no non-loopback address to try")
            socket.create_connection((hostname_ip, port), timeout=1).close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
