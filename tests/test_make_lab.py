"""`make lab`, the README's first command, starts JupyterLab on 127.0.0.1 on one workspace:
the lessons, the exercises and the solutions, lesson 00 open, the engine's folders hidden."""

import http.client
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
        # One workspace: lessons, exercises and solutions side by side...
        assert {"notebooks", "exercises", "solutions"} <= names, names
        # ...and nothing of the engine, the project's tests or its build files.
        assert not names & {"gateway_lab", "tests", "bench", "Makefile", "pyproject.toml"}, names

        def listing(path):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/{path}"
                                        f"?token={token}", timeout=5) as r:
                return {item["name"] for item in json.load(r)["content"]}

        lessons = listing("notebooks")
        assert "00_welcome.ipynb" in lessons
        assert all(name.endswith(".ipynb") for name in lessons), lessons
        assert "03_wsgi_hello.py" in listing("exercises")
        # The Lab opens on lesson 00: the server's front page redirects there.
        front = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        front.request("GET", f"/?token={token}")
        answer = front.getresponse()
        assert answer.status in (301, 302), answer.status
        assert answer.getheader("Location").split("?")[0].endswith(
            "/lab/tree/notebooks/00_welcome.ipynb"), answer.getheader("Location")
        front.close()
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
