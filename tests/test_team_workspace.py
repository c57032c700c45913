"""Team mode, many writers: per-writer projects enforced in the workspace, sign-in by proxy header."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from drafting.config import Settings
from drafting.domain import Brief, Comment, Draft, DraftSection, Outline, RevisionMode, Version
from drafting.errors import WorkspaceError
from drafting.team import acting_as, acting_writer, signed_in_writer
from drafting.workspace import Workspace, check_writer, current_writer, open_workspace
from tests.team_servers import any_workspace, pg_url  # noqa: F401 - fixtures


@pytest.fixture
def ws(any_workspace: Workspace) -> Workspace:  # noqa: F811
    """The workspace tests below run on both backends: the local SQLite file and the team's PostgreSQL."""
    return any_workspace


def _draft(text: str = "正文") -> Draft:
    return Draft(
        title="标题",
        brief=Brief(request="写一篇讲话稿"),
        outline=Outline(title="标题", sections=[]),
        sections=[DraftSection(heading="一、总体要求", text=text)],
    )


def test_each_writer_lists_and_opens_only_their_own_projects(ws: Workspace) -> None:
    zhang, li = ws.for_writer("张三"), ws.for_writer("李四")
    mine = zhang.create_project(name="张三的讲话稿")
    theirs = li.create_project(name="李四的通知")
    assert [p.id for p in zhang.list_projects()] == [mine]
    assert [p.id for p in li.list_projects()] == [theirs]
    assert zhang.list_projects()[0].owner == "张三"
    assert zhang.load(mine).name == "张三的讲话稿"
    # Every way in by id is closed, and reads as "not found" (no hint that it exists).
    attempts = [
        lambda: zhang.load(theirs),
        lambda: zhang.versions(theirs),
        lambda: zhang.comments(theirs),
        lambda: zhang.locks(theirs),
        lambda: zhang.rename(theirs, "改名"),
        lambda: zhang.save_working(theirs, _draft()),
        lambda: zhang.add_version(theirs, Version(number=1, draft=_draft(), mode=RevisionMode.URGENT)),
        lambda: zhang.save_comment(theirs, 1, Comment(id="c1", author="撰稿人", quote="正文", text="改")),
        lambda: zhang.lock(theirs, "正文"),
        lambda: zhang.unlock(theirs, "正文"),
        lambda: zhang.delete_project(theirs),
        lambda: zhang.share(theirs, "张三"),
        lambda: zhang.shared_with(theirs),
        lambda: zhang.confirmed_facts(theirs),
        lambda: zhang.unconfirm_fact(theirs, "3个"),
    ]
    for attempt in attempts:
        with pytest.raises(WorkspaceError, match="找不到文稿项目"):
            attempt()
    # Nothing of 李四's project changed.
    assert li.load(theirs).name == "李四的通知" and li.load(theirs).working is None
    assert li.versions(theirs) == []


def test_sharing_with_a_named_colleague(ws: Workspace) -> None:
    zhang, li, wang = ws.for_writer("张三"), ws.for_writer("李四"), ws.for_writer("王五")
    pid = zhang.create_project(name="联合起草的工作报告")
    zhang.share(pid, " 李四 ")
    assert zhang.shared_with(pid) == ["李四"]
    assert [p.id for p in li.list_projects()] == [pid] and li.list_projects()[0].owner == "张三"
    li.save_working(pid, _draft("李四补充的内容"))  # a colleague it is shared with can edit
    assert zhang.load(pid).working is not None
    assert wang.list_projects() == []
    with pytest.raises(WorkspaceError):
        wang.load(pid)
    # Only the owner shares further or deletes.
    with pytest.raises(WorkspaceError):
        li.share(pid, "王五")
    with pytest.raises(WorkspaceError):
        li.delete_project(pid)
    with pytest.raises(WorkspaceError, match="自己"):
        zhang.share(pid, "张三")
    assert zhang.unshare(pid, "李四")
    assert li.list_projects() == []
    with pytest.raises(WorkspaceError):
        li.load(pid)
    zhang.delete_project(pid)
    assert zhang.list_projects() == []


def test_local_mode_is_unchanged(ws: Workspace) -> None:
    a = ws.create_project(name="甲")
    b = ws.create_project(brief=Brief(request="乙稿"))
    assert {p.id for p in ws.list_projects()} == {a, b}
    assert ws.list_projects()[0].owner == ""
    assert ws.load(a).name == "甲"
    # Projects made in local mode belong to nobody: a team writer does not see them.
    assert ws.for_writer("张三").list_projects() == []


