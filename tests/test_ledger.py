"""The facts ledger (issue 16, item 3): every fact of a draft with its source and status; the writer
confirms or corrects a fact once, the correction reaches every use and nothing else, and no revision
(慢稿 round, 急稿 shortening) changes a confirmed fact."""

from __future__ import annotations

import difflib
import io
import json
import re
from pathlib import Path

import pytest
from docx import Document

from drafting.checks.facts import FactKind, find_facts, replace_uses, uses
from drafting.checks.gate import DefectKind, find_defects, repair_draft
from drafting.checks.ledger import (
    FactOrigin,
    FactStatus,
    apply_correction,
    build_ledger,
    confirm,
    correct,
    keep_confirmed,
    project_ledger,
    unconfirm,
    with_confirmed,
)
from drafting.docx.export import ExportKind, export_docx
from drafting.domain import Brief, ConfirmedFact, Draft, DraftSection, Outline, RevisionMode, Version
from drafting.errors import DraftingError
from drafting.workspace import Workspace
from drafting.writing.pipeline import run_revision
from drafting.writing.review import unverified_numbers
from drafting.writing.revise import instruction_for, rewrite_section
from tests.fakes import RoutedFakeChat
from tests.test_app import models  # noqa: F401 - the page test's fixture
from tests.test_cli import fake_world  # noqa: F401 - the CLI test's fixture

REVIEW = "修改意见，每条对应一个段号"
REWRITE = "请输出修改后的这一部分正文"
# The brief says 11起; the writer later finds the right figure is 12起 and corrects it in the ledger.
FACT_SENTENCE = "今年以来，全县发生生产安全事故11起，死亡3人。"
PART1 = FACT_SENTENCE + "\n全县排查整治隐患4300余处，整改率96.5%。"
PART2 = (
    "事故11起的教训十分深刻，近五年累计排查问题211起，各级各部门要守土有责。\n"
    "由〔待补：分管副县长姓名〕牵头，东岭镇要在本月底前完成燃气专项整治。\n"
    "王建国同志要亲自抓，全年培训1200人次。"
)
# What a model does to a figure in a rewrite: it goes back to the brief's figure (which the gate accepts).
SLOW_REWRITE = (
    "今年以来，全县发生生产安全事故11起，死亡3人，形势依然严峻复杂。\n全县排查整治隐患4300余处，整改率96.5%，成效明显。"
)
SHORT_REWRITE = "今年以来全县发生生产安全事故11起、死亡3人，形势严峻；排查整治隐患4300余处，整改率96.5%。"


def ledger_draft() -> Draft:
    brief = Brief(
        genre="讲话稿",
        title="在全县安全生产工作会议上的讲话",
        occasion="全县安全生产工作会议",
        speaker="县长",
        facts="今年以来全县发生生产安全事故11起，死亡3人。",
        material=["全县安全生产情况通报\n今年排查整治隐患4300余处，整改率96.5%。\n东岭镇开展燃气专项整治。"],
    )
    sections = [
        DraftSection(heading="", kind="opening", text="同志们：\n今天召开全县安全生产工作会议，分析形势、部署工作。"),
        DraftSection(heading="一、清醒认识安全生产形势", kind="body", text=PART1),
        DraftSection(heading="二、压实安全生产责任", kind="body", text=PART2),
        DraftSection(heading="", kind="closing", text="同志们，让我们共同努力，守护好全县人民的生命财产安全。"),
    ]
    return Draft(title=brief.title, brief=brief, outline=Outline(title=brief.title, sections=[]), sections=sections)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Workspace, str]:
    ws = Workspace(tmp_path / "ws.sqlite")
    draft = ledger_draft()
    pid = ws.create_project(draft.brief)
    ws.add_version(pid, Version(number=1, draft=draft, mode=RevisionMode.URGENT, note="初稿"))
    return ws, pid


def _n(ws: Workspace, pid: str, text: str) -> int:
    return next(e.n for e in project_ledger(ws, pid).entries if e.text == text)


