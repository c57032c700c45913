"""Where a workspace's rows live: one local SQLite file (the default) or a PostgreSQL server (team mode).

:class:`drafting.workspace.Workspace` holds all the logic and writes its SQL once, in the part both
engines understand (``?`` placeholders, ``ON CONFLICT`` upserts, ``ORDER BY rowid``). A backend here
only creates the tables and runs one transaction at a time, and keeps its dialect to itself:

- SQLite: WAL journal, 0600 files, and old workspace files gain the ``owner`` column;
- PostgreSQL: ``%s`` placeholders (translated from ``?``), the tables in a schema of their own
  (``workspace`` by default) so they sit beside the shared 范文库's, and an explicit ``rowid`` column
  (SQLite's is implicit) so "in the order they were added" reads the same on both.

Selected by :func:`open_backend` from a location: a ``postgresql://`` URL (``team_db_url`` in team
mode, see :attr:`drafting.config.Settings.workspace_location`) or a file path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from drafting.config import private_dir, private_file
from drafting.errors import WorkspaceError
from drafting.pgconn import PgConnection

__all__ = ["Backend", "Connection", "SqliteBackend", "PostgresBackend", "open_backend", "is_server_url"]

# {rowid} is "" for SQLite (every table has an implicit rowid) and an explicit column for PostgreSQL.
_PG_ROWID = "rowid BIGSERIAL, "
_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
  {rowid}id TEXT PRIMARY KEY, name TEXT NOT NULL, genre TEXT, created TEXT, updated TEXT,
  brief TEXT, passages TEXT, outline TEXT, working TEXT, review TEXT, owner TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS versions (
  project_id TEXT NOT NULL, number INTEGER NOT NULL, body TEXT NOT NULL, created TEXT,
  PRIMARY KEY (project_id, number)
);
CREATE TABLE IF NOT EXISTS locks (
  {rowid}project_id TEXT NOT NULL, text TEXT NOT NULL, created TEXT,
  PRIMARY KEY (project_id, text)
);
CREATE TABLE IF NOT EXISTS facts (
  {rowid}project_id TEXT NOT NULL, value TEXT NOT NULL, body TEXT NOT NULL, created TEXT,
  PRIMARY KEY (project_id, value)
);
CREATE TABLE IF NOT EXISTS comments (
  {rowid}project_id TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, updated TEXT,
  PRIMARY KEY (project_id, id)
);
CREATE TABLE IF NOT EXISTS shares (
  project_id TEXT NOT NULL, writer TEXT NOT NULL, created TEXT,
  PRIMARY KEY (project_id, writer)
);
"""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What a transaction offers the workspace: ``execute`` with ``?`` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor: ...


class Backend(Protocol):
    where: str  # for messages: the file, or the server URL without its password

    def transaction(self) -> AbstractContextManager[Connection]: ...

    def close(self) -> None: ...


def is_server_url(location: Path | str) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def open_backend(location: Path | str, schema: str = "workspace") -> Backend:
    """PostgreSQL for a ``postgresql://`` URL, else the SQLite file at that path."""
    if is_server_url(location):
        return PostgresBackend(str(location), schema)
    return SqliteBackend(Path(location))


class SqliteBackend:
    """One file; a new connection per transaction (several processes may share the file)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        private_dir(self.path.parent)  # 0700: drafts are not for other local users
        for suffix in ("", "-wal", "-shm"):
            private_file(self.path.with_name(self.path.name + suffix))
        try:
            with self._connect() as db:
                db.executescript(_SCHEMA.format(rowid=""))
                if "owner" not in {r[1] for r in db.execute("PRAGMA table_info(projects)")}:  # before team mode
                    db.execute("ALTER TABLE projects ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"工作区文件损坏或无法打开：{self.path}（{exc}）") from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                yield db
        finally:
            db.close()

    def transaction(self) -> AbstractContextManager[Connection]:
        return self._connect()

    def close(self) -> None:
        pass  # nothing stays open between transactions


class _Translated:
    """A psycopg connection that takes the workspace's ``?`` placeholders (its SQL has no literal ``?`` or ``%``)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        cursor: Cursor = self._conn.execute(sql.replace("?", "%s"), parameters)
        return cursor


class PostgresBackend:
    """Tables in one schema of a PostgreSQL database; one connection per workspace, one transaction at a time.

    The app keeps one workspace for all its sessions, so transactions queue on the connection's lock
    (they are short); a connection the server dropped is opened again on the next transaction.
    """

    def __init__(self, url: str, schema: str = "workspace") -> None:
        self._pg = PgConnection(url, WorkspaceError, search_path=schema)
        self.where = self._pg.where
        sql = self._pg.sql
        script = sql.SQL("CREATE SCHEMA IF NOT EXISTS {s};" + _SCHEMA).format(
            s=sql.Identifier(schema), rowid=sql.SQL(_PG_ROWID)
        )
        with self._errors():
            self._pg.create(f"workspace:{schema}", script)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self._pg.psycopg.OperationalError as exc:  # server down, connection lost
            raise WorkspaceError(f"团队数据库操作失败：{self.where}（{exc}）") from exc

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self._pg.lock, self._errors():
            db = self._pg.get()
            with db.transaction():
                yield _Translated(db)

    def transaction(self) -> AbstractContextManager[Connection]:
        return self._transaction()

    def close(self) -> None:
        self._pg.close()
