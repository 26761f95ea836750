"""The dashboard's server as README starts it, and names typed into its pages that try to leave the runs
folder."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facegan.data import uploads

from .helpers import ROOT


def _listening(pid: int) -> list[tuple[str, str, int]]:
    """(table, address as /proc writes it, port) of every socket process ``pid`` listens on."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                address, port = cols[1].split(":")
                found.append((table, address, int(port, 16)))
    return found


def _put(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n"
                  "Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
        return answer


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="reads listening sockets from Linux's /proc")
def test_streamlit_run_app_as_readme_says_serves_localhost_only_with_xsrf_and_the_upload_cap(tmp_path):
    """`streamlit run app.py`, no flags, from the checkout: every listening socket is 127.0.0.1's, an upload
    without the XSRF token is refused, and the upload cap that configuration gives is the uploads module's."""
    env = {**os.environ, "FACEGAN_RUNS_ROOT": str(tmp_path / "runs")}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 90
        while not (sockets := _listening(server.pid)) and time.monotonic() < end and server.poll() is None:
            time.sleep(0.2)
        assert sockets, "the server never listened"
        assert all(table == "tcp" and address == "0100007F" for table, address, _ in sockets), sockets  # 127.0.0.1
        answer = _put(sockets[0][2], "/_stcore/upload_file/some-session/some-file")
        assert answer.startswith(b"HTTP/1.1 403") and b"XSRF" in answer, answer[:200]
    finally:
        server.terminate()
        server.wait(timeout=30)
    # the configuration that same command resolves (the checkout's .streamlit/config.toml, the user's, the
    # environment): Streamlit counts maxUploadSize in MB of 2**20 bytes
    shown = subprocess.run([sys.executable, "-m", "streamlit", "config", "show"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120).stdout
    cap = re.search(r"^maxUploadSize = (\d+)$", shown, re.M)
    assert cap and int(cap.group(1)) * 2**20 == uploads.MAX_ZIP_BYTES == 2 * 2**30
    assert re.search(r"^enableXsrfProtection = true$", shown, re.M)


def test_an_upload_one_byte_over_the_cap_is_refused_before_extraction(tmp_path):
    import zipfile
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.png", b"x" * 100)
    size = archive.stat().st_size
    assert uploads.check_zip(archive, max_bytes=size).images == 1
    with pytest.raises(uploads.FaceganError, match="may be uploaded"):
        uploads.check_zip(archive, max_bytes=size - 1)


ESCAPES = ["../escape", "../../etc", "/tmp/abs", "a/../../b", "..", ".hidden", "C:\\x", "x\\..\\..\\y"]


@pytest.mark.parametrize("name", ESCAPES)
def test_run_names_typed_into_train_and_runs_cannot_leave_the_runs_folder(with_run, runs_root, name):
    from .test_pages import page, texts
    around = sorted(p.name for p in runs_root.parent.iterdir())
    at = page("pages/train.py")
    at.text_input(key="train_run_name").set_value(name).run()
    assert not at.exception, at.exception
    assert texts(at, "error"), f"no error for run name {name!r}"
    at = page("pages/runs.py")
    at.text_input(key="runs_new_name").set_value(name).run()
    at.button(key="runs_rename").click().run()
    assert not at.exception, at.exception
    assert texts(at, "error"), f"no error for new name {name!r}"
    assert sorted(p.name for p in runs_root.iterdir()) == ["tiny"]  # nothing moved or created
    assert sorted(p.name for p in runs_root.parent.iterdir()) == around