# --- the table --------------------------------------------------------------------------------------------


def test_ledger_lists_every_fact_once_with_its_source_and_status():
    ledger = build_ledger(ledger_draft())
    by_text = {e.text: e for e in ledger.entries}
    assert [e.n for e in ledger.entries] == list(range(1, len(ledger.entries) + 1))
    eleven = by_text["11起"]
    assert (eleven.kind, eleven.origin, eleven.source) == ("number", FactOrigin.BRIEF, "任务书·本地情况和数据")
    assert eleven.count == 2 and eleven.paragraphs == [4, 7] and eleven.status is FactStatus.TO_CHECK
    assert eleven.context == FACT_SENTENCE
    hidden = by_text["4300余处"]
    assert hidden.origin is FactOrigin.MATERIAL and hidden.source.startswith("素材1第2行：“今年排查整治隐患4300余处")
    assert by_text["东岭镇"].kind == "place" and by_text["东岭镇"].source.startswith("素材1第3行")
    assert by_text["王建国"].kind == "person" and by_text["王建国"].origin is FactOrigin.UNKNOWN
    assert by_text["1200人次"].origin is FactOrigin.UNKNOWN and by_text["1200人次"].source == "任务书和素材中都没有"
    gap = by_text["〔待补：分管副县长姓名〕"]
    assert gap.kind == "placeholder" and gap.origin is FactOrigin.PLACEHOLDER
    assert "211起" in by_text and by_text["211起"].count == 1  # a different figure, not a use of 11起
    # Reading order: the entries follow the text.
    assert ledger.entries[0].text == "11起" and ledger.entries[-1].text == "1200人次"
    assert ledger.to_check == len(ledger.entries)


def test_uses_of_a_figure_are_that_figure_only_names_anywhere_outside_placeholders():
    text = "发生事故11起，累计211起，2025年3月和2025年；东岭镇、东岭镇党委；〔待补：东岭镇人口〕"
    assert [text[a:b] for a, b in uses("11起", text)] == ["11起"]
    assert [text[a:b] for a, b in uses("2025年", text)] == ["2025年"]
    assert len(uses("东岭镇", text)) == 2
    assert replace_uses(text, "东岭镇", "西岭镇")[1] == 2
    assert find_facts("由李明同志牵头", people=True)[0].kind is FactKind.PERSON
    assert not any(f.kind is FactKind.PERSON for f in find_facts("县长王某某讲话，各级党委书记", people=True))
    assert not any(f.kind is FactKind.PERSON for f in find_facts("由李明同志牵头"))  # the gate's call is unchanged


# --- a correction reaches every use and nothing else ------------------------------------------------------


def test_correction_changes_every_use_and_nothing_else(project):
    ws, pid = project
    before = ws.load(pid).versions[-1].draft
    result = correct(ws, pid, _n(ws, pid, "11起"), "12起")
    assert result.count == 2 and result.version.number == 2
    stored = ws.load(pid)
    assert [v.number for v in stored.versions] == [1, 2]  # every version kept
    assert stored.versions[0].draft == before  # 第1稿 untouched
    after = stored.versions[-1].draft
    assert stored.working == after and after.version == 2
    # The paragraph diff is exactly the paragraphs that used the fact, each changed only at the fact
    # (an independent rewrite of the span: "211起" is another figure and stays).
    changed = [(i, a, b) for i, (a, b) in enumerate(zip(before.paragraphs, after.paragraphs, strict=True)) if a != b]
    assert [i for i, _, _ in changed] == [3, 6]
    for _, a, b in changed:
        assert b == re.sub(r"(?<![0-9])11起", "12起", a)
    sm = difflib.SequenceMatcher(None, before.body_text, after.body_text, autojunk=False)
    edits = [
        (before.body_text[i1:i2], after.body_text[j1:j2]) for t, i1, i2, j1, j2 in sm.get_opcodes() if t != "equal"
    ]
    assert edits == [("1", "2"), ("1", "2")]
    assert "211起" in after.body_text and after.title == before.title
    assert after.outline == before.outline and after.citations == before.citations
    assert after.brief.confirmed == ["12起"]
    assert stored.versions[-1].note == "核实事实：“11起”改为“12起”（2处）" and "+今年以来" in stored.versions[-1].diff
    # From now on the ledger shows the new value as confirmed, with what it replaced.
    entry = next(e for e in project_ledger(ws, pid).entries if e.text == "12起")
    assert entry.status is FactStatus.CONFIRMED and entry.origin is FactOrigin.CONFIRMED
    assert entry.source == "撰稿人改定（原为“11起”）" and entry.count == 2
    assert [(f.value, f.was) for f in stored.facts] == [("12起", "11起")]


