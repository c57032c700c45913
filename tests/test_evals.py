"""The eval harness: scorers pinned to exact values, and the runner end to end on fake models."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from drafting.domain import (
    Brief,
    Citation,
    Draft,
    DraftSection,
    Outline,
    OutlineSection,
    Passage,
)
from evals import report, scorers, systems
from evals.run import DEFAULT_CASES, Case, load_cases, main, run_eval

CRITERIA = ["通天气", "接地气", "聚人气", "溢才气", "显霸气", "动之以情", "晓之以理", "孚之以威"]
FILLER = "我们要坚持问题导向，把各项措施落到实处，让群众看到实实在在的变化"


def _prose(topic: str, chars: int) -> str:
    """About ``chars`` Chinese characters of plain prose that mentions ``topic``."""
    out = f"{topic}，是当前的重点工作。"
    i = 0
    while len(re.findall(r"[\u4e00-\u9fff]", out)) < chars:
        i += 1
        out += f"{FILLER}第{i}条。"
    return out


class ScriptedChatModel(BaseChatModel):
    """Answers by prompt kind: JSON for outline/review/comments, prose for sections, a full text for the baseline.

    Every user prompt is recorded in ``prompts`` so tests can assert what the model was asked.
    """

    prompts: list[str] = Field(default_factory=list)
    fail_on: str = ""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        prompt = "\n".join(str(m.content) for m in messages)
        self.prompts.append(prompt)
        text = "这不是 JSON" if self.fail_on and self.fail_on in prompt else self._answer(prompt)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    @staticmethod
    def _key_points(prompt: str) -> list[str]:
        m = re.search(r"必须讲到的要点：(.+)", prompt)
        return m.group(1).split("；") if m else ["重点工作"]

    def _answer(self, prompt: str) -> str:
        if "按上面 8 项标准逐项审阅" in prompt:
            return json.dumps(
                {"scores": [{"criterion": c, "score": 7, "evidence": "", "suggestion": "更具体"} for c in CRITERIA]},
                ensure_ascii=False,
            )
        if '{"comments"' in prompt:
            return json.dumps(
                {"comments": [{"paragraph": 2, "quote": "", "comment": "补充具体措施"}]}, ensure_ascii=False
            )
        if '{"title"' in prompt and "sections" in prompt:
            m = re.search(r"(?:分|恰好)\s*(\d+)\s*(?:部分|个)", prompt)
            n = int(m.group(1)) if m else 3
            kps = self._key_points(prompt)
            sections = [
                {"heading": kp[:20], "purpose": kp, "points": [kp], "principles": ["接地气"], "refs": [1]}
                for kp in kps[:n]
            ]
            return json.dumps({"title": "测试文稿", "sections": sections}, ensure_ascii=False)
        if "请一次写出全文" in prompt:
            kps = self._key_points(prompt)
            parts = ["一次成稿的标题", "同志们：今天召开会议，部署有关工作。"]
            parts += [f"{'一二三'[i]}、抓好第{i + 1}项工作\n{_prose('做好工作', 120)}" for i in range(2)]
            return "\n".join(parts) + f"\n{kps[0]}还要继续加强。"
        if "请输出修改后的这一部分正文" in prompt:
            current = prompt.split("【这一部分现在的文字】")[1].split("【修改意见】")[0].strip()
            return current + "\n按照意见补充了具体措施，明确了责任单位和完成时限。"
        m = re.search(r"现在只写“(.+?)”这一部分的正文，约 (\d+) 字", prompt)
        if m:
            ref = re.search(r"\[(\d+)\] 来源：.*\n「(.{24})", prompt)
            cited = f"正如材料所说，{ref.group(2)}[{ref.group(1)}]。" if ref else ""
            return cited + _prose(m.group(1), int(m.group(2)) - 40)
        m = re.search(r"请写全文的(开头|结尾)，约 (\d+) 字", prompt)
        if m:
            return _prose("同志们", int(m.group(2)))
        return _prose("继续补充", 60)


@pytest.fixture
def store(tmp_path: Path, fake_embeddings: Any) -> Any:
    from drafting.config import get_settings
    from drafting.ingest import ingest_bundled_corpus
    from drafting.store import open_store

    st = open_store(get_settings().replace(data_dir=tmp_path / "evalstore"), embeddings=fake_embeddings)
    ingest_bundled_corpus(st)
    return st


def _brief(**kw: Any) -> Brief:
    base = {
        "title": "在全县安全生产会议上的讲话",
        "genre": "讲话稿",
        "length": 600,
        "key_points": ["隐患排查全覆盖", "压实企业主体责任", "建立整改台账"],
    }
    return Brief.model_validate({**base, **kw})


def _draft(
    sections: list[tuple[str, str]], *, brief: Brief | None = None, citations: list[Citation] | None = None
) -> Draft:
    brief = brief or _brief()
    outline = Outline(title="t", sections=[OutlineSection(heading=h, kind="body") for h, _ in sections])
    secs = [DraftSection(heading=f"{'一二三四五'[i]}、{h}", kind="body", text=t) for i, (h, t) in enumerate(sections)]
    return Draft(title="t", brief=brief, outline=outline, sections=secs, citations=citations or [])


INTACT = [
    ("全面开展隐患排查", "隐患排查全覆盖，一家不漏。"),
    ("压实企业主体责任", "压实企业主体责任，层层签订责任书。"),
    ("建立整改台账销号", "建立整改台账，限期整改逐项销号。"),
]


# -- scorers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("actual", "target", "expected"),
    [
        (1000, 1000, 100.0),
        (1300, 1000, 90.0),  # over by 30%: 1 - 0.3/3
        (2500, 1000, 50.0),  # over by 150%: 1 - 1.5/3
        (4000, 1000, 0.0),
        (6000, 1000, 0.0),  # clamped at 0
        (800, 1000, 87.5),  # under: 1 - (1.25 - 1)/2
        (500, 1000, 50.0),  # half: 1 - (2 - 1)/2
        (250, 1000, 0.0),  # clamped at 0
        (0, 1000, 0.0),
    ],
)
def test_length_score_is_longbench_write_formula(actual: int, target: int, expected: float) -> None:
    assert scorers.length_score(actual, target) == pytest.approx(expected)


def test_length_score_penalises_shortfall_more_than_excess() -> None:
    assert scorers.length_score(1250, 1000) > scorers.length_score(800, 1000)
    with pytest.raises(ValueError):
        scorers.length_score(10, 0)


def test_longest_increasing_subsequence() -> None:
    assert scorers.longest_increasing([]) == 0
    assert scorers.longest_increasing([0, 3, 6]) == 3
    assert scorers.longest_increasing([6, 0, 3]) == 2
    assert scorers.longest_increasing([2, 2, 2]) == 1


def test_outline_adherence_counts_present_headings_in_order() -> None:
    outline = _draft(INTACT).outline
    intact = _draft(INTACT)
    assert scorers.outline_adherence(outline, intact.paragraphs) == 1.0
    missing = _draft([INTACT[0], INTACT[2]])
    assert scorers.outline_adherence(outline, missing.paragraphs) == pytest.approx(2 / 3)
    swapped = _draft([INTACT[2], INTACT[0], INTACT[1]])
    assert scorers.outline_adherence(outline, swapped.paragraphs) == pytest.approx(2 / 3)
    # A reworded heading still matches when it keeps most of the wording (bigram overlap >= 0.6).
    reworded = _draft([("全面开展隐患排查工作", "x"), INTACT[1], INTACT[2]])
    assert scorers.outline_adherence(outline, reworded.paragraphs) == 1.0
    unrelated = _draft([("加强组织领导", "x"), ("强化宣传引导", "y"), ("严肃追责问责", "z")])
    assert scorers.outline_adherence(outline, unrelated.paragraphs) == 0.0
    assert scorers.outline_adherence(None, intact.paragraphs) is None


def test_key_point_coverage_share() -> None:
    assert scorers.key_point_coverage(_draft(INTACT), _brief().key_points) == 1.0
    assert scorers.key_point_coverage(_draft(INTACT[:1]), _brief().key_points) == pytest.approx(1 / 3)
    assert scorers.key_point_coverage(_draft(INTACT), []) is None


def _passage(n: int, text: str) -> Citation:
    return Citation(n=n, passage=Passage(chunk_id=f"c{n}", doc_id="d", title="范文", text=text))


def test_citation_grounding_share_of_supported_sentences() -> None:
    source = "全县开展燃气安全隐患排查整治，对餐饮场所实现全覆盖检查。"
    text = "要对餐饮场所实现全覆盖检查[1]。这句话与材料毫不相干[1]。引了一个不存在的材料[2]。没有引用的句子。"
    draft = _draft([("排查", text)], citations=[_passage(1, source)])
    share, n = scorers.citation_grounding(draft)
    assert n == 3
    assert share == pytest.approx(1 / 3)
    # The threshold is the cut: above any possible overlap, nothing is supported.
    assert scorers.citation_grounding(draft, threshold=1.01)[0] == 0.0


def test_a_mark_after_the_full_stop_belongs_to_the_sentence_before() -> None:
    text = "要对餐饮场所实现全覆盖检查。[1]下一句没有引用。"
    draft = _draft([("排查", text)], citations=[_passage(1, "对餐饮场所实现全覆盖检查")])
    assert scorers.cited_sentences(draft) == [("要对餐饮场所实现全覆盖检查。", [1])]
    assert scorers.citation_grounding(draft) == (1.0, 1)


def test_citation_grounding_is_na_without_citations() -> None:
    assert scorers.citation_grounding(_draft(INTACT)) == (None, 0)


def test_violations_count_errors_and_warnings_only() -> None:
    from drafting.review import check_draft

    n_ok, _ = scorers.violations(_draft(INTACT, brief=_brief(length=100)))
    broken = _draft([*INTACT, ("空的部分", "")], brief=_brief(length=100))
    n_broken, rules = scorers.violations(broken)
    assert n_broken > n_ok
    assert "section.empty" in rules
    # Set phrases are an info finding: reported by the checks, not counted as a violation.
    wordy = _draft(
        [*INTACT, ("多措并举", "高度重视，扎实推进，多措并举，狠抓落实，久久为功。")], brief=_brief(length=100)
    )
    assert "style.set_phrases" in {f.rule for f in check_draft(wordy)}
    n_wordy, wordy_rules = scorers.violations(wordy)
    assert "style.set_phrases" not in wordy_rules
    assert n_wordy == sum(1 for f in check_draft(wordy) if f.severity in ("error", "warning"))


def test_judge_scores_reuse_review_with_the_judge_model() -> None:
    judge = ScriptedChatModel()
    out = scorers.judge_scores(_draft(INTACT), judge)
    assert [out[c] for c in CRITERIA] == [7] * 8
    assert out["principles_mean"] == 7.0 and out["stances_mean"] == 7.0
    assert len(judge.prompts) == 1 and "压实企业主体责任" in judge.prompts[0]


def test_parse_baseline_title_opening_and_sections() -> None:
    text = "## 关于安全生产的讲话\n同志们：\n**一、提高认识。**这是第一部分。\n第一段。\n二、压实责任\n第二段。"
    d = systems.parse_baseline(text, _brief())
    assert d.title == "关于安全生产的讲话"
    assert [s.kind for s in d.sections] == ["opening", "body", "body"]
    assert [s.heading for s in d.sections[1:]] == ["一、提高认识", "二、压实责任"]
    assert d.sections[1].text == "这是第一部分。\n第一段。"
    assert systems.parse_baseline("【标题】在动员会上的讲话\n同志们：", _brief()).title == "在动员会上的讲话"
    assert systems.parse_baseline("标题：《关于X的通知》\n正文。", _brief()).title == "关于X的通知"
    no_title = systems.parse_baseline("一、只有正文。\n内容。", _brief())
    assert no_title.title == _brief().title


# -- the runner ---------------------------------------------------------------------------------
def _cases() -> list[Case]:
    return load_cases(DEFAULT_CASES)[:2]


def test_bundled_cases_are_valid_and_varied() -> None:
    cases = load_cases(DEFAULT_CASES)
    assert len(cases) >= 20
    assert len({c.brief.genre for c in cases}) >= 6
    for c in cases:
        assert 500 <= c.brief.length <= 1500
        assert 3 <= len(c.brief.key_points) <= 5


def test_run_eval_end_to_end(tmp_path: Path, store: Any) -> None:
    llm, judge = ScriptedChatModel(), ScriptedChatModel()
    out = tmp_path / "run"
    rows = run_eval(
        _cases(),
        ["baseline", "urgent", "slow"],
        llm=llm,
        judge=judge,
        store=store,
        out_dir=out,
        meta={"writer_model": "fake"},
        retry_wait=0,
    )
    assert [(r["case_id"], r["system"]) for r in rows] == [
        (c.id, s) for c in _cases() for s in ("urgent", "slow", "baseline")
    ]
    assert all(r["error"] == "" for r in rows)
    by = {(r["case_id"], r["system"]): r for r in rows}
    case = _cases()[0].id
    # Pipeline drafts follow their outline and cite retrieved passages; the baseline cites nothing.
    assert by[case, "urgent"]["adherence"] == 1.0
    assert by[case, "urgent"]["grounding"] is not None and by[case, "urgent"]["cited_sentences"] > 0
    assert by[case, "baseline"]["grounding"] is None
    # The baseline is measured against the pipeline's outline (one heading per key point, two here):
    # its own headings match none, but its last line restates the first key point, so 1 of 2.
    assert by[case, "baseline"]["adherence"] == 0.5
    assert by[case, "urgent"]["coverage"] > by[case, "baseline"]["coverage"]
    assert by[case, "urgent"]["principles_mean"] == 7.0
    # The slow system reuses the urgent draft: one outline call per case, and it costs more.
    assert sum('{"title"' in p for p in llm.prompts) == 2
    assert by[case, "slow"]["calls"] > by[case, "urgent"]["calls"]
    # The baseline was asked once, with the brief but without references.
    baseline_prompts = [p for p in llm.prompts if "请一次写出全文" in p]
    assert len(baseline_prompts) == 2 and "参考材料" not in baseline_prompts[0]
    assert sum("按上面 8 项标准逐项审阅" in p for p in judge.prompts) == 6
    assert not any("按上面 8 项标准逐项审阅" in p for p in llm.prompts)

    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6 and json.loads(lines[0])["system"] == "urgent"
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## 各系统平均值" in md and "| 篇幅得分(0-100) ↑ |" in md and "写作模型：fake" in md
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((out / "drafts").glob("*.json"))) == 6
    # Every draft as text, and the slow system's draft before its round.
    assert len(list((out / "drafts").glob("*.txt"))) == 8 and len(list((out / "drafts").glob("*__before.txt"))) == 2
    assert len(list((out / "passages").glob("*.json"))) == 2


def test_broken_draft_scores_lower_on_adherence_and_coverage(tmp_path: Path, store: Any) -> None:
    case = _cases()[0]
    ctx = systems.CaseContext(llm=ScriptedChatModel(), store=store)
    result = systems.run_urgent(case.brief, ctx)
    intact = result.draft
    body = [i for i, s in enumerate(intact.sections) if s.kind == "body"]
    broken = intact.model_copy(update={"sections": [s for i, s in enumerate(intact.sections) if i != body[0]]})
    outline = result.reference_outline
    assert scorers.outline_adherence(outline, broken.paragraphs) < scorers.outline_adherence(outline, intact.paragraphs)
    kps = case.brief.key_points
    assert scorers.key_point_coverage(broken, kps) < scorers.key_point_coverage(intact, kps)  # type: ignore[operator]


def test_a_failing_case_is_recorded_and_the_run_goes_on(
    tmp_path: Path, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []

    def explode(brief: Brief, ctx: systems.CaseContext) -> systems.SystemOutput:
        attempts.append(brief.genre)
        if brief.genre == "通知":
            raise RuntimeError("模型服务断开")
        return systems.run_baseline(brief, ctx)

    monkeypatch.setitem(systems.SYSTEMS, "baseline", explode)
    rows = run_eval(
        _cases(),
        ["baseline"],
        llm=ScriptedChatModel(),
        judge=None,
        store=store,
        out_dir=tmp_path,
        meta={},
        retry_wait=0,
    )
    assert [bool(r["error"]) for r in rows] == [False, True]
    assert attempts == ["讲话稿", "通知", "通知"]  # the failing case was tried again once
    assert "模型服务断开" in rows[1]["error"]
    assert "## 失败记录" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_a_failing_judge_leaves_the_other_metrics(tmp_path: Path, store: Any) -> None:
    judge = ScriptedChatModel(fail_on="按上面 8 项标准逐项审阅")
    rows = run_eval(
        _cases()[:1], ["baseline"], llm=ScriptedChatModel(), judge=judge, store=store, out_dir=tmp_path, meta={}
    )
    assert rows[0]["judge_error"] and rows[0]["error"] == ""
    assert rows[0]["length_score"] is not None and "principles_mean" not in rows[0]


def test_means_skip_na_and_failures() -> None:
    rows = [
        {"system": "baseline", "case_id": "a", "grounding": None, "length_score": 80.0, "error": ""},
        {"system": "baseline", "case_id": "b", "grounding": None, "length_score": 60.0, "error": ""},
        {"system": "baseline", "case_id": "c", "error": "boom"},
    ]
    m = report.means(rows, ["baseline"])["baseline"]
    assert m["length_score"] == 70.0 and m["grounding"] is None and m["n"] == 2 and m["failed"] == 1
    assert "| 引文支撑率 ↑ | N/A |" in report.render_report(rows, ["baseline"], {})


def test_cli_writes_a_results_folder_with_its_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_embeddings: Any
) -> None:
    import drafting.llm
    import drafting.store

    real_open = drafting.store.open_store
    monkeypatch.setattr(drafting.llm, "get_chat_model", lambda settings=None, **kw: ScriptedChatModel())
    monkeypatch.setattr(drafting.llm, "get_judge_model", lambda settings=None: ScriptedChatModel())
    monkeypatch.setattr(
        drafting.store, "open_store", lambda settings=None, embeddings=None: real_open(settings, fake_embeddings)
    )
    monkeypatch.setenv("DRAFTING_LLM_API_KEY", "sk-secret")
    from drafting.config import get_settings

    get_settings.cache_clear()
    assert main(["--limit", "1", "--systems", "baseline", "--out", str(tmp_path / "results")]) == 0
    (run_dir,) = (tmp_path / "results").iterdir()
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    assert config["case_ids"] == [_cases()[0].id] and config["systems"] == ["baseline"]
    assert config["prompts"]["baseline.oneshot"] == "baseline.oneshot.v1"
    assert config["grounding_threshold"] == scorers.GROUNDING_THRESHOLD
    assert "sk-secret" not in (run_dir / "config.json").read_text(encoding="utf-8")
    assert config["eval_index"].startswith(str(get_settings().data_dir))
    assert {p.name for p in run_dir.iterdir()} >= {"report.md", "results.jsonl", "config.json", "chart.png", "drafts"}
    assert main(["--systems", "nonsense", "--out", str(tmp_path / "results")]) == 2