def test_old_workspace_file_gains_owners(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT NOT NULL, genre TEXT, created TEXT, updated TEXT,"
        " brief TEXT, passages TEXT, outline TEXT, working TEXT, review TEXT)"
    )
    db.execute("INSERT INTO projects (id, name) VALUES ('old1', '旧稿')")
    db.commit()
    db.close()
    ws = Workspace(path)
    assert [p.id for p in ws.list_projects()] == ["old1"]
    assert ws.for_writer("张三").create_project(name="新稿")
    assert len(Workspace(path).list_projects()) == 2


@pytest.mark.parametrize("bad", ["", "   ", "a\nb", "x" * 65])
def test_bad_writer_names_are_refused(bad: str) -> None:
    with pytest.raises(WorkspaceError):
        check_writer(bad)


def test_sign_in_header_only_trusted_in_team_mode(settings: Settings) -> None:
    headers = {"x-forwarded-user": "zhangsan"}
    assert signed_in_writer(settings, headers) is None  # local mode: no sign-in, the header means nothing
    team = settings.replace(team=True)
    assert signed_in_writer(team, headers) == "zhangsan"
    assert signed_in_writer(team, {}) is None
    assert signed_in_writer(team, {"X-Forwarded-User": "  "}) is None
    assert signed_in_writer(team, {"X-Forwarded-User": "a\x00b"}) is None
    # Chinese names: percent-encoded, or UTF-8 bytes that arrived read as Latin-1.
    assert signed_in_writer(team, {"X-Forwarded-User": "%E5%BC%A0%E4%B8%89"}) == "张三"
    assert signed_in_writer(team, {"X-Forwarded-User": "张三".encode().decode("latin-1")}) == "张三"
    # The header name is configurable; the default one is then ignored.
    custom = team.replace(auth_header="Remote-User")
    assert signed_in_writer(custom, {"Remote-User": "lisi", "X-Forwarded-User": "zhangsan"}) == "lisi"
    assert signed_in_writer(custom, {"X-Forwarded-User": "zhangsan"}) is None


def test_cli_workspace_per_writer(settings: Settings) -> None:
    local = open_workspace(settings)
    assert local.writer is None
    team = open_workspace(settings.replace(team=True, writer="王五"))
    assert team.writer == "王五" and current_writer(settings.replace(writer="王五")) == "王五"
    pid = team.create_project(name="王五的稿")
    assert open_workspace(settings.replace(team=True, writer="赵六")).list_projects() == []
    assert [p.id for p in local.list_projects()] == [pid]  # local mode on the same file sees all (administrator)


def test_acting_writer_is_scoped() -> None:
    assert acting_writer() == ""
    with acting_as("张三"):
        assert acting_writer() == "张三"
    assert acting_writer() == ""


def test_cli_share_and_projects(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from drafting import config
    from drafting.cli import main

    def as_writer(name: str) -> None:
        monkeypatch.setenv("DRAFTING_TEAM", "1")
        monkeypatch.setenv("DRAFTING_WRITER", name)
        config.get_settings.cache_clear()

    as_writer("张三")
    pid = open_workspace(config.get_settings()).create_project(name="张三的汇报")
    as_writer("李四")
    assert main(["projects"]) == 0
    assert "张三的汇报" not in capsys.readouterr().out
    assert main(["share", pid, "王五"]) != 0  # not the owner: refused, with a Chinese message
    assert "找不到文稿项目" in capsys.readouterr().err
    as_writer("张三")
    assert main(["share", pid, "李四"]) == 0
    assert "李四" in capsys.readouterr().out
    as_writer("李四")
    assert main(["projects"]) == 0
    assert "张三的汇报  （张三）" in capsys.readouterr().out


def test_uploads_are_kept_per_writer_in_team_mode(settings: Settings) -> None:
    """Same file name from two writers: two paths, so two documents (ids come from the path)."""
    from drafting.corpus.ingest import make_doc_id
    from drafting.team import uploads_dir

    assert uploads_dir(settings) == settings.data_dir / "uploads"
    team = settings.replace(team=True)
    with acting_as("张三"):
        zhang = uploads_dir(team)
    with acting_as("李四"):
        li = uploads_dir(team)
    assert zhang != li and zhang.parent == li.parent == settings.data_dir / "uploads"
    assert make_doc_id(str(zhang / "讲话.docx")) != make_doc_id(str(li / "讲话.docx"))
    with acting_as("a/../../b"):
        assert uploads_dir(team).parent == settings.data_dir / "uploads"