def test_filling_a_placeholder_is_the_same_operation(project):
    ws, pid = project
    result = correct(ws, pid, _n(ws, pid, "〔待补：分管副县长姓名〕"), "李明同志")
    assert result.count == 1
    draft = ws.load(pid).versions[-1].draft
    assert "由李明同志牵头" in draft.body_text and "〔待补" not in draft.body_text
    assert ws.load(pid).facts[-1].kind == "placeholder"
    person = next(e for e in project_ledger(ws, pid).entries if e.text == "李明")
    assert person.kind == "person" and person.status is FactStatus.CONFIRMED
    assert person.source == "撰稿人改定（原为“〔待补：分管副县长姓名〕”）"


def test_confirm_as_it_stands_and_unconfirm(project):
    ws, pid = project
    n = _n(ws, pid, "1200人次")
    confirmed = confirm(ws, pid, [n])
    assert [e.text for e in confirmed] == ["1200人次"]
    entry = project_ledger(ws, pid).entry(n)
    assert entry.status is FactStatus.CONFIRMED and entry.source == "撰稿人确认"
    assert len(ws.load(pid).versions) == 1  # confirming changes no text, so no new version
    assert unconfirm(ws, pid, n).text == "1200人次"
    assert project_ledger(ws, pid).entry(n).status is FactStatus.TO_CHECK


@pytest.mark.parametrize(
    ("n", "value", "message"),
    [(99, "12起", "没有第99项"), (1, "  ", "新值是空的"), (1, "一\n二", "一行"), (1, "〔待补：x〕", "〔待补〕")],
)
def test_bad_corrections_are_clear_errors_and_change_nothing(project, n, value, message):
    ws, pid = project
    with pytest.raises(DraftingError, match=message):
        correct(ws, pid, n, value)
    assert len(ws.load(pid).versions) == 1


def test_a_correction_against_a_stale_table_changes_nothing(project):
    ws, pid = project
    n = _n(ws, pid, "11起")
    with pytest.raises(DraftingError, match="请刷新事实表"):
        correct(ws, pid, n, "12起", expect="13起")
    assert len(ws.load(pid).versions) == 1


def test_a_placeholder_cannot_be_confirmed_only_filled(project):
    ws, pid = project
    with pytest.raises(DraftingError, match="待补内容，不能确认"):
        confirm(ws, pid, [_n(ws, pid, "〔待补：分管副县长姓名〕")])


def test_a_locked_sentence_using_the_fact_is_locked_with_the_new_value(project):
    ws, pid = project
    ws.lock(pid, FACT_SENTENCE)
    result = correct(ws, pid, _n(ws, pid, "11起"), "12起")
    assert ws.locks(pid) == [FACT_SENTENCE.replace("11起", "12起")] == result.locks


# --- revisions never change a confirmed fact -----------------------------------------------------------------


