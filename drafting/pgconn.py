"""Team mode's PostgreSQL connection, shared by the 范文库's keyword index (``corpus/pg_index.py``) and
the workspace of projects (``workspace_db.py``).

psycopg is imported on demand (it is the optional ``team`` extra); one connection is opened on first
use and again after the server dropped it (restart, network); a lock lets one thread use it at a time
(the app's sessions share it); and the URL is shown without its password.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from drafting.errors import DraftingError

__all__ = ["PgConnection", "safe_url"]


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class PgConnection:
    """One reconnecting psycopg connection (autocommit: writes go in ``get().transaction()`` blocks).

    ``error`` is the caller's error class for a missing driver or an unreachable server, so each caller
    reports in its own terms; ``search_path``, when given, is the schema unqualified names refer to.
    """

    def __init__(self, url: str, error: type[DraftingError], search_path: str = "") -> None:
        try:
            import psycopg
            from psycopg import sql
        except ImportError as exc:  # the optional extra is missing
            raise error("团队模式需要安装 psycopg：pip install '.[team]'") from exc
        self.psycopg = psycopg
        self.sql = sql
        self.url = url
        self.where = safe_url(url)
        self.lock = threading.RLock()
        self._error = error
        self._on_connect = sql.SQL("SET search_path TO {}").format(sql.Identifier(search_path)) if search_path else None
        self._db: Any = None

    def get(self) -> Any:
        """The open connection, reconnecting once it was closed or broken (server restart)."""
        if self._db is None or self._db.closed or self._db.broken:
            try:
                self._db = self.psycopg.connect(self.url, autocommit=True, connect_timeout=10)
                if self._on_connect is not None:
                    self._db.execute(self._on_connect)
            except self.psycopg.Error as exc:
                raise self._error(f"无法连接团队数据库：{self.where}（{exc}）") from exc
        return self._db

    def create(self, key: str, script: Any) -> None:
        """Run a ``CREATE ... IF NOT EXISTS`` script, one first start at a time (two would race)."""
        with self.lock:
            db = self.get()
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
                db.execute(script)

    def close(self) -> None:
        with self.lock:
            if self._db is not None:
                self._db.close()
