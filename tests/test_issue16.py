"""Issue 16's acceptance lines that no other test file proves end to end: the README's acceptance draft
as a 送审稿 with one comment per citation and per placeholder, and the page's own 急稿/慢稿 actions
keeping locked sentences (the leader's edited paragraphs) — the pipeline did, the page did not."""

from __future__ import annotations

from pathlib import Path

from docx import Document

from drafting import config
from drafting.cli import main
from drafting.docx import layout as L
from drafting.docx.export import export_docx
from drafting.docx.roundtrip import import_edited
from drafting.domain import Citation, CommentStatus, RevisionMode, Version
from drafting.ui import actions as act
from drafting.workspace import Workspace
from tests.docx_edits import ADDED, REWRITTEN, edit_like_a_leader, speech_draft
from tests.fakes import RoutedFakeChat
from tests.test_cli import fake_world  # noqa: F401 - a fixture
from tests.test_cli_export import _cite_everywhere
from tests.test_export_kinds import all_xml

REWRITE = "请输出修改后的这一部分正文"
EVERYTHING = "各级各部门要把责任扛在肩上，层层传导压力，确保不出问题。排查工作要全面铺开，不留死角。"


def test_readme_draft_review_copy_has_one_comment_per_citation_and_per_placeholder(
    fake_world,  # noqa: F811
    tmp_path: Path,
) -> None:
    request = "为县长起草在全县安全生产工作会议上的讲话，约1500字"
    assert main(["draft", "--request", request, "--mode", "urgent", "--no-review"]) == 0
    ws = Workspace(config.get_settings().workspace_path)
    pid = ws.list_projects()[0].id
    project = ws.load(pid)
    cited = [p for p in project.passages if p.source][:3]
    draft = _cite_everywhere(
        project.latest.model_copy(update={"citations": [Citation(n=i + 1, passage=p) for i, p in enumerate(cited)]})
    )
    # The gate's gaps as a first draft has them: two more facts still to supply.
    before = len(L.PLACEHOLDER_MARK.findall(draft.body_text))
    sections = list(draft.sections)
    last = sections[-1]
    sections[-1] = last.model_copy(
        update={"text": last.text + "\n由〔待补：分管副县长姓名〕牵头，〔待补：完成时限〕前完成。"}
    )
    draft = draft.model_copy(update={"sections": sections, "version": 2})
    ws.add_version(pid, Version(number=2, draft=draft, mode=RevisionMode.URGENT))
    out = tmp_path / "送审.docx"
    assert main(["export", pid, "--kind", "送审稿", "--out", str(out)]) == 0
    comments = list(Document(str(out)).comments)
    marks = len(L.CITATION_MARK.findall(draft.body_text))
    gaps = len(L.PLACEHOLDER_MARK.findall(draft.body_text))
    assert marks >= 3 and gaps == before + 2
    assert sum(c.text.startswith("引用[") for c in comments) == marks
    assert sum(c.text.startswith("待补：") for c in comments) == gaps
    xml = all_xml(out.read_bytes())
    assert not any(p.source in xml or Path(p.source).name in xml for p in project.passages if p.source)
    # The 定稿 of the same version is refused while the gaps remain, and lists them.
    assert main(["export", pid, "--out", str(tmp_path / "定稿.docx")]) == 2
    assert not (tmp_path / "定稿.docx").exists()


def _imported(tmp_path: Path) -> tuple[Workspace, str]:
    ws = Workspace(tmp_path / "ws.sqlite")
    draft = speech_draft()
    pid = ws.create_project(draft.brief)
    ws.add_version(pid, Version(number=1, draft=draft, mode=RevisionMode.URGENT))
    result = import_edited(ws, pid, edit_like_a_leader(export_docx(speech_draft(), kind="送审稿")))
    assert result.version.number == 2 and len(result.comments) == 2
    return ws, pid


def test_the_pages_slow_round_keeps_the_leaders_edited_paragraphs(tmp_path: Path) -> None:
    ws, pid = _imported(tmp_path)
    for c in ws.comments(pid, 2):  # the writer accepts both 批注 on the 修改 step
        act.set_comment_status(ws, pid, 2, c, CommentStatus.ACCEPTED)
    llm = RoutedFakeChat(routes={REWRITE: [EVERYTHING]})
    version = act.consolidate_comments(ws, pid, llm)
    assert version.number == 3 and any(REWRITE in c["prompt"] for c in llm.calls)
    assert REWRITTEN in version.draft.paragraphs and ADDED in version.draft.paragraphs
    assert any("层层传导压力" in p for p in version.draft.paragraphs)  # the commented parts were rewritten


def test_the_pages_shortening_keeps_a_locked_sentence(tmp_path: Path) -> None:
    ws, pid = _imported(tmp_path)
    section = next(i for i, s in enumerate(ws.load(pid).latest.sections) if REWRITTEN in s.text)
    version = act.quick_rewrite(ws, pid, section, "shorten", RoutedFakeChat(routes={REWRITE: [EVERYTHING]}), length=40)
    assert REWRITTEN in version.draft.sections[section].text
    assert "层层传导压力" in version.draft.sections[section].text
    assert "压缩到约40字" in version.addressed[0].text
