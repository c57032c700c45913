"""慢稿 makes a draft better, never worse (issue 13): reviewer comments are proposals grounded in the
text, only accepted comments are applied, and a rewrite that raises the gate's defect count is not taken."""

from __future__ import annotations

import json

import pytest

from drafting.checks.revise_checks import defect_counts
from drafting.domain import (
    Brief,
    Comment,
    CommentStatus,
    Draft,
    DraftSection,
    Outline,
    Passage,
    RevisionMode,
)
from drafting.writing.revise import consolidate, reviewer_comments, revise, rewrite_section
from tests.fakes import COMMENTS_STAGE, REWRITE_STAGE, RoutedFakeChat

REVIEW = COMMENTS_STAGE
REWRITE = REWRITE_STAGE
PART2 = "隐患就是事故，要坚持问题导向，把风险挡在前面。\n要盯住重点行业领域，开展燃气安全专项整治，排查整治要全面铺开。"
CLEAN = "隐患就是事故，要坚持问题导向，把风险挡在前面。要盯住重点行业领域，深入开展燃气安全专项整治，把排查整治落到每一家餐饮门店。"
TRANSPLANTED = "隐患就是事故，要坚持问题导向，把风险挡在前面。要盯住重点行业领域，开展燃气安全专项整治，排查餐饮场所燃气隐患1200处。"
FRAGMENT = "隐患就是事故，要坚持问题导向，把风险挡在前面。要盯住重点行业领域，开展燃气安全专项整治。同时要进一步加强对"


@pytest.fixture
def passages() -> list[Passage]:
    return [
        Passage(chunk_id="c1", doc_id="d1", title="范文一", text="压实企业主体责任，企业主要负责人是第一责任人。"),
        Passage(chunk_id="c2", doc_id="d2", title="范文二", text="开展燃气安全专项整治，排查餐饮场所燃气隐患1200处。"),
    ]


@pytest.fixture
def draft() -> Draft:
    brief = Brief(
        title="在全县安全生产工作会议上的讲话",
        occasion="全县安全生产工作会议",
        speaker="县长",
        key_points=["压实安全生产责任", "开展燃气安全专项整治"],
    )
    sections = [
        DraftSection(heading="", kind="opening", text="同志们：\n今天召开全县安全生产工作会议，部署冬春安全生产工作。"),
        DraftSection(
            heading="一、压实安全生产责任",
            kind="body",
            text="安全生产责任重于泰山，各级各部门要守土有责。\n要健全责任体系，做到层层有人抓、事事有人管。",
        ),
        DraftSection(heading="二、深入排查整治隐患", kind="body", text=PART2),
        DraftSection(heading="", kind="closing", text="同志们，让我们共同努力，守护好全县人民的生命财产安全。"),
    ]
    return Draft(title=brief.title, brief=brief, outline=Outline(title=brief.title, sections=[]), sections=sections)


def accepted(draft: Draft, quote: str, text: str = "把整治措施写具体") -> Comment:
    para = next(i for i, p in enumerate(draft.paragraphs) if quote in p)
    return Comment(id="w1", author="撰稿人", text=text, paragraph=para, quote=quote, status=CommentStatus.ACCEPTED)


@pytest.mark.parametrize(
    ("rewrite", "rose"), [(TRANSPLANTED, "借用范文的数据或名称"), (FRAGMENT, "残句")], ids=["figure", "fragment"]
)
def test_a_rewrite_that_adds_a_defect_is_rejected_and_the_old_part_kept(
    draft: Draft, passages: list[Passage], rewrite: str, rose: str
) -> None:
    llm = RoutedFakeChat(routes={REWRITE: [rewrite]})
    version = consolidate(draft, [accepted(draft, "开展燃气安全专项整治")], llm, passages, fill_gaps=False)
    assert any(c["stage"] == REWRITE for c in llm.calls)  # the model did rewrite the part
    assert version.draft.sections == draft.sections and version.diff == ""
    assert len(version.kept_parts) == 1 and "二、深入排查整治隐患" in version.kept_parts[0]
    assert rose in version.kept_parts[0] and rose in version.note
    assert version.defects_after == version.defects_before == defect_counts(draft, passages)
    # The 急稿 one-click rewrite is held to the same rule.
    quick = rewrite_section(draft, 2, "改得更口语化", RoutedFakeChat(routes={REWRITE: [rewrite]}), passages)
    assert quick.draft.sections[2].text == PART2 and quick.kept_parts