def test_keep_confirmed_puts_the_value_back_in_place_or_the_sentence_back_whole():
    old = "今年以来，全县发生生产安全事故12起，死亡3人。\n排查隐患4300余处。"
    changed = "今年以来，全县发生生产安全事故11起，死亡3人，形势严峻。\n排查隐患4300余处。"
    assert keep_confirmed(old, changed, ["12起"]) == changed.replace("11起", "12起")
    spelled = "今年以来，全县发生生产安全事故十余起，形势严峻。\n排查隐患4300余处。"
    assert keep_confirmed(old, spelled, ["12起"]).splitlines()[0] == "今年以来，全县发生生产安全事故12起，死亡3人。"
    dropped = "排查隐患4300余处，成效明显。"
    assert "12起" in keep_confirmed(old, dropped, ["12起"])
    assert keep_confirmed(old, changed, []) == changed  # nothing confirmed: the rewrite stands


def test_a_slow_round_keeps_a_confirmed_fact_the_model_rewrote(project):
    ws, pid = project
    correct(ws, pid, _n(ws, pid, "11起"), "12起")
    comment = {"paragraph": 4, "quote": "今年以来", "comment": "形势分析要更具体"}
    llm = RoutedFakeChat(
        routes={REVIEW: [json.dumps({"comments": [comment]}, ensure_ascii=False)], REWRITE: [SLOW_REWRITE]}
    )
    version = run_revision(ws, pid, llm=llm, mode=RevisionMode.SLOW, accept_all=True)
    text = version.draft.sections[1].text
    assert "形势依然严峻复杂" in text and "成效明显" in text  # the rewrite was taken ...
    assert "12起" in text and "11起" not in text  # ... but the confirmed figure was not changed
    assert version.draft.body_text.count("12起") == 2
    assert any(REWRITE in c["prompt"] for c in llm.calls)


def test_without_confirmation_the_same_round_takes_the_models_figure(project):
    ws, pid = project
    comment = {"paragraph": 4, "quote": "今年以来", "comment": "形势分析要更具体"}
    draft = ws.load(pid).versions[-1].draft
    draft, _ = apply_correction(draft, "11起", "12起")  # the same text, but nobody confirmed it
    ws.add_version(pid, Version(number=2, draft=draft.model_copy(update={"version": 2}), mode=RevisionMode.URGENT))
    llm = RoutedFakeChat(
        routes={REVIEW: [json.dumps({"comments": [comment]}, ensure_ascii=False)], REWRITE: [SLOW_REWRITE]}
    )
    version = run_revision(ws, pid, llm=llm, mode=RevisionMode.SLOW, accept_all=True)
    assert "11起" in version.draft.sections[1].text


def test_shortening_keeps_a_confirmed_fact(project):
    from drafting.ui.actions import quick_rewrite

    ws, pid = project
    correct(ws, pid, _n(ws, pid, "11起"), "12起")
    version = quick_rewrite(ws, pid, 1, "shorten", RoutedFakeChat(routes={REWRITE: [SHORT_REWRITE]}), length=40)
    text = version.draft.sections[1].text
    assert "形势严峻" in text and "12起" in text and "11起" not in text
    # The same shortening on the plain stage function, without the confirmation, changes the figure.
    plain = ws.load(pid).versions[1].draft.model_copy(update={"brief": ledger_draft().brief})
    v = rewrite_section(
        plain,
        1,
        instruction_for("shorten", length=40),
        RoutedFakeChat(routes={REWRITE: [SHORT_REWRITE]}),
        [],
        budget=40,
    )
    assert "11起" in v.draft.sections[1].text


def test_reviewers_are_not_told_a_confirmed_fact_is_unsourced(project):
    from drafting.ui.actions import collect_comments

    ws, pid = project
    llm = RoutedFakeChat(routes={REVIEW: ['{"comments": []}']})
    collect_comments(ws, pid, llm)
    flagged = [c for c in llm.calls if "来源不明的数据或名称：“1200人次”" in c["prompt"]]
    assert flagged  # before: the program's findings name it
    confirm(ws, pid, [_n(ws, pid, "1200人次")])
    llm = RoutedFakeChat(routes={REVIEW: ['{"comments": []}']})
    collect_comments(ws, pid, llm)
    assert llm.calls and not any("“1200人次”" in c["prompt"] for c in llm.calls)


