"""Per-principle evidence in the review: body sentences that carry each of the five principles, never headings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import drafting.llm.client
from drafting import config
from drafting.cli import main
from drafting.domain import PRINCIPLES, Brief, Criterion, Draft, DraftSection, Outline, OutlineSection
from drafting.writing.review import (
    body_sentences,
    check_draft,
    evidence_coverage,
    is_heading_line,
    principle_evidence,
    review,
)
from tests.fakes import RoutedFakeChat, scores_json

HEADINGS = ["一、提高政治站位", "二、压实安全责任"]


def planted_draft() -> Draft:
    brief = Brief(title="在全县安全生产工作会议上的讲话", length=400, facts="今年以来全县发生生产安全事故3起")
    sections = [
        DraftSection(
            heading="",
            kind="opening",
            text="同志们：\n今天我们召开全县安全生产工作会议，主要任务是部署当前安全生产工作。",
        ),
        DraftSection(
            heading=HEADINGS[0],
            text=(
                "要认真贯彻党中央、国务院关于安全生产的决策部署，更好统筹发展和安全。\n"
                "古人云：“居安思危，思则有备，有备无患。”安全生产必须未雨绸缪。\n"
                "今年以来全县发生生产安全事故3起，〔待补：死亡人数〕，教训十分深刻。"
            ),
        ),
        DraftSection(
            heading=HEADINGS[1],
            text=(
                "（一）强化党政领导责任。各级党委政府要把安全生产摆上重要议事日程，一线岗位要把责任落到人头。\n"
                "坚持谁主管谁负责，各乡镇必须在6月30日之前完成隐患排查，逾期未完成的一律问责。\n"
                "（二）压实企业主体责任"
            ),
        ),
        DraftSection(heading="", kind="closing", text="同志们，安全生产责任重于泰山，让我们齐心协力，守住安全底线。"),
    ]
    outline = Outline(
        title=brief.title,
        sections=[OutlineSection(heading=s.heading or s.kind, kind=s.kind) for s in sections],
    )
    return Draft(title=brief.title, brief=brief, outline=outline, sections=sections)


def test_headings_and_title_lines_are_not_body_sentences() -> None:
    draft = planted_draft()
    sentences = body_sentences(draft)
    assert not any(s.startswith(("一、", "二、", "（一）", "（二）")) for s in sentences)
    assert "强化党政领导责任。" not in sentences
    assert any(s.startswith("各级党委政府要把安全生产") for s in sentences)
    assert is_heading_line("（三）强化党政领导责任。")
    assert is_heading_line("压实企业主体责任")
    assert not is_heading_line("必须守住安全底线。")


def test_every_principle_has_evidence_and_none_is_a_heading() -> None:
    evidence = principle_evidence(planted_draft())
    assert set(evidence) == set(PRINCIPLES)
    for criterion, sentences in evidence.items():
        assert sentences, criterion
        for s in sentences:
            assert not is_heading_line(s), (criterion, s)
            assert not s.startswith(("一、", "二、", "（一）", "（二）")), (criterion, s)
    assert any("居安思危" in s for s in evidence[Criterion.YICAIQI])
    assert any("党中央、国务院" in s for s in evidence[Criterion.TONGTIANQI])
    assert any("3起" in s for s in evidence[Criterion.JIEDIQI])
    assert any("同志们" in s or "我们" in s for s in evidence[Criterion.JURENQI])
    assert any("6月30日之前完成" in s for s in evidence[Criterion.XIANBAQI])


def test_a_draft_without_a_classic_has_no_caiqi_evidence() -> None:
    draft = planted_draft()
    sections = [
        s.model_copy(update={"text": s.text.replace("古人云：“居安思危，思则有备，有备无患。”", "")})
        for s in draft.sections
    ]
    evidence = principle_evidence(draft.model_copy(update={"sections": sections}))
    assert evidence[Criterion.YICAIQI] == []
    assert evidence_coverage(evidence) == 0.8
    assert evidence_coverage(principle_evidence(draft)) == 1.0


def test_caiqi_evidence_is_a_classic_not_a_modern_document() -> None:
    draft = planted_draft()
    text = (
        "《关于加强安全生产工作的意见》明确要求“压紧压实安全生产责任”。\n"
        "小的隐患不除，终成大患，不积小流，无以成江海，安全工作也是这样。\n"
        "古人讲：“天下之事，常成于困约。”我们要艰苦奋斗。"
    )
    sections = [*draft.sections[:1], draft.sections[1].model_copy(update={"text": text})]
    evidence = principle_evidence(draft.model_copy(update={"sections": sections}))
    assert evidence[Criterion.YICAIQI] == [
        "小的隐患不除，终成大患，不积小流，无以成江海，安全工作也是这样。",
        "古人讲：“天下之事，常成于困约。",
    ]


def test_policy_words_are_not_local_facts() -> None:
    draft = planted_draft()
    text = "要扎实推进乡村全面振兴，建设宜居宜业和美乡村。\n李家村今年新修道路，村民出行方便了。"
    sections = [*draft.sections[:1], draft.sections[1].model_copy(update={"text": text})]
    evidence = principle_evidence(draft.model_copy(update={"sections": sections}))
    assert evidence[Criterion.JIEDIQI] == ["李家村今年新修道路，村民出行方便了。"]


def test_review_carries_evidence_and_drops_a_heading_quoted_by_the_model() -> None:
    draft = planted_draft()
    llm = RoutedFakeChat(default=scores_json("（二）压实企业主体责任"))
    result = review(draft, draft.brief, llm)
    assert set(result.evidence) == {c.value for c in PRINCIPLES}
    assert all(result.evidence[c.value] for c in PRINCIPLES)
    assert [s.evidence for s in result.scores] == [""] * 8
    bare = review(draft, draft.brief, RoutedFakeChat(default=scores_json("压实安全责任")))
    assert [s.evidence for s in bare.scores] == [""] * 8  # the heading without its number is still a heading
    good = review(draft, draft.brief, RoutedFakeChat(default=scores_json("一线岗位要把责任落到人头")))
    assert all("一线岗位要把责任落到人头" in s.evidence for s in good.scores)


def test_check_draft_verifies_quotations_and_formulations() -> None:
    draft = planted_draft()
    rules = [f.rule for f in check_draft(draft)]
    assert "quote.ok" in rules and "quote.misquote" not in rules and "policy.unknown" not in rules
    bad = draft.sections[1].text.replace("思则有备", "思则有准").replace("更好统筹发展和安全", "“三个一律”")
    broken = draft.model_copy(
        update={
            "sections": [*draft.sections[:1], draft.sections[1].model_copy(update={"text": bad}), *draft.sections[2:]]
        }
    )
    rules = [f.rule for f in check_draft(broken)]
    assert "quote.misquote" in rules and "policy.unknown" in rules


def test_cli_review_prints_the_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = planted_draft()
    llm = RoutedFakeChat(default=scores_json("一线岗位要把责任落到人头"))
    monkeypatch.setattr(drafting.llm.client, "get_chat_model", lambda settings=None, streaming=True: llm)
    monkeypatch.setattr(drafting.llm.client, "check_endpoint", lambda settings=None, timeout=5.0: ["fake"])
    payload: dict[str, Any] = {
        "brief": draft.brief.model_dump(mode="json"),
        "outline": draft.outline.model_dump(mode="json"),
        "draft": draft.model_dump(mode="json"),
    }
    path = tmp_path / "x.json"
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    office = config.get_settings().data_dir / "banks"
    office.mkdir(parents=True)
    (office / "classics.yaml").write_text("- text: 没有出处\n", encoding="utf-8")
    assert main(["review", str(path)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "[名句库/提法库]" in captured.err and "第 1 行：缺少“出处”" in captured.err
    assert "五气依据" in out
    for c in PRINCIPLES:
        assert f"  {c.value}：" in out
    assert "6月30日之前完成" in out
    assert "    · 二、压实安全责任" not in out
