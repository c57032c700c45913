"""慢稿 makes a draft better, never worse (issue 13): reviewer comments are proposals grounded in the
text, only accepted comments are applied, and a rewrite that raises the gate's defect count is not taken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drafting.checks.revise_checks import _norm, defect_counts, origin_of
from drafting.cli import _round_lines
from drafting.docx.export import export_docx
from drafting.docx.roundtrip import import_edited
from drafting.domain import (
    Brief,
    Comment,
    CommentOrigin,
    CommentStatus,
    Draft,
    DraftSection,
    Outline,
    Passage,
    RevisionMode,
    Version,
    count_chars,
)
from drafting.workspace import Workspace
from drafting.writing.pipeline import run_proposals, run_revision
from drafting.writing.revise import consolidate, gap_comments, reviewer_comments, revise, rewrite_section
from tests.docx_edits import edit_like_a_leader, speech_draft
from tests.fakes import COMMENTS_STAGE, REWRITE_STAGE, RoutedFakeChat

REVIEW = COMMENTS_STAGE
REWRITE = REWRITE_STAGE
REWRITES = (REWRITE,)  # the retry of a rejected part is the same stage with the problems added
PART2 = "隐患就是事故，要坚持问题导向，把风险挡在前面。\n要盯住重点行业领域，开展燃气安全专项整治，排查整治要全面铺开。"
CLEAN = "隐患就是事故，要坚持问题导向，把风险挡在前面。要盯住重点行业领域，深入开展燃气安全专项整治，把排查整治落到每一家餐饮门店。"
TRANSPLANTED = "隐患就是事故，要坚持问题导向，把风险挡在前面。要盯住重点行业领域，开展燃气安全专项整治，排查餐饮场所燃气隐患1200处。"
GOOD1 = (
    "安全生产责任重于泰山，各级各部门要守土有责。\n要健全责任体系，把责任落实到每一个岗位，做到层层有人抓、事事有人管。"
)
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
    other = {
        "comments": [
            {"paragraph": 3, "quote": "守土有责", "comment": "责任要落到具体岗位，写明谁来抓"},
            {"paragraph": 6, "quote": "", "comment": "结尾要有号召力，呼应开头"},  # quotes nothing
        ]
    }
    llm = RoutedFakeChat(
        routes={REVIEW: [json.dumps(x, ensure_ascii=False) for x in (answer, repeat, other, {"comments": []})]}
    )
    comments = reviewer_comments(draft, draft.brief, llm, passages=passages)
    assert [c.text for c in comments] == ["要讲清楚燃气隐患整治的时间表和责任人", "责任要落到具体岗位，写明谁来抓"]
    assert comments[0].paragraph == draft.paragraphs.index(PART2.splitlines()[0])  # pinned by its quote
    # Every comment in the round quotes text that exists in the version it reviews.
    assert all(c.quote and _norm(c.quote) in _norm(draft.paragraphs[c.paragraph]) for c in comments)
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


def test_a_rejected_part_is_retried_once_with_the_problems_it_brought(draft: Draft, passages: list[Passage]) -> None:
    llm = RoutedFakeChat(routes={REWRITE: [TRANSPLANTED, CLEAN]})
    version = consolidate(draft, [accepted(draft, "开展燃气安全专项整治")], llm, passages, fill_gaps=False)
    asked = [c["all"] for c in llm.calls if c["stage"] in REWRITES]
    assert len(asked) == 2
    # The retry carries the comment and the very defect the first rewrite brought in.
    assert (
        "把整治措施写具体" in asked[1] and "1200处" in asked[1] and "上一次按这些意见改写的稿子没有被采用" in asked[1]
    )
    assert version.draft.sections[2].text == CLEAN.replace("门店。", "门店[2]。") and not version.kept_parts
    assert version.report is not None and version.report.not_applied == []
    assert "重写后采用" in version.report.retried[0] and [c.id for c in version.addressed] == ["w1"]


def test_a_part_rejected_twice_is_kept_and_the_writer_is_told_which_comment_was_not_applied(
    draft: Draft, passages: list[Passage]
) -> None:
    take = accepted(draft, "开展燃气安全专项整治")
    other = accepted(draft, "守土有责", "把责任写到岗位").model_copy(update={"id": "w2"})

    # Part 二 is rewritten with a borrowed figure each time; part 一 cleanly.
    def part_two_borrows(p: str) -> str:
        return TRANSPLANTED if "隐患就是事故" in p.split("【这一部分现在的文字】")[1] else GOOD1

    llm = RoutedFakeChat(routes={REWRITE: [part_two_borrows]})
    version, considered = revise(draft, [take, other], RevisionMode.SLOW, llm, passages, reviewers=False)
    assert sum(c["stage"] in REWRITES for c in llm.calls) == 3  # two parts, one retried once, not more
    assert version.draft.sections[2] == draft.sections[2] and version.draft.sections[1].text == GOOD1
    assert version.report is not None and [c.id for c in version.report.not_applied] == ["w1"]
    why = version.report.not_applied[0].note
    assert why.startswith("未采用：") and "借用范文的数据或名称" in why and "重写一次" in why
    assert [c.id for c in version.addressed] == ["w2"]
    assert next(c for c in considered if c.id == "w1").note == why  # the comment itself says why


def test_each_round_reports_key_points_principles_and_defects_before_and_after(
    draft: Draft, passages: list[Passage], tmp_path: Path
) -> None:
    brief = draft.brief.model_copy(update={"key_points": [*draft.brief.key_points, "乡镇月底前完成排查"]})
    d = draft.model_copy(update={"brief": brief})
    ws = Workspace(tmp_path / "ws.sqlite")
    pid = ws.create_project(brief)
    ws.save_passages(pid, passages)
    ws.add_version(pid, Version(number=1, draft=d, mode=RevisionMode.URGENT))
    firm = "隐患就是事故，要坚持问题导向，把风险挡在前面。\n各乡镇必须在月底前完成燃气安全专项整治，确保不留死角。"
    llm = RoutedFakeChat(routes={REWRITE: [firm]})
    version = run_revision(ws, pid, llm=llm, mode=RevisionMode.URGENT, comments=[accepted(d, "开展燃气安全专项整治")])
    report = version.report
    assert report is not None and ws.versions(pid)[-1].report == report  # saved with the version
    points = {p.point: (p.before, p.after) for p in report.points}
    assert points["乡镇月底前完成排查"][0] == "未覆盖" and "二、深入排查整治隐患" in points["乡镇月底前完成排查"][1]
    assert points["压实安全生产责任"][0] == points["压实安全生产责任"][1] != "未覆盖"
    principles = {p.principle: p for p in report.principles}
    assert set(principles) == {"通天气", "接地气", "聚人气", "溢才气", "显霸气"}
    assert principles["显霸气"].before == [] and any("必须在月底前完成" in s for s in principles["显霸气"].after)
    assert set(version.defects_before) == set(version.defects_after) and "fragment" in version.defects_before
    lines = "\n".join(_round_lines(version))  # what the CLI prints
    assert "乡镇月底前完成排查：未覆盖 → 二、深入排查整治隐患" in lines and "显霸气：0 句 → 1 句" in lines


REWRITTEN = "隐患就是事故，要坚持问题导向，把风险挡在前面。要盯住重点行业领域，深入开展燃气安全专项整治，把排查整治落到每一家餐饮门店。"
BRIEF_FIELDS = "文种：讲话稿\n标题：在全县安全生产工作会议上的讲话\n讲话人/发文单位：县长\n篇幅：约1500字\n"
REFERENCE_BLOCK = "\n[5] 来源：《在全县安全生产工作会议上的讲话》「全县上下紧盯重点行业领域，扎实开展隐患排查整治。」"


@pytest.mark.parametrize(
    ("rewrite", "taken"),
    [(BRIEF_FIELDS + REWRITTEN + REFERENCE_BLOCK, False), (REWRITTEN + REFERENCE_BLOCK, True)],
    ids=["fields-and-block", "block"],
)
def test_version_2_has_no_more_defects_and_no_leaked_brief_fields_or_reference_blocks(
    draft: Draft, passages: list[Passage], rewrite: str, taken: bool
) -> None:
    llm = RoutedFakeChat(routes={REWRITE: [rewrite]})
    version = consolidate(draft, [accepted(draft, "开展燃气安全专项整治")], llm, passages, fill_gaps=False)
    text = version.draft.body_text
    # Whether the gate cleans the rewrite or the part is kept as it was, nothing leaked gets through.
    assert ("落到每一家餐饮门店" in text) is taken and bool(version.kept_parts) is not taken
    for leaked in ("文种：", "标题：", "讲话人/发文单位", "篇幅：", "来源：", "《在全县", "全县上下紧盯"):
        assert leaked not in text
    assert all(version.defects_after[k] <= version.defects_before[k] for k in version.defects_before)


def _current_part(prompt: str) -> str:
    return prompt.split("【这一部分现在的文字】")[1].split("【修改意见】")[0].strip()


def test_the_leaders_comments_from_word_rank_first_and_are_never_dropped(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws.sqlite")
    first = speech_draft()
    pid = ws.create_project(first.brief)
    ws.add_version(pid, Version(number=1, draft=first, mode=RevisionMode.URGENT, note="初稿"))
    imported = import_edited(ws, pid, edit_like_a_leader(export_docx(first)))
    assert {c.origin for c in imported.comments} == {CommentOrigin.LEADER}
    # A 批注 whose text is gone from the document altogether (kept, flagged), on the imported version.
    gone = Comment(id="docx-gone", author="王主任", text="这里的数据要核实", quote="去年全县共发生各类事故十二起")
    ws.save_comment(pid, imported.version.number, gone.model_copy(update={"origin": CommentOrigin.LEADER}))
    # The writer edits the sentence 张科长 commented on before the 慢稿 round: the 批注 come along.
    v2 = imported.version.draft
    sections = list(v2.sections)
    edited = "隐患就是事故[2]，要始终坚持问题导向，把风险挡在前面。"
    sections[2] = sections[2].model_copy(
        update={"text": sections[2].text.replace("隐患就是事故[2]，要坚持问题导向。", edited)}
    )
    v3 = v2.model_copy(update={"sections": sections, "version": 3})
    ws.add_version(pid, Version(number=3, draft=v3, mode=RevisionMode.URGENT, note="撰稿人修改"))
    para = v3.paragraphs.index(edited)
    model = [
        {"paragraph": 2, "quote": "", "comment": "开头太短，要先讲形势"},  # quotes nothing: dropped
        {"paragraph": para + 1, "quote": "坚持问题导向", "comment": "这句再有力一些"},  # repeats 张科长: dropped
        {"paragraph": para + 2, "quote": "开展专项整治", "comment": "专项整治要写明时间和责任单位"},
    ]
    llm = RoutedFakeChat(
        routes={
            REVIEW: [json.dumps({"comments": model}, ensure_ascii=False), '{"comments": []}'],
            REWRITE: [lambda p: _current_part(p).replace("要始终坚持", "必须始终坚持")],
        }
    )
    proposals = run_proposals(ws, pid, llm=llm)
    leaders = [c for c in proposals if c.origin is CommentOrigin.LEADER]
    assert [c.author for c in proposals[:3]] == [c.author for c in leaders] and len(leaders) == 3
    ranks = [list(CommentOrigin).index(origin_of(c)) for c in proposals]
    assert ranks == sorted(ranks)
    zhang = next(c for c in leaders if c.author == "张科长")
    assert zhang.paragraph == para and "已有改动" in zhang.note  # matched fuzzily to the edited sentence
    wang = next(c for c in leaders if c.author == "王主任")
    assert wang.paragraph == -1 and "找不到" in wang.note  # unmatched: kept, flagged
    texts = [c.text for c in proposals]
    assert "专项整治要写明时间和责任单位" in texts
    assert "开头太短，要先讲形势" not in texts and "这句再有力一些" not in texts
    assert all(c.status is CommentStatus.PENDING for c in proposals)
    assert ws.versions(pid)[-1].number == 3  # proposing changes nothing

    version = run_revision(ws, pid, llm=llm, mode=RevisionMode.SLOW, accept_all=True)
    asked = next(c["all"] for c in llm.calls if c["stage"] in REWRITES and edited in _current_part(c["all"]))
    assert asked.index("张科长：这句再有力一些。") < asked.index("专项整治要写明时间和责任单位")
    assert "必须始终坚持问题导向" in version.draft.body_text and version.number == 4
    saved = ws.load(pid)
    assert saved.versions[-1].report == version.report and version.report is not None
    assert saved.working == version.draft
    on_v3 = {c.author: c for c in ws.comments(pid, 3)}
    assert on_v3["王主任"].status is CommentStatus.ACCEPTED and "找不到" in on_v3["王主任"].note


def test_a_leaders_comment_given_after_a_reviewers_is_still_applied_and_listed_first(
    draft: Draft, passages: list[Passage]
) -> None:
    reviewer = accepted(draft, "开展燃气安全专项整治", "专项整治要写明时间").model_copy(
        update={"id": "r1", "author": "文字把关", "origin": CommentOrigin.REVIEWER}
    )
    leader = accepted(draft, "隐患就是事故", "这句再有力一些").model_copy(
        update={"id": "docx-1", "author": "张科长", "origin": None}  # an older save: known by its id
    )
    llm = RoutedFakeChat(routes={REWRITE: [CLEAN]})
    version, considered = revise(draft, [reviewer, leader], RevisionMode.SLOW, llm, passages, reviewers=False)
    assert [c.id for c in considered] == ["docx-1", "r1"] and considered[0].origin is CommentOrigin.LEADER
    asked = next(c["all"] for c in llm.calls if c["stage"] in REWRITES)
    assert asked.index("张科长：这句再有力一些") < asked.index("文字把关：专项整治要写明时间")
    assert [c.id for c in version.addressed] == ["docx-1", "r1"]


def test_the_key_point_checks_proposals_quote_the_part_they_go_into(draft: Draft) -> None:
    brief = draft.brief.model_copy(update={"key_points": [*draft.brief.key_points, "建立隐患排查台账"]})
    d = draft.model_copy(update={"brief": brief})
    gaps = gap_comments(d)
    assert [g.text for g in gaps] == ["补充任务要点“建立隐患排查台账”，写出具体措施。"]
    assert gaps[0].quote == "二、深入排查整治隐患" and d.paragraphs[gaps[0].paragraph] == gaps[0].quote
    assert gaps[0].origin is CommentOrigin.COMPLETENESS


def test_a_rewrite_that_shrinks_a_part_of_a_short_draft_is_not_taken(draft: Draft, passages: list[Passage]) -> None:
    short = "隐患就是事故，要坚持问题导向，把风险挡在前面。要盯住重点行业领域开展燃气整治。"
    assert 0.5 * count_chars(PART2) < count_chars(short) < 0.8 * count_chars(PART2)
    long_brief = draft.model_copy(update={"brief": draft.brief.model_copy(update={"length": 400})})
    llm = RoutedFakeChat(routes={REWRITE: [short]})
    version = consolidate(long_brief, [accepted(long_brief, "开展燃气安全专项整治")], llm, passages, fill_gaps=False)
    assert version.draft.sections[2].text == PART2 and "短" in version.kept_parts[0]
    # A draft that runs past its target may be cut.
    cut = draft.model_copy(update={"brief": draft.brief.model_copy(update={"length": 100})})
    taken = consolidate(
        cut,
        [accepted(cut, "开展燃气安全专项整治")],
        RoutedFakeChat(routes={REWRITE: [short]}),
        passages,
        fill_gaps=False,
    )
    assert taken.draft.sections[2].text.startswith("隐患就是事故，要坚持问题导向") and not taken.kept_parts