# --- the gate and the 送审稿 treat confirmed facts as sourced ------------------------------------------------


def test_gate_keeps_a_confirmed_fact_it_would_otherwise_replace():
    draft = ledger_draft()
    unconfirmed = repair_draft(draft, []).draft.body_text
    assert "1200人次" not in unconfirmed and "〔待补" in unconfirmed
    kept = repair_draft(with_confirmed(draft, [ConfirmedFact(value="1200人次")]), []).draft.body_text
    assert "全年培训1200人次" in kept
    text = "\n".join([draft.title, draft.body_text])
    flagged = [
        d.text for d in find_defects(text, brief=draft.brief, passages=[]) if d.kind is DefectKind.UNSOURCED_FACT
    ]
    assert "1200人次" in flagged
    sourced = with_confirmed(draft, [ConfirmedFact(value="1200人次")]).brief
    assert "1200人次" not in [d.text for d in find_defects(text, brief=sourced, passages=[])]


def test_review_copy_does_not_ask_to_check_a_confirmed_figure():
    draft = ledger_draft()
    assert "1200人次" in unverified_numbers(draft)
    confirmed = with_confirmed(draft, [ConfirmedFact(value="1200人次")])
    assert "1200人次" not in unverified_numbers(confirmed)
    doc = Document(io.BytesIO(export_docx(confirmed, kind=ExportKind.REVIEW)))
    assert not any("1200" in c.text for c in doc.comments)
    doc = Document(io.BytesIO(export_docx(draft, kind=ExportKind.REVIEW)))
    assert any("1200" in c.text and "需核实" in c.text for c in doc.comments)


# --- the command line ---------------------------------------------------------------------------------------