def test_a_clean_rewrite_goes_through_the_gate_and_is_taken(draft: Draft, passages: list[Passage]) -> None:
    llm = RoutedFakeChat(routes={REWRITE: [CLEAN + "\n以下是修改后的正文："]})  # a leaked line the gate removes
    version = consolidate(draft, [accepted(draft, "开展燃气安全专项整治")], llm, passages, fill_gaps=False)
    assert version.draft.sections[2].text == CLEAN.replace("门店。", "门店[2]。") and not version.kept_parts
    assert sum(version.defects_after.values()) <= sum(version.defects_before.values())


def test_with_no_comment_accepted_a_round_changes_nothing(draft: Draft, passages: list[Passage]) -> None:
    proposal = {"paragraph": 5, "quote": "开展燃气安全专项整治", "comment": "补充燃气整治的具体时间和责任单位"}
    llm = RoutedFakeChat(
        routes={REVIEW: [json.dumps({"comments": [proposal]}, ensure_ascii=False)], REWRITE: [TRANSPLANTED]}
    )
    version, considered = revise(draft, [], RevisionMode.SLOW, llm, passages)
    assert version.diff == "" and version.draft.body_text == draft.body_text
    assert version.draft.sections == draft.sections and version.addressed == []
    assert considered and all(c.status == CommentStatus.PENDING for c in considered)
    assert not any(c["stage"] == REWRITE for c in llm.calls)  # nothing was sent for rewriting


def test_with_one_accepted_only_the_part_it_touches_changes(draft: Draft, passages: list[Passage]) -> None:
    take = accepted(draft, "开展燃气安全专项整治")
    leave = Comment(id="r1", author="文字把关", text="这句太平", paragraph=1, quote="守土有责")  # pending
    llm = RoutedFakeChat(routes={REWRITE: [CLEAN]})
    version, _ = revise(draft, [take, leave], RevisionMode.SLOW, llm, passages, reviewers=False)
    changed = [i for i, (a, b) in enumerate(zip(draft.sections, version.draft.sections, strict=True)) if a != b]
    assert changed == [2]
    removed = [x[1:] for x in version.diff.splitlines() if x.startswith("-") and not x.startswith("---")]
    added = [x[1:] for x in version.diff.splitlines() if x.startswith("+") and not x.startswith("+++")]
    assert removed == PART2.splitlines() and added == [CLEAN.replace("门店。", "门店[2]。")]  # cited 范文二
    assert [c.id for c in version.addressed] == ["w1"]


def test_comments_that_quote_nothing_only_renumber_or_repeat_are_dropped(draft: Draft, passages: list[Passage]) -> None:
    answer = {
        "comments": [
            {"paragraph": 4, "quote": "全县事故起数同比下降三成", "comment": "这个数据要核实"},
            {
                "paragraph": 3,
                "quote": "",
                "comment": "建议将'二、深入排查整治隐患'改为'三、深入排查整治隐患'，以避免歧义",
            },
            # The quote has no citation mark and different commas: it is still the draft's own text.
            {"paragraph": 2, "quote": "隐患就是事故,要坚持问题导向", "comment": "要讲清楚燃气隐患整治的时间表和责任人"},
        ]
    }
    repeat = {"comments": [{"paragraph": 5, "quote": "问题导向", "comment": "要讲清楚燃气隐患整治的时间表和责任人。"}]}
    other = {"comments": [{"paragraph": 3, "quote": "守土有责", "comment": "责任要落到具体岗位，写明谁来抓"}]}
    llm = RoutedFakeChat(
        routes={REVIEW: [json.dumps(x, ensure_ascii=False) for x in (answer, repeat, other, {"comments": []})]}
    )
    comments = reviewer_comments(draft, draft.brief, llm, passages=passages)
    assert [c.text for c in comments] == ["要讲清楚燃气隐患整治的时间表和责任人", "责任要落到具体岗位，写明谁来抓"]
    assert comments[0].paragraph == draft.paragraphs.index(PART2.splitlines()[0])  # pinned by its quote
    assert all(c.status == CommentStatus.PENDING for c in comments)


def test_reviewers_are_shown_the_gates_findings_and_uncovered_points(passages: list[Passage], draft: Draft) -> None:
    sections = list(draft.sections)
    sections[2] = sections[2].model_copy(update={"text": "隐患就是事故，今年排查餐饮场所燃气隐患1200处。"})
    bad = draft.model_copy(update={"sections": sections})
    llm = RoutedFakeChat(routes={REVIEW: ['{"comments": []}']})
    reviewer_comments(bad, bad.brief, llm, passages=passages)
    asked = llm.calls[0]["prompt"]
    assert "借用范文的数据或名称：“1200处" in asked
    assert "任务要点没有写到：“开展燃气安全专项整治”" in asked
