"""Per-principle evidence in the review: body sentences that carry each of the five principles, never headings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import drafting.llm.client
from drafting import config
from drafting.cli import main
from drafting.domain import PRINCIPLES, Brief, Criterion, Draft, DraftSection, Outline, OutlineSection, now_iso
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
        "古人讲：“天下之事，常成于困约。”",
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


# ---- the guarantees after the model wrote (drafting.writing.principles) -------------------------------------


def _written(brief: Brief | None = None) -> Draft:
    """A whole draft written by the fake writer (one call laid onto a three-part outline)."""
    from drafting.writing.draft import write_draft
    from drafting.writing.outline import make_outline
    from tests.fakes import outline_json, writer_routes

    brief = brief or Brief(
        title="在全县安全生产工作会议上的讲话", occasion="全县安全生产工作会议", speaker="县长", length=1000
    )
    routes = writer_routes()
    routes.setdefault("请拟一份提纲", [outline_json(["提高政治站位", "压实安全责任", "狠抓隐患整治"])])
    llm = RoutedFakeChat(routes=routes, default=scores_json())
    outline = make_outline(brief, [], llm)
    return write_draft(brief, outline, [], llm)


def test_the_draft_cites_a_current_formulation_with_its_source() -> None:
    from drafting.writing.banks import used_entries
    from drafting.writing.principles import spoken_source

    draft = _written()
    used = used_entries(draft.body_text).formulations
    assert used, draft.body_text
    f = used[0]
    assert f.issuer == "国务院" or "中央" in f.issuer  # a county cites the centre, not another province
    sentence = next(s for s in body_sentences(draft) if f.text in s)
    assert spoken_source(f) in sentence and f"“{f.text}”" in sentence
    assert any(f.text in s for s in principle_evidence(draft)[Criterion.TONGTIANQI])


def test_a_formulation_used_without_its_source_gets_it() -> None:
    from drafting.writing.outline import quick_outline
    from drafting.writing.principles import ensure_formulation

    brief = Brief(title="在全县安全生产工作会议上的讲话", occasion="全县安全生产工作会议", speaker="县长")
    outline = quick_outline(brief)
    body = next(i for i, s in enumerate(outline.sections) if s.kind == "body")
    parts = {
        i: ["我们要始终坚持人民至上、生命至上，把安全放在首位。"] if i == body else []
        for i in range(len(outline.sections))
    }
    assert ensure_formulation(parts, outline, brief)
    assert parts[body] == ["我们要始终坚持2023年国务院《政府工作报告》强调的“人民至上、生命至上”，把安全放在首位。"]
    assert not ensure_formulation(parts, outline, brief)  # cited once is enough: nothing more is added


def test_spoken_sources() -> None:
    from drafting.writing.banks import load_banks
    from drafting.writing.principles import spoken_source

    by_doc = {f.document: f for f in load_banks().formulations}
    sources = {spoken_source(f) for f in by_doc.values()}
    assert "2025年国务院《政府工作报告》" in sources
    assert "党的二十大报告" in sources
    assert "2026年云南省《政府工作报告》" in sources


def test_every_body_part_has_a_local_fact_and_the_closing_firm_requirements() -> None:
    from drafting.writing.principles import closing_requirements, has_local_fact, principle_checks

    draft = _written()
    for s in draft.sections:
        if s.kind == "body":
            assert has_local_fact(s.text), s.heading
    closing = draft.sections[-1].text
    assert closing.startswith("同志们，让我们")  # the requirement follows the first sentence
    assert closing_requirements(closing) == {"firm": True, "party": True, "deadline": True}
    assert "各乡镇、县直各有关部门" in closing and "〔待补：完成时限〕" in closing
    assert principle_checks(draft) == []
    assert not [f for f in check_draft(draft) if f.rule.startswith("principle.")]


def test_parts_without_local_facts_and_a_soft_closing_are_flagged() -> None:
    from drafting.writing.principles import principle_checks

    draft = planted_draft()
    soft = [
        s.model_copy(
            update={"text": s.text.replace("今年以来全县发生生产安全事故3起，〔待补：死亡人数〕，教训十分深刻。", "")}
        )
        for s in draft.sections
    ]
    findings = principle_checks(draft.model_copy(update={"sections": soft}))
    assert [f.rule for f in findings] == ["principle.local", "principle.closing"]
    assert findings[0].position == HEADINGS[0]
    assert "责任单位" in findings[1].message and "完成时限" in findings[1].message
    assert [f.rule for f in principle_checks(draft)] == ["principle.closing"]  # part two names 6月30日
    # A document's year is no local fact.
    cited = "2025年国务院《政府工作报告》明确提出“统筹发展和安全”，我们要抓好落实。"
    assert not principle_checks(
        draft.model_copy(update={"sections": [draft.sections[0], draft.sections[1].model_copy(update={"text": cited})]})
    )[0].message.startswith("结尾")


def test_evidence_for_all_five_principles_on_a_written_draft() -> None:
    draft = _written()
    evidence = principle_evidence(draft)
    assert evidence_coverage(evidence) == 1.0, evidence
    headings = {s.heading for s in draft.sections if s.heading}
    for criterion, sentences in evidence.items():
        for s in sentences:
            assert not is_heading_line(s), (criterion, s)
            assert s not in headings
    # The clearest evidence comes first: a placeholder or figure for 接地气, a named party or deadline for 显霸气.
    assert "〔待补" in evidence[Criterion.JIEDIQI][0]
    assert "〔待补：完成时限〕" in evidence[Criterion.XIANBAQI][0]


def test_offers_per_part_and_swapping_an_entry() -> None:
    from drafting.writing.banks import load_banks
    from drafting.writing.outline import quick_outline
    from drafting.writing.principles import alternatives_for, chosen_entries, offers_for, swap_entry

    brief = Brief(title="在全县安全生产工作会议上的讲话", occasion="全县安全生产工作会议", speaker="县长")
    outline = quick_outline(brief)
    offers = offers_for(outline, brief)
    assert [o.index for o in offers] == list(range(len(outline.sections)))
    caiqi = [o for o in offers if Criterion.YICAIQI in o.principles]
    tongtian = [o for o in offers if Criterion.TONGTIANQI in o.principles]
    assert caiqi and all(o.classics for o in caiqi) and tongtian and all(o.formulations for o in tongtian)
    assert not any(o.classics or o.formulations for o in offers if o.kind != "body")
    part = tongtian[0]
    new = next(f for f in alternatives_for(brief, "formulation") if f not in part.formulations)
    swapped = swap_entry(outline, brief, part.index, "formulation", part.formulations[0].text, new.text)
    after = offers_for(swapped, brief)[part.index]
    assert after.chosen and after.formulations[0] == new and after.formulations[1:] == part.formulations[1:]
    assert after.classics == part.classics  # the other kind stays as offered
    assert chosen_entries(swapped, brief)[1][0] == new
    assert swapped.model_dump()["sections"][part.index]["formulations"][0] == new.text  # stored on the outline
    with pytest.raises(ValueError, match="不在提法库中"):
        swap_entry(outline, brief, part.index, "formulation", None, "凭空编造的提法")
    assert load_banks().formulations  # the bank itself is untouched


def test_cli_draft_prints_and_saves_the_principles_per_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.fakes import outline_json, writer_routes

    routes = writer_routes()
    routes.setdefault("请拟一份提纲", [outline_json(["提高政治站位", "压实安全责任", "狠抓隐患整治"])])
    llm = RoutedFakeChat(routes=routes, default=scores_json())
    monkeypatch.setattr(drafting.llm.client, "get_chat_model", lambda settings=None, streaming=True: llm)
    monkeypatch.setattr(drafting.llm.client, "check_endpoint", lambda settings=None, timeout=5.0: ["fake"])
    out = tmp_path / "x.json"
    code = main(["draft", "--request", "为县长起草在全县安全生产工作会议上的讲话，约1000字", "--json", str(out)])
    assert code == 0
    err = capsys.readouterr().err
    assert "[五气]" in err and "    提供：名句“" in err
    assert any(line.startswith("    用到：") and "提法“" in line for line in err.splitlines())
    for c in PRINCIPLES:
        assert f"    {c.value}：" in err
    assert f"    {Criterion.TONGTIANQI.value}：未找到" not in err
    report = json.loads(out.read_text(encoding="utf-8"))["principles"]
    assert report["used"]["formulations"] and report["used"]["formulations"][0]["source"]
    assert all(report["evidence"][c.value] for c in PRINCIPLES)
    assert any(p["offered"]["formulations"] for p in report["parts"])


def test_a_notice_gets_requirements_without_a_meeting_and_a_plain_citation() -> None:
    from drafting.writing.outline import quick_outline
    from drafting.writing.principles import ensure_principles

    brief = Brief(title="关于开展燃气安全专项整治的通知", genre="通知", occasion="全县燃气安全专项整治")
    outline = quick_outline(brief)
    parts = {
        i: (["请各单位高度重视，认真组织开展排查整治。"] if s.kind != "opening" else [])
        for i, s in enumerate(outline.sections)
    }
    assert ensure_principles(parts, outline, brief)
    text = "\n".join("\n".join(v) for v in parts.values())
    assert "会后" not in text and "我们要不折不扣" not in text
    assert "〔待补：完成时限〕" in text and "各乡镇、县直各有关部门" in text
    assert "《政府工作报告》" in text or "报告" in text


def test_a_formulation_attributed_to_a_speaker_is_not_given_a_document() -> None:
    from drafting.writing.outline import quick_outline
    from drafting.writing.principles import ensure_formulation

    brief = Brief(title="在全县安全生产工作会议上的讲话", occasion="全县安全生产工作会议", speaker="县长")
    outline = quick_outline(brief)
    body = next(i for i, s in enumerate(outline.sections) if s.kind == "body")
    parts: dict[int, list[str]] = {i: [] for i in range(len(outline.sections))}
    parts[body] = ["党中央强调，人民至上、生命至上。"]
    assert ensure_formulation(parts, outline, brief)
    assert parts[body][0].endswith("党中央强调，人民至上、生命至上。")  # left as the model wrote it
    assert "《政府工作报告》" in parts[body][0] and "人民至上、生命至上”" not in parts[body][0]


def test_list_numbers_and_a_lone_yi_are_not_local_facts() -> None:
    from drafting.writing.principles import has_local_fact

    assert not has_local_fact("1. 强化组织领导：建立健全责任制。\n2. 加强监管执法：严厉查处违法行为。")
    assert not has_local_fact("我们要把安全生产作为一项重要任务来抓[1]。")
    assert has_local_fact("今年以来全县发生事故三起。") and has_local_fact("排查隐患1200处。")
    draft = planted_draft()
    listed = "1. 强化组织领导：建立健全安全生产领导责任制，形成一级抓一级的格局。"
    sections = [draft.sections[0], draft.sections[1].model_copy(update={"text": listed})]
    sentences = body_sentences(draft.model_copy(update={"sections": sections}))
    assert sentences[-1] == "建立健全安全生产领导责任制，形成一级抓一级的格局。"  # the run-in list head is left out


def test_no_generic_local_ask_when_the_writer_gave_facts_or_material() -> None:
    from drafting.writing.outline import quick_outline
    from drafting.writing.principles import ensure_principles

    for extra in ({"facts": "全县97家学校食堂，抽查41家"}, {"material": ["调研发现：13家食堂未接入明厨亮灶平台。"]}):
        brief = Brief(genre="调研报告", occasion="校园食品安全调研", speaker="县政府办", length=900, **extra)
        outline = quick_outline(brief)
        parts = {i: (["各部门要加强协作。"] if s.kind == "body" else []) for i, s in enumerate(outline.sections)}
        ensure_principles(parts, outline, brief)
        assert not any("的实际是：〔待补" in x or "情况看，〔待补" in x for v in parts.values() for x in v)


def test_no_formulation_is_forced_on_a_piece_that_cites_a_superior_document_nor_a_stale_one() -> None:
    import dataclasses

    from drafting.writing.banks import load_banks
    from drafting.writing.outline import quick_outline
    from drafting.writing.principles import STALE_AFTER_YEARS, ensure_formulation

    brief = Brief(title="在全市医保基金监管专项整治动员会上的讲话", occasion="全市医保基金监管动员会", speaker="副市长")
    outline = quick_outline(brief)
    body = next(i for i, s in enumerate(outline.sections) if s.kind == "body")
    parts = {
        i: ["我们要深入贯彻《医疗保障基金使用监督管理条例》，管好用好群众的救命钱。"] if i == body else []
        for i in range(len(outline.sections))
    }
    assert not ensure_formulation(parts, outline, brief)
    assert parts[body] == ["我们要深入贯彻《医疗保障基金使用监督管理条例》，管好用好群众的救命钱。"]
    # Without such a citation a formulation is put in, never one from a document older than the limit.
    banks = load_banks()
    stale = [f for f in banks.formulations if f.year and f.year < int(now_iso()[:4]) - STALE_AFTER_YEARS]
    assert stale
    only_stale = dataclasses.replace(banks, formulations=tuple(stale))
    parts[body] = ["我们要管好用好群众的救命钱。"]
    assert not ensure_formulation(parts, outline, brief, only_stale)
    # The medical brief fits only a stale formulation: none is put in. A safety brief fits a current one.
    assert not ensure_formulation(parts, outline, brief, banks)
    safety = Brief(title="在全县安全生产工作会议上的讲话", occasion="全县安全生产工作会议", speaker="县长")
    outline = quick_outline(safety)
    parts = {i: ["我们要把安全放在首位。"] if i == body else [] for i in range(len(outline.sections))}
    assert ensure_formulation(parts, outline, safety, banks)
    assert int(parts[body][0][:4]) >= int(now_iso()[:4]) - STALE_AFTER_YEARS, parts[body][0]