def test_facts_on_the_command_line_lists_confirms_and_corrects(capsys):
    from drafting import config
    from drafting.cli import main

    ws = Workspace(config.get_settings().workspace_path)  # the CLI's own workspace
    ws_pid = ws.create_project(ledger_draft().brief)
    ws.add_version(ws_pid, Version(number=1, draft=ledger_draft(), mode=RevisionMode.URGENT))
    assert main(["facts", ws_pid]) == 0
    out = capsys.readouterr().out
    assert "[事实表] 第1稿：共" in out and "待核实" in out
    assert "[待核实] 数字“11起”（2处，第4段、第7段）出处：任务书·本地情况和数据" in out
    assert "待补“〔待补：分管副县长姓名〕”" in out and "来源不明" not in out.split("\n")[0]
    n = _n(ws, ws_pid, "11起")
    assert main(["facts", ws_pid, "--set", str(n), "12起"]) == 0
    out = capsys.readouterr().out
    assert "[改正] 第2稿：“11起”改为“12起”，共2处；已确认。" in out
    assert "[已确认] 数字“12起”（2处，第4段、第7段）出处：撰稿人改定（原为“11起”）" in out
    assert main(["facts", ws_pid, "--confirm", str(_n(ws, ws_pid, "1200人次")), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["confirmed"][0]["text"] == "1200人次"
    entries = {e["text"]: e for e in data["ledger"]["entries"]}
    assert entries["1200人次"]["status"] == "confirmed" and entries["1200人次"]["status_label"] == "已确认"
    assert entries["12起"]["origin_label"] == "撰稿人确认" and entries["12起"]["kind_label"] == "数字"
    assert data["ledger"]["version"] == 2
    # Bad input: a clear Chinese message and exit code 2, never a traceback.
    assert main(["facts", ws_pid, "--set", "abc", "12起"]) == 2
    assert "编号应是事实表里的序号" in capsys.readouterr().err
    assert main(["facts", ws_pid, "--set", "999", "12起"]) == 2
    assert "没有第999项" in capsys.readouterr().err
    assert main(["facts", "nope"]) == 2
    assert "找不到文稿项目" in capsys.readouterr().err


# --- the page -----------------------------------------------------------------------------------------------


def test_page_shows_the_ledger_fills_a_placeholder_and_confirms_a_figure(models) -> None:  # noqa: F811
    from drafting import config
    from tests.test_app import drafted_project, fresh, texts

    at = fresh()
    pid = drafted_project(at)
    ws = Workspace(config.get_settings().workspace_path)
    body = next(i for i, s in enumerate(ws.load(pid).versions[0].draft.sections) if s.kind == "body")
    at.toggle(key="edit_on").set_value(True).run()
    at.text_area(key=f"edit_{pid}_1_{body}").input("今年排查隐患4321处，整改完成率〔待补：整改完成率〕。").run()
    at.button(key="edit_save").click().run()
    at.toggle(key="edit_on").set_value(False).run()
    assert "事实核对" in texts(at)
    table = at.dataframe[-1].value
    assert list(table.columns) == ["编号", "状态", "类别", "内容", "出处", "位置", "原句"]
    gap = table[table["内容"] == "〔待补：整改完成率〕"].iloc[0]
    assert gap["类别"] == "待补" and gap["状态"] == "待核实"
    pick = at.selectbox(key="ledger_pick_2")
    pick.set_value(next(o for o in pick.options if "〔待补：整改完成率〕" in o)).run()
    at.text_input(key=f"ledger_value_2_{gap['编号']}").input("96.5%").run()
    at.button(key="ledger_set").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    saved = ws.load(pid)
    assert [v.number for v in saved.versions] == [1, 2, 3]
    assert "整改完成率96.5%。" in saved.versions[-1].draft.body_text
    assert "共 1 处，形成第3稿" in texts(at)
    table = at.dataframe[-1].value
    assert table[table["内容"] == "96.5%"].iloc[0]["状态"] == "已确认"
    pick = at.selectbox(key="ledger_pick_3")
    pick.set_value(next(o for o in pick.options if "“4321处”" in o)).run()
    at.button(key="ledger_confirm").click().run()
    assert not at.error, [e.value for e in at.error]
    assert {f.value for f in ws.load(pid).facts} == {"96.5%", "4321处"}
    assert len(ws.load(pid).versions) == 3  # confirming makes no new version


def test_after_drafting_the_cli_points_to_the_ledger_and_the_json_carries_it(
    fake_world,  # noqa: F811
    tmp_path,
    capsys,
    monkeypatch,
):
    import drafting.writing.pipeline
    from drafting import config
    from drafting.cli import main

    real = drafting.writing.pipeline.run_draft

    def with_facts(*args, **kwargs):  # the draft as the gate leaves it: a gap and a figure of the writer's
        run = real(*args, **kwargs)
        sections = list(run.draft.sections)
        extra = "\n由〔待补：分管副县长姓名〕牵头，今年全县发生事故11起。"
        sections[-1] = sections[-1].model_copy(update={"text": sections[-1].text + extra})
        run.draft = run.draft.model_copy(update={"sections": sections})
        return run

    monkeypatch.setattr(drafting.writing.pipeline, "run_draft", with_facts)
    js = tmp_path / "x.json"
    request = "为县长起草在全县安全生产工作会议上的讲话，约1000字，今年全县发生事故11起"
    assert main(["draft", "--request", request, "--json", str(js), "--no-review"]) == 0
    err = capsys.readouterr().err
    pid = Workspace(config.get_settings().workspace_path).list_projects()[0].id
    facts = json.loads(js.read_text(encoding="utf-8"))["facts"]
    # The 急稿 adds its own gaps (a local fact per part, the closing's deadline); the planted two come last.
    n = len(facts)
    assert f"[事实表] 共{n}项，待核实{n}项（数字、日期、人名、地名、单位、待补）：drafting facts {pid}" in err
    assert [(f["text"], f["origin_label"], f["source"]) for f in facts][-2:] == [
        ("〔待补：分管副县长姓名〕", "待补", "待补：请填写"),
        ("11起", "任务书", "任务书·领导交代"),
    ]
