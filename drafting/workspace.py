"""Persistence of drafting projects: briefs, passages, outlines, the draft in progress, every version
and every comment, saved as they happen, in one local SQLite file (the default) or, in team mode with
``team_db_url`` set, in the team's PostgreSQL database (:mod:`drafting.workspace_db` holds both backends;
the logic and the SQL here are shared).

Team mode: a workspace opened for a writer (:meth:`Workspace.for_writer`) records that writer as the
owner of the projects they create and lets them list, open and change only their own projects and
those shared with them (:meth:`Workspace.share`); only the owner shares or deletes. Every method
that takes a project id checks this, so a caller (app, CLI) cannot reach another writer's project
by id; a project one may not open reads as missing. A workspace without a writer (local mode) has
no owners and shows everything, as before.
"""

from __future__ import annotations

import copy
import getpass
import json
import unicodedata
import uuid
from contextlib import AbstractContextManager
from pathlib import Path

from pydantic import Field

from drafting.config import Settings
from drafting.domain import Brief, Comment, ConfirmedFact, Draft, Outline, Passage, Review, Version, _Model, now_iso
from drafting.errors import WorkspaceError
from drafting.workspace_db import Connection, open_backend

__all__ = ["Workspace", "Project", "ProjectSummary", "check_writer", "open_workspace", "current_writer"]

MAX_WRITER_CHARS = 64


def check_writer(name: str) -> str:
    """A writer's name as stored: trimmed, NFC; a clear error for an empty, overlong or control-laden one."""
    value = unicodedata.normalize("NFC", (name or "").strip())
    if not value:
        raise WorkspaceError("没有登录用户名，无法打开工作区。")
    if len(value) > MAX_WRITER_CHARS or any(unicodedata.category(ch).startswith("C") for ch in value):
        raise WorkspaceError(f"用户名无效：{value[:MAX_WRITER_CHARS]!r}")
    return value


def current_writer(settings: Settings) -> str:
    """Who this process acts for in team mode outside the app: DRAFTING_WRITER, else the OS user."""
    return check_writer(settings.writer or getpass.getuser())


def open_workspace(settings: Settings) -> Workspace:
    """The workspace for CLI use: per-writer in team mode, everything in local mode."""
    ws = Workspace(settings.workspace_location)
    return ws.for_writer(current_writer(settings)) if settings.team else ws


class ProjectSummary(_Model):
    id: str
    name: str
    genre: str = ""
    updated: str = ""
    versions: int = 0
    owner: str = ""  # team mode: who created it ("" in local mode)


class Project(_Model):
    id: str
    name: str
    brief: Brief | None = None
    passages: list[Passage] = Field(default_factory=list)
    outline: Outline | None = None
    working: Draft | None = None
    review: Review | None = None
    versions: list[Version] = Field(default_factory=list)
    comments: list[Comment] = Field(default_factory=list)
    locks: list[str] = Field(default_factory=list)  # locked sentences/paragraphs, kept by every revision
    facts: list[ConfirmedFact] = Field(default_factory=list)  # the facts ledger's confirmed facts

    @property
    def latest(self) -> Draft | None:
        """The newest complete version, else the draft in progress."""
        return self.versions[-1].draft if self.versions else self.working


