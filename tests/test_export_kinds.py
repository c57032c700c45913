"""定稿 and 送审稿: what each carries, read back from the .docx itself (text, comments XML, every part)."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from docx import Document
from docx.oxml.ns import qn

from drafting.docx import layout as L
from drafting.docx.check import check_docx, conforms
from drafting.docx.export import ExportKind, PlaceholderError, export_docx, placeholders
from drafting.domain import Comment, CommentStatus, DraftSection
from drafting.errors import ExportError
from tests.docx_edits import speech_draft
from tests.test_export import make_draft

PATHS = ("/home/u/corpus", "corpus/a.txt", "a.txt", "b.txt")


def all_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())


def body_text(data: bytes) -> str:
    return "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)


def anchors(data: bytes) -> dict[str, str]:
    """Comment id -> the text between its commentRangeStart and commentRangeEnd."""
    body = Document(io.BytesIO(data)).element.body
    out: dict[str, list[str]] = {}
    open_ids: set[str] = set()
    for el in body.iter():
        if el.tag == qn("w:commentRangeStart"):
            open_ids.add(el.get(qn("w:id")))
            out.setdefault(el.get(qn("w:id")), [])
        elif el.tag == qn("w:commentRangeEnd"):
            open_ids.discard(el.get(qn("w:id")))
        elif el.tag == qn("w:t"):
            for i in open_ids:
                out[i].append(el.text or "")
    return {k: "".join(v) for k, v in out.items()}


def with_placeholder():
    d = speech_draft()
    sections = list(d.sections)
    sections[1] = DraftSection(
        heading=sections[1].heading,
        text=sections[1].text + "\n全县共有〔待补：规上企业数量〕家规上企业，由〔待补：分管副县长姓名〕牵头。",
    )
    return d.model_copy(update={"sections": sections})


def test_final_copy_has_no_marks_no_appendix_no_path_and_passes_check_docx():
    for draft in (speech_draft(), make_draft()):
        data = export_docx(draft)
        text = body_text(data)
        assert "[" not in text and "附件：参考范文" not in text and "附件" not in text
        xml = all_xml(data)
        assert not any(p in xml for p in PATHS) and "python-docx" not in xml
        assert "w:commentReference" not in xml
        assert conforms(check_docx(data)), check_docx(data)


def test_final_copy_refuses_placeholders_and_lists_them():
    d = with_placeholder()
    assert placeholders(d) == ["〔待补：规上企业数量〕", "〔待补：分管副县长姓名〕"]
    with pytest.raises(PlaceholderError) as err:
        export_docx(d)
    assert err.value.placeholders == placeholders(d)
    assert "还有2处待补内容" in str(err.value) and "1. 〔待补：规上企业数量〕" in str(err.value)


def test_forced_final_copy_highlights_each_placeholder_and_still_conforms():
    data = export_docx(with_placeholder(), force=True)
    doc = Document(io.BytesIO(data))
    lit = [r.text for p in doc.paragraphs for r in p.runs if r._r.find(f".//{qn('w:highlight')}") is not None]
    assert lit == ["〔待补：规上企业数量〕", "〔待补：分管副县长姓名〕"]
    assert conforms(check_docx(data))


def test_review_copy_has_one_comment_per_citation_and_placeholder_on_its_sentence():
    d = with_placeholder()
    data = export_docx(d, kind="送审稿")
    doc = Document(io.BytesIO(data))
    comments = list(doc.comments)
    where = anchors(data)
    cites = [c for c in comments if c.text.startswith("引用[")]
    todo = [c for c in comments if c.text.startswith("待补：")]
    assert len(cites) == len(L.CITATION_MARK.findall(d.body_text)) == 2
    assert len(todo) == 2
    first = next(c for c in cites if c.text.startswith("引用[1]"))
    assert where[str(first.comment_id)] == "安全生产责任重于泰山。"
    assert "《范文甲》" in first.text and "安全生产责任重于泰山" in first.text
    assert (
        where[str(todo[0].comment_id)] == "全县共有〔待补：规上企业数量〕家规上企业，由〔待补：分管副县长姓名〕牵头。"
    )
    assert {c.author for c in cites + todo} == {"文稿助手"}
    assert "[" not in body_text(data)
    xml = all_xml(data)
    assert not any(p in xml for p in PATHS)
    header = doc.sections[0].header.paragraphs[0].text
    assert header == "送审稿" and doc.sections[0].even_page_header.paragraphs[0].text == "送审稿"
    assert conforms(check_docx(data))


def test_review_copy_carries_reviewer_comments_and_unverified_figures():
    d = speech_draft()
    sections = list(d.sections)
    sections[2] = DraftSection(heading=sections[2].heading, text=sections[2].text + "\n今年已排查隐患3721处。")
    d = d.model_copy(update={"sections": sections})
    para = d.paragraphs.index("隐患就是事故[2]，要坚持问题导向。")
    reviewer = Comment(id="c1", author="领导视角", text="问题导向要举例。", paragraph=para, quote="要坚持问题导向")
    rejected = Comment(id="c2", author="文字把关", text="驳回的意见", paragraph=para, status=CommentStatus.REJECTED)
    whole = Comment(id="c3", author="上级政策把关", text="全文要对标上级部署。")
    data = export_docx(d, kind=ExportKind.REVIEW, comments=[reviewer, rejected, whole])
    comments = {c.text: c for c in Document(io.BytesIO(data)).comments}
    where = anchors(data)
    assert comments["问题导向要举例。"].author == "领导视角"
    assert where[str(comments["问题导向要举例。"].comment_id)] == "隐患就是事故，要坚持问题导向。"
    assert "驳回的意见" not in comments
    assert where[str(comments["全文要对标上级部署。"].comment_id)] == "在全县安全生产工作会议上的讲话"
    figure = next(c for t, c in comments.items() if "3721" in t)
    assert "需核实" in figure.text and where[str(figure.comment_id)] == "今年已排查隐患3721处。"


def test_review_copy_accepts_placeholders_and_names_sources_by_title_body_and_date():
    d = speech_draft()
    cites = [
        c.model_copy(
            update={"passage": c.passage.model_copy(update={"issuing_body": "江川市人民政府", "date": "2025-03-01"})}
        )
        for c in d.citations
    ]
    data = export_docx(d.model_copy(update={"citations": cites}), kind="送审稿")
    texts = [c.text for c in Document(io.BytesIO(data)).comments]
    assert any(t.startswith("引用[1]：《范文甲》（江川市人民政府，2025年3月1日）") for t in texts)
    assert not re.search(r"/|\\\\|\.txt", "".join(texts))


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ExportError, match="定稿.*送审稿"):
        export_docx(speech_draft(), kind="草稿")


def test_preflight_lists_errors_first_placeholders_and_layout_notes():
    from drafting.docx.export import preflight

    d = with_placeholder()
    sections = list(d.sections)
    sections.insert(3, DraftSection(heading="四、跳号", kind="body", text="内容。"))
    check = preflight(d.model_copy(update={"sections": sections}))
    assert check.findings[0].severity == "error" and check.findings[0].quote == "四、跳号"
    assert [f.rule for f in check.errors] == ["lint.heading.skip"]
    assert check.placeholders == ["〔待补：规上企业数量〕", "〔待补：分管副县长姓名〕"]
    assert check.notes == []  # a speech with speaker and date: nothing the layout could not apply
