"""Build edited copies of an exported .docx the way a leader's Word session leaves them: a paragraph
rewritten, one added, one deleted, 批注 added; optionally tracked changes (w:ins / w:del)."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime

from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph

from drafting.domain import Brief, Citation, Draft, DraftSection, Outline, Passage

REWRITTEN = "要把安全生产责任落实到每一个岗位、每一名职工，谁主管谁负责。"
ADDED = "各乡镇要在本月底前完成一次拉网式排查，形成问题清单。"


def speech_draft() -> Draft:
    brief = Brief(
        genre="讲话稿",
        title="在全县安全生产工作会议上的讲话",
        speaker="县长 王某某",
        date="2026-11-23",
        key_points=["压实责任", "排查隐患"],
    )
    sections = [
        DraftSection(
            heading="", kind="opening", text="同志们：\n今天召开全县安全生产工作会议，主要任务是部署冬春安全生产工作。"
        ),
        DraftSection(
            heading="一、压实安全生产责任",
            kind="body",
            text="安全生产责任重于泰山[1]。各级各部门要守土有责。\n要健全责任体系，做到层层有人抓。",
        ),
        DraftSection(
            heading="二、深入排查整治隐患",
            kind="body",
            text="隐患就是事故[2]，要坚持问题导向。\n要盯住重点行业领域，开展专项整治。",
        ),
        DraftSection(heading="", kind="closing", text="同志们，让我们共同努力。"),
    ]
    passages = [
        Passage(
            chunk_id="a", doc_id="d1", title="范文甲", text="安全生产责任重于泰山。", source="/home/u/corpus/a.txt"
        ),
        Passage(chunk_id="b", doc_id="d2", title="范文乙", text="隐患就是事故。", source="/home/u/corpus/b.txt"),
    ]
    return Draft(
        title=brief.title,
        brief=brief,
        outline=Outline(title=brief.title, sections=[]),
        sections=sections,
        citations=[Citation(n=i + 1, passage=p) for i, p in enumerate(passages)],
    )


def _find(doc, start: str) -> Paragraph:
    return next(p for p in doc.paragraphs if p.text.startswith(start))


def _set_text(p: Paragraph, text: str) -> None:
    runs = p.runs
    runs[0].text = text
    for r in runs[1:]:
        r._r.getparent().remove(r._r)


def edit_like_a_leader(data: bytes) -> bytes:
    """Rewrite "要健全责任体系……", add ADDED after "要盯住重点行业……", delete "今天召开……",
    and add two 批注: 张科长 on "隐患就是事故……", 李主任 on the closing paragraph."""
    doc = Document(io.BytesIO(data))
    _set_text(_find(doc, "要健全责任体系"), REWRITTEN)
    anchor = _find(doc, "要盯住重点行业")
    new_p = copy.deepcopy(anchor._p)
    anchor._p.addnext(new_p)
    _set_text(Paragraph(new_p, anchor._parent), ADDED)
    gone = _find(doc, "今天召开")
    gone._p.getparent().remove(gone._p)
    target = _find(doc, "隐患就是事故")
    doc.add_comment(target.runs[0], text="这句再有力一些。", author="张科长", initials="ZK")
    closing = _find(doc, "同志们，让我们")
    doc.add_comment(closing.runs, text="结尾要呼应开头。", author="李主任", initials="LZ")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _tracked(tag: str, author: str) -> OxmlElement:
    el = OxmlElement(tag)
    el.set(qn("w:id"), "901" if tag == "w:ins" else "902")
    el.set(qn("w:author"), author)
    el.set(qn("w:date"), datetime(2026, 11, 24, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return el


def with_tracked_changes(data: bytes) -> bytes:
    """In "各级各部门要守土有责。": "守土有责" deleted as a revision, "守土尽责" inserted."""
    doc = Document(io.BytesIO(data))
    p = _find(doc, "安全生产责任重于泰山")
    run = next(r for r in p.runs if "守土有责" in r.text)
    before, after = run.text.split("守土有责")
    run.text = before
    deleted = copy.deepcopy(run._r)
    for t in deleted.findall(qn("w:t")):
        t.tag = qn("w:delText")
        t.text = "守土有责"
    d = _tracked("w:del", "张科长")
    d.append(deleted)
    inserted = copy.deepcopy(run._r)
    inserted.find(qn("w:t")).text = "守土尽责"
    i = _tracked("w:ins", "张科长")
    i.append(inserted)
    tail = copy.deepcopy(run._r)
    tail.find(qn("w:t")).text = after
    run._r.addnext(d)
    d.addnext(i)
    i.addnext(tail)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