class Workspace:
    writer: str | None = None  # team mode: the signed-in writer this view acts for

    def __init__(self, location: Path | str, *, schema: str = "workspace") -> None:
        """A workspace in the SQLite file at ``location``, or, for a ``postgresql://`` URL, in that
        database's ``schema`` (team mode; see :attr:`Settings.workspace_location`)."""
        self._db = open_backend(location, schema)

    def close(self) -> None:
        """Let go of the database connection (PostgreSQL; SQLite holds none between calls)."""
        self._db.close()

    def for_writer(self, writer: str) -> Workspace:
        """A view of this workspace for one signed-in writer (cheap: same file, no schema work)."""
        view = copy.copy(self)
        view.writer = check_writer(writer)
        return view

    def _check(self, pid: str, owner_only: bool = False) -> None:
        """Raise "not found" unless this view may open (or, ``owner_only``, administer) the project."""
        if self.writer is None:
            return
        with self._conn() as db:
            row = db.execute("SELECT owner FROM projects WHERE id = ?", (pid,)).fetchone()
            shared = (
                row is not None
                and not owner_only
                and db.execute(
                    "SELECT 1 FROM shares WHERE project_id = ? AND writer = ?", (pid, self.writer)
                ).fetchone()
                is not None
            )
        if row is None or (row[0] != self.writer and not shared):
            raise WorkspaceError(f"找不到文稿项目：{pid}")

    def _conn(self) -> AbstractContextManager[Connection]:
        """One transaction: committed when the block ends, rolled back on an error."""
        return self._db.transaction()

    def _deleted(self, sql: str, *args: object) -> bool:
        """Run one DELETE; whether it removed a row."""
        with self._conn() as db:
            return db.execute(sql, args).rowcount > 0

    def _column(self, sql: str, *args: object) -> list[str]:
        """The first column of a query's rows."""
        with self._conn() as db:
            return [r[0] for r in db.execute(sql, args).fetchall()]

    def create_project(self, brief: Brief | None = None, name: str | None = None) -> str:
        pid = uuid.uuid4().hex[:12]
        title = name or (brief.title or brief.occasion or brief.request[:24] if brief else "") or "未命名文稿"
        now = now_iso()
        with self._conn() as db:
            db.execute(
                "INSERT INTO projects (id, name, genre, created, updated, brief, owner) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    pid,
                    title,
                    brief.genre if brief else "",
                    now,
                    now,
                    brief.model_dump_json() if brief else None,
                    self.writer or "",
                ),
            )
        return pid

    def list_projects(self) -> list[ProjectSummary]:
        """All projects (local mode), or the writer's own and those shared with them (team mode)."""
        sql = (
            "SELECT p.id, p.name, p.genre, p.updated, (SELECT COUNT(*) FROM versions v WHERE v.project_id = p.id),"
            " p.owner FROM projects p"
        )
        args: tuple[str, ...] = ()
        if self.writer is not None:
            sql += " WHERE p.owner = ? OR p.id IN (SELECT project_id FROM shares WHERE writer = ?)"
            args = (self.writer, self.writer)
        with self._conn() as db:
            rows = db.execute(sql + " ORDER BY p.updated DESC, p.rowid", args).fetchall()
        return [
            ProjectSummary(id=r[0], name=r[1], genre=r[2] or "", updated=r[3] or "", versions=r[4], owner=r[5] or "")
            for r in rows
        ]

    def share(self, pid: str, colleague: str) -> None:
        """Let a named colleague list, open and edit this project (owner only)."""
        self._check(pid, owner_only=True)
        name = check_writer(colleague)
        if name == self.writer:
            raise WorkspaceError("不能与自己共享。")
        with self._conn() as db:
            db.execute(
                "INSERT INTO shares (project_id, writer, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (pid, name, now_iso()),
            )

    def unshare(self, pid: str, colleague: str) -> bool:
        self._check(pid, owner_only=True)
        return self._deleted("DELETE FROM shares WHERE project_id = ? AND writer = ?", pid, check_writer(colleague))

    def shared_with(self, pid: str) -> list[str]:
        self._check(pid)
        return self._column("SELECT writer FROM shares WHERE project_id = ? ORDER BY writer", pid)

    def _set(self, pid: str, column: str, value: str | None) -> None:
        self._check(pid)
        with self._conn() as db:
            cur = db.execute(f"UPDATE projects SET {column} = ?, updated = ? WHERE id = ?", (value, now_iso(), pid))  # noqa: S608 - fixed column names
            if cur.rowcount == 0:
                raise WorkspaceError(f"找不到文稿项目：{pid}")

    def rename(self, pid: str, name: str) -> None:
        self._set(pid, "name", name.strip() or "未命名文稿")

    def save_brief(self, pid: str, brief: Brief) -> None:
        self._set(pid, "brief", brief.model_dump_json())
        self._set(pid, "genre", brief.genre)

    def save_passages(self, pid: str, passages: list[Passage]) -> None:
        self._set(pid, "passages", json.dumps([p.model_dump(mode="json") for p in passages], ensure_ascii=False))

    def save_outline(self, pid: str, outline: Outline) -> None:
        self._set(pid, "outline", outline.model_dump_json())

    def save_working(self, pid: str, draft: Draft | None) -> None:
        """The draft in progress (possibly partial); saved after every section."""
        self._set(pid, "working", draft.model_dump_json() if draft else None)

    def save_review(self, pid: str, review: Review) -> None:
        self._set(pid, "review", review.model_dump_json())

    def add_version(self, pid: str, version: Version) -> None:
        self._check(pid)
        with self._conn() as db:
            db.execute(
                "INSERT INTO versions (project_id, number, body, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (project_id, number) DO UPDATE SET body = excluded.body, created = excluded.created",
                (pid, version.number, version.model_dump_json(), version.created_at),
            )
            db.execute("UPDATE projects SET updated = ? WHERE id = ?", (now_iso(), pid))

    def save_comment(self, pid: str, version: int, comment: Comment) -> None:
        self._check(pid)
        with self._conn() as db:
            db.execute(
                # An upsert, not INSERT OR REPLACE: the row keeps its rowid, so deciding a comment never
                # moves it in the list (comments() orders by rowid).
                "INSERT INTO comments (project_id, id, version, body, updated) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (project_id, id) DO UPDATE SET version = excluded.version, body = excluded.body,"
                " updated = excluded.updated",
                (pid, comment.id, version, comment.model_dump_json(), now_iso()),
            )

    def comments(self, pid: str, version: int | None = None) -> list[Comment]:
        self._check(pid)
        sql = "SELECT body FROM comments WHERE project_id = ?" + (" AND version = ?" if version is not None else "")
        args: tuple[object, ...] = (pid, version) if version is not None else (pid,)
        with self._conn() as db:
            rows = db.execute(sql + " ORDER BY rowid", args).fetchall()
        return [Comment.model_validate_json(r[0]) for r in rows]

    def versions(self, pid: str) -> list[Version]:
        self._check(pid)
        bodies = self._column("SELECT body FROM versions WHERE project_id = ? ORDER BY number", pid)
        return [Version.model_validate_json(b) for b in bodies]

    def load(self, pid: str) -> Project:
        self._check(pid)
        with self._conn() as db:
            row = db.execute(
                "SELECT id, name, brief, passages, outline, working, review FROM projects WHERE id = ?", (pid,)
            ).fetchone()
        if row is None:
            raise WorkspaceError(f"找不到文稿项目：{pid}")
        return Project(
            id=row[0],
            name=row[1],
            brief=Brief.model_validate_json(row[2]) if row[2] else None,
            passages=[Passage.model_validate(p) for p in json.loads(row[3])] if row[3] else [],
            outline=Outline.model_validate_json(row[4]) if row[4] else None,
            working=Draft.model_validate_json(row[5]) if row[5] else None,
            review=Review.model_validate_json(row[6]) if row[6] else None,
            versions=self.versions(pid),
            comments=self.comments(pid),
            locks=self.locks(pid),
            facts=self.confirmed_facts(pid),
        )

    def lock(self, pid: str, text: str) -> str:
        """Lock a sentence or paragraph (its visible text); returns what was stored."""
        from drafting.checks.locks import normalise_lock

        value = normalise_lock(text)
        if not value:
            raise WorkspaceError("要锁定的句子是空的。")
        self.load(pid)  # the project must exist
        with self._conn() as db:
            db.execute(
                "INSERT INTO locks (project_id, text, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (pid, value, now_iso()),
            )
        return value

    def unlock(self, pid: str, text: str) -> bool:
        self._check(pid)
        from drafting.checks.locks import normalise_lock

        return self._deleted("DELETE FROM locks WHERE project_id = ? AND text = ?", pid, normalise_lock(text))

    def locks(self, pid: str) -> list[str]:
        self._check(pid)
        return self._column("SELECT text FROM locks WHERE project_id = ? ORDER BY rowid", pid)

    # --- the facts ledger (drafting.checks.ledger): facts the writer confirmed or corrected ---------------------

    def confirm_fact(self, pid: str, fact: ConfirmedFact) -> None:
        """Record a confirmed fact; confirming the same value again replaces the record."""
        self.load(pid)  # the project must exist
        with self._conn() as db:
            db.execute(
                "INSERT INTO facts (project_id, value, body, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (project_id, value) DO UPDATE SET body = excluded.body",
                (pid, fact.value, fact.model_dump_json(), fact.created_at),
            )

    def unconfirm_fact(self, pid: str, value: str) -> bool:
        self._check(pid)
        return self._deleted("DELETE FROM facts WHERE project_id = ? AND value = ?", pid, value)

    def confirmed_facts(self, pid: str) -> list[ConfirmedFact]:
        self._check(pid)
        bodies = self._column("SELECT body FROM facts WHERE project_id = ? ORDER BY rowid", pid)
        return [ConfirmedFact.model_validate_json(b) for b in bodies]

    def delete_project(self, pid: str) -> None:
        self._check(pid, owner_only=True)
        with self._conn() as db:
            for table, col in (
                ("shares", "project_id"),
                ("facts", "project_id"),
                ("comments", "project_id"),
                ("versions", "project_id"),
                ("locks", "project_id"),
                ("projects", "id"),
            ):
                db.execute(f"DELETE FROM {table} WHERE {col} = ?", (pid,))  # noqa: S608 - fixed names
