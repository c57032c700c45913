"""Persistence of drafting projects in one local SQLite file: briefs, passages, outlines,
the draft in progress, every version and every comment, saved as they happen."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import Field

from drafting.config import private_dir, private_file
from drafting.domain import Brief, Comment, Draft, Outline, Passage, Review, Version, _Model, now_iso
from drafting.errors import WorkspaceError

__all__ = ["Workspace", "Project", "ProjectSummary"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, genre TEXT, created TEXT, updated TEXT,
  brief TEXT, passages TEXT, outline TEXT, working TEXT, review TEXT
);
CREATE TABLE IF NOT EXISTS versions (
  project_id TEXT NOT NULL, number INTEGER NOT NULL, body TEXT NOT NULL, created TEXT,
  PRIMARY KEY (project_id, number)
);
CREATE TABLE IF NOT EXISTS locks (
  project_id TEXT NOT NULL, text TEXT NOT NULL, created TEXT,
  PRIMARY KEY (project_id, text)
);
CREATE TABLE IF NOT EXISTS comments (
  project_id TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, updated TEXT,
  PRIMARY KEY (project_id, id)
);
"""


class ProjectSummary(_Model):
    id: str
    name: str
    genre: str = ""
    updated: str = ""
    versions: int = 0


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

    @property
    def latest(self) -> Draft | None:
        """The newest complete version, else the draft in progress."""
        return self.versions[-1].draft if self.versions else self.working


class Workspace:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        private_dir(self.path.parent)  # 0700: drafts are not for other local users
        for suffix in ("", "-wal", "-shm"):
            private_file(self.path.with_name(self.path.name + suffix))
        try:
            with self._conn() as db:
                db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"工作区文件损坏或无法打开：{self.path}（{exc}）") from exc

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                yield db
        finally:
            db.close()

    def create_project(self, brief: Brief | None = None, name: str | None = None) -> str:
        pid = uuid.uuid4().hex[:12]
        title = name or (brief.title or brief.occasion or brief.request[:24] if brief else "") or "未命名文稿"
        now = now_iso()
        with self._conn() as db:
            db.execute(
                "INSERT INTO projects (id, name, genre, created, updated, brief) VALUES (?, ?, ?, ?, ?, ?)",
                (pid, title, brief.genre if brief else "", now, now, brief.model_dump_json() if brief else None),
            )
        return pid

    def list_projects(self) -> list[ProjectSummary]:
        with self._conn() as db:
            rows = db.execute(
                "SELECT p.id, p.name, p.genre, p.updated, (SELECT COUNT(*) FROM versions v WHERE v.project_id = p.id)"
                " FROM projects p ORDER BY p.updated DESC"
            ).fetchall()
        return [ProjectSummary(id=r[0], name=r[1], genre=r[2] or "", updated=r[3] or "", versions=r[4]) for r in rows]

    def _set(self, pid: str, column: str, value: str | None) -> None:
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
        with self._conn() as db:
            db.execute(
                "INSERT OR REPLACE INTO versions (project_id, number, body, created) VALUES (?, ?, ?, ?)",
                (pid, version.number, version.model_dump_json(), version.created_at),
            )
            db.execute("UPDATE projects SET updated = ? WHERE id = ?", (now_iso(), pid))

    def save_comment(self, pid: str, version: int, comment: Comment) -> None:
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
        sql = "SELECT body FROM comments WHERE project_id = ?" + (" AND version = ?" if version is not None else "")
        args: tuple[object, ...] = (pid, version) if version is not None else (pid,)
        with self._conn() as db:
            rows = db.execute(sql + " ORDER BY rowid", args).fetchall()
        return [Comment.model_validate_json(r[0]) for r in rows]

    def versions(self, pid: str) -> list[Version]:
        with self._conn() as db:
            rows = db.execute("SELECT body FROM versions WHERE project_id = ? ORDER BY number", (pid,)).fetchall()
        return [Version.model_validate_json(r[0]) for r in rows]

    def load(self, pid: str) -> Project:
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
                "INSERT OR IGNORE INTO locks (project_id, text, created) VALUES (?, ?, ?)", (pid, value, now_iso())
            )
        return value

    def unlock(self, pid: str, text: str) -> bool:
        from drafting.checks.locks import normalise_lock

        with self._conn() as db:
            cur = db.execute("DELETE FROM locks WHERE project_id = ? AND text = ?", (pid, normalise_lock(text)))
        return cur.rowcount > 0

    def locks(self, pid: str) -> list[str]:
        with self._conn() as db:
            rows = db.execute("SELECT text FROM locks WHERE project_id = ? ORDER BY rowid", (pid,)).fetchall()
        return [r[0] for r in rows]

    def delete_project(self, pid: str) -> None:
        with self._conn() as db:
            for table, col in (
                ("comments", "project_id"),
                ("versions", "project_id"),
                ("locks", "project_id"),
                ("projects", "id"),
            ):
                db.execute(f"DELETE FROM {table} WHERE {col} = ?", (pid,))  # noqa: S608 - fixed names
