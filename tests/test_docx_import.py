"""Word round trip: an exported .docx edited like a leader would, read back and stored as the next version."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from docx import Document

from drafting.docx import layout as L
from drafting.docx.export import export_docx
from drafting.docx.importer import read_edited_docx
from drafting.docx.roundtrip import apply_edits, import_edited, paragraph_changes
from drafting.domain import CommentStatus, RevisionMode, Version
from drafting.errors import IngestError
from drafting.workspace import Workspace
from tests.docx_edits import ADDED, REWRITTEN, edit_like_a_leader, speech_draft, with_tracked_changes


@pytest.fixture
def project(tmp_path: Path) -> tuple[Workspace, str]:
    ws = Workspace(tmp_path / "ws.sqlite")
    draft = speech_draft()
    pid = ws.create_project(draft.brief)
    ws.add_version(pid, Version(number=1, draft=draft, mode=RevisionMode.URGENT, note="初稿"))
    return ws, pid


def test_reader_separates_title_byline_and_body_and_reads_comments():
    edited = read_edited_docx(edit_like_a_leader(export_docx(speech_draft())), spoken=True)
    assert edited.title == "在全县安全生产工作会议上的讲话"
    assert edited.paragraphs[0] == "同志们："  # the speaker and date lines are not body
    assert REWRITTEN in edited.paragraphs and ADDED in edited.paragraphs
    assert not any(p.startswith("今天召开") for p in edited.paragraphs)
    assert edited.version == 1
    by_author = {c.author: c for c in edited.comments}
    assert set(by_author) == {"张科长", "李主任"}
    z = by_author["张科长"]
    assert z.text == "这句再有力一些。" and z.anchor == "隐患就是事故，要坚持问题导向。"
    assert edited.paragraphs[z.paragraph].startswith("隐患就是事故")
    assert by_author["李主任"].anchor == "同志们，让我们共同努力。"


def test_import_gives_the_next_version_with_the_paragraph_diff_and_pending_comments(project):
    ws, pid = project
    result = import_edited(ws, pid, edit_like_a_leader(export_docx(speech_draft())), name="科长改稿.docx")
    assert result.base == 1 and result.version.number == 2
    kinds = sorted((c.kind, c.old or c.new) for c in result.changes)
    assert kinds == [
        ("修改", "要健全责任体系，做到层层有人抓。"),
        ("删除", "今天召开全县安全生产工作会议，主要任务是部署冬春安全生产工作。"),
        ("新增", ADDED),
    ]
    rewritten = next(c for c in result.changes if c.kind == "修改")
    assert rewritten.new == REWRITTEN
    stored = ws.load(pid)
    assert [v.number for v in stored.versions] == [1, 2]
    new = stored.versions[-1].draft
    assert new.version == 2 and stored.working == new
    assert "修改1段、新增1段、删除1段；批注2条" in stored.versions[-1].note
    assert f"+{ADDED}" in stored.versions[-1].diff and "-今天召开" in stored.versions[-1].diff
    # Sections survive: headings stay headings, the new paragraph joins the section it was added to.
    assert [s.heading for s in new.sections] == ["", "一、压实安全生产责任", "二、深入排查整治隐患", ""]
    assert new.sections[2].text.splitlines()[-1] == ADDED
    # Unchanged paragraphs keep their citation marks, so the citations stay.
    assert "安全生产责任重于泰山[1]。各级各部门要守土有责。" in new.sections[1].text
    assert [c.n for c in new.citations] == [1, 2]
    comments = ws.comments(pid, version=2)
    assert sorted(c.author for c in comments) == ["张科长", "李主任"]
    assert all(c.status is CommentStatus.PENDING for c in comments)
    z = next(c for c in comments if c.author == "张科长")
    assert new.paragraphs[z.paragraph].startswith("隐患就是事故") and z.quote == "隐患就是事故，要坚持问题导向。"


def test_tracked_changes_are_read_as_accepted_and_reported(project):
    ws, pid = project
    data = with_tracked_changes(export_docx(speech_draft()))
    edited = read_edited_docx(data, spoken=True)
    assert "安全生产责任重于泰山。各级各部门要守土尽责。" in edited.paragraphs
    assert not any("守土有责" in p for p in edited.paragraphs)
    assert [(c.kind, c.text, c.author) for c in edited.changes] == [
        ("插入", "守土尽责", "张科长"),
        ("删除", "守土有责", "张科长"),
    ]
    result = import_edited(ws, pid, data)
    assert any("插入1处、删除1处" in n and "张科长" in n for n in result.notes)
    assert [c.kind for c in result.changes] == ["修改"]


def test_unchanged_document_imports_as_an_identical_version(project):
    ws, pid = project
    result = import_edited(ws, pid, export_docx(speech_draft()))
    assert result.changes == [] and result.comments == []
    assert result.version.draft.paragraphs == speech_draft().paragraphs
    assert (
        apply_edits(speech_draft(), read_edited_docx(export_docx(speech_draft()), spoken=True)).sections
        == speech_draft().sections
    )


def test_official_document_drops_addressee_and_signature():
    from tests.test_export import make_draft

    draft = make_draft(citations=False)
    edited = read_edited_docx(export_docx(draft))
    assert edited.addressee == "江川市人民政府"
    assert edited.paragraphs == [L.CITATION_MARK.sub("", p) for p in draft.paragraphs]
    assert apply_edits(draft, edited).paragraphs == draft.paragraphs


def test_paragraph_changes_ignore_citation_marks():
    assert paragraph_changes(["甲[1]。", "乙。"], ["甲。", "乙。"]) == []


def test_not_a_docx_is_a_clear_error(project):
    ws, pid = project
    with pytest.raises(IngestError, match="读不了这个Word文档"):
        import_edited(ws, pid, b"not a zip")


def _soffice(src: Path, fmt: str, out: Path, profile: Path) -> Path:
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            fmt,
            "--outdir",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return out / f"{src.stem}.{fmt}"


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
@pytest.mark.parametrize("via", ["docx", "odt"])
def test_round_trip_through_libreoffice(project, tmp_path, via):
    """Saved again by another word processor (LibreOffice; directly, or through its own ODT format)."""
    ws, pid = project
    src = tmp_path / "in" / "edited.docx"
    src.parent.mkdir()
    src.write_bytes(edit_like_a_leader(export_docx(speech_draft())))
    profile = tmp_path / "lo"
    saved = _soffice(src, via, tmp_path / "mid", profile)
    if via != "docx":
        saved = _soffice(saved, "docx", tmp_path / "out", profile)
    data = saved.read_bytes()
    assert len(list(Document(io.BytesIO(data)).comments)) == 2
    result = import_edited(ws, pid, data)
    assert sorted(c.kind for c in result.changes) == sorted(["修改", "新增", "删除"])
    assert sorted(c.author for c in result.comments) == ["张科长", "李主任"]
    assert next(c for c in result.comments if c.author == "张科长").quote == "隐患就是事故，要坚持问题导向。"


def test_comment_with_a_reference_but_no_range_is_placed_on_its_paragraph():
    """Some editors write only the w:commentReference; the comment then belongs to that paragraph."""
    from docx.oxml.ns import qn

    doc = Document(io.BytesIO(edit_like_a_leader(export_docx(speech_draft()))))
    for tag in ("w:commentRangeStart", "w:commentRangeEnd"):
        for el in list(doc.element.body.iter(qn(tag))):
            el.getparent().remove(el)
    buf = io.BytesIO()
    doc.save(buf)
    edited = read_edited_docx(buf.getvalue(), spoken=True)
    z = next(c for c in edited.comments if c.author == "张科长")
    assert z.anchor == "" and edited.paragraphs[z.paragraph].startswith("隐患就是事故")


def test_the_leaders_wording_is_locked_and_survives_the_next_slow_round(project):
    from drafting.writing.pipeline import run_revision
    from tests.fakes import COMMENTS_STAGE, REWRITE_STAGE, RoutedFakeChat

    ws, pid = project
    result = import_edited(ws, pid, edit_like_a_leader(export_docx(speech_draft())))
    assert sorted(result.locked) == sorted([REWRITTEN, ADDED]) and sorted(ws.locks(pid)) == sorted(result.locked)
    # A 慢稿 round whose reviewers comment on both edited paragraphs and whose writer model rewrites everything.
    paras = result.version.draft.paragraphs
    comments = [{"paragraph": paras.index(p) + 1, "quote": p[:6], "comment": "再改改"} for p in (REWRITTEN, ADDED)]
    llm = RoutedFakeChat(
        routes={
            COMMENTS_STAGE: [json.dumps({"comments": comments}, ensure_ascii=False)],
            REWRITE_STAGE: ["各级各部门要把责任扛在肩上，层层传导压力，确保不出问题。排查工作要全面铺开，不留死角。"],
        }
    )
    # Reviewer comments are only proposals now (issue 13); accepting them all is the writer's deliberate act.
    version = run_revision(ws, pid, llm=llm, mode=RevisionMode.SLOW, accept_all=True)
    assert version.number == 3
    assert REWRITTEN in version.draft.paragraphs and ADDED in version.draft.paragraphs
    assert any("层层传导压力" in p for p in version.draft.paragraphs)  # the rest was rewritten


def test_no_lock_leaves_the_wording_free(project):
    ws, pid = project
    result = import_edited(ws, pid, edit_like_a_leader(export_docx(speech_draft())), lock_edits=False)
    assert result.locked == [] and ws.locks(pid) == []


def test_a_review_copy_comes_back_with_only_the_new_comments(project):
    from drafting.domain import Comment

    ws, pid = project
    draft = speech_draft()
    para = draft.paragraphs.index("要健全责任体系，做到层层有人抓。")
    old = Comment(id="r1", author="领导视角", text="这一句要具体。", paragraph=para)
    ws.save_comment(pid, 1, old)
    review = export_docx(draft, kind="送审稿", comments=[old])
    assert len(list(Document(io.BytesIO(review)).comments)) == 3  # 2 citations, 1 reviewer comment
    result = import_edited(ws, pid, edit_like_a_leader(review))
    assert sorted(c.author for c in result.comments) == ["张科长", "李主任"]


def test_a_text_box_is_read_once_and_not_into_its_host_paragraph():
    from docx.oxml import parse_xml

    doc = Document(io.BytesIO(export_docx(speech_draft())))
    host = next(p for p in doc.paragraphs if p.text.startswith("要健全责任体系"))
    box = "<w:p><w:r><w:t>文本框里的字</w:t></w:r></w:p>"
    host._p.append(
        parse_xml(
            '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
            ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
            ' xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
            f'<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx><w:txbxContent>{box}'
            f"</w:txbxContent></wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent>{box}"
            "</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
        )
    )
    buf = io.BytesIO()
    doc.save(buf)
    paragraphs = read_edited_docx(buf.getvalue(), spoken=True).paragraphs
    assert "要健全责任体系，做到层层有人抓。" in paragraphs
    assert paragraphs.count("文本框里的字") == 1


def test_a_comment_range_around_whole_paragraphs_is_read_with_its_anchor():
    """Range markers between paragraphs (written for a whole-paragraph selection) still give the anchor."""
    from docx.oxml.ns import qn

    doc = Document(io.BytesIO(edit_like_a_leader(export_docx(speech_draft()))))
    cid = next(c for c in doc.comments if c.author == "李主任").comment_id
    start = next(e for e in doc.element.body.iter(qn("w:commentRangeStart")) if e.get(qn("w:id")) == str(cid))
    end = next(e for e in doc.element.body.iter(qn("w:commentRangeEnd")) if e.get(qn("w:id")) == str(cid))
    paragraph = start.getparent()
    paragraph.addprevious(start)  # now a sibling of the paragraph, in w:body
    paragraph.addnext(end)
    buf = io.BytesIO()
    doc.save(buf)
    edited = read_edited_docx(buf.getvalue(), spoken=True)
    li = next(c for c in edited.comments if c.author == "李主任")
    assert li.anchor == "同志们，让我们共同努力。" and edited.paragraphs[li.paragraph] == li.anchor
