"""The eval harness: scorers pinned to exact values, and the runner end to end on fake models."""

from __future__ import annotations

import json
import re
import subprocess
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
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
from evals import previous as prev
from evals import report, scorers, systems
from evals.casefile import select_split
from evals.run import DEFAULT_CASES, USABLE_CASES, Case, case_passages, load_cases, main, run_eval, score_output

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
    from drafting.corpus.ingest import ingest_bundled_corpus
    from drafting.corpus.store import open_store

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
    from drafting.writing.review import check_draft

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
    # Pipeline drafts follow their outline; [n] now marks only borrowed wording, which this fake
    # writer never borrows, so neither system has cited sentences.
    assert by[case, "urgent"]["adherence"] == 1.0
    assert by[case, "baseline"]["grounding"] is None
    # The baseline is measured against the pipeline's outline (one heading per key point, three here):
    # its own headings match none, but its last line restates the first key point, so 1 of 3.
    assert by[case, "baseline"]["adherence"] == pytest.approx(1 / 3)
    assert by[case, "urgent"]["coverage"] > by[case, "baseline"]["coverage"]
    assert by[case, "urgent"]["principles_mean"] == 7.0
    # The slow system reuses the urgent draft (急稿 makes its outline without the model), and costs more.
    assert sum('{"title"' in p for p in llm.prompts) == 0
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
    drafts = [f for f in (out / "drafts").glob("*.json") if not f.name.endswith(".run.json")]
    assert len(drafts) == 6 and len(list((out / "drafts").glob("*__urgent.run.json"))) == 2
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
    import drafting.corpus.store
    import drafting.llm.client

    real_open = drafting.corpus.store.open_store
    monkeypatch.setattr(drafting.llm.client, "get_chat_model", lambda settings=None, **kw: ScriptedChatModel())
    monkeypatch.setattr(drafting.llm.client, "get_judge_model", lambda settings=None: ScriptedChatModel())
    monkeypatch.setattr(
        drafting.corpus.store, "open_store", lambda settings=None, embeddings=None: real_open(settings, fake_embeddings)
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


# -- the usable-draft eval (issue 11 item 4): cases, previous system, defect scorers, report -------------
CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _corpus_docs() -> list[tuple[str, str]]:
    titles = {}
    for manifest in CORPUS.glob("manifest-*.jsonl"):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            titles[Path(entry.get("file") or entry.get("path") or "").stem] = entry["title"]
    return [(titles.get(p.stem, ""), p.read_text(encoding="utf-8")) for p in sorted((CORPUS / "docs").glob("*.txt"))]


def test_usable_cases_load_and_cover_genres_splits_and_material() -> None:
    cases = load_cases(USABLE_CASES)
    assert len(cases) >= 16
    expected = {c.expect_genre[0] for c in cases}
    assert len(expected) >= 9
    assert {c.split for c in cases} == {"tune", "holdout"}
    for split in ("tune", "holdout"):
        part = select_split(cases, split)
        assert len(part) >= len(cases) // 3 and len({c.expect_genre[0] for c in part}) >= 6
    for c in cases:
        assert c.expect_genre and c.topic, c.id
        assert 500 <= c.brief.length <= 1200, c.id
    # Pasted instructions only: the brief (length included) was read from the request.
    requests = [c for c in cases if c.request]
    assert len(requests) >= 3 and all(c.brief.request == c.request for c in requests)
    hero = next(c for c in requests if "调解主任" in c.request)
    assert "先进事迹报告会的演讲稿" in hero.request and hero.brief.length == 800
    # Material: real files whose text is in the brief, with figures the draft should use.
    with_material = [c for c in cases if c.material_files]
    assert len(with_material) >= 4
    for c in with_material:
        for f in c.material_files:
            assert f.is_file() and f.parent.name == "material" and f.suffix == ".txt"
            text = f.read_text(encoding="utf-8")
            assert text in c.brief.material and re.search(r"\d", text)


def test_usable_case_topics_are_mostly_new_to_the_corpus() -> None:
    docs = _corpus_docs()
    assert len(docs) >= 30 and all(title for title, _ in docs)
    cases = load_cases(USABLE_CASES)
    for c in cases:
        assert not any(c.topic in title for title, _ in docs), c.id
    new = [c for c in cases if sum(c.topic in text for _, text in docs) <= 1]
    assert len(new) >= 3 * len(cases) // 4


def test_case_file_errors_are_clear(tmp_path: Path) -> None:
    def load(text: str) -> Any:
        f = tmp_path / "c.yaml"
        f.write_text(text, encoding="utf-8")
        return load_cases(f)

    with pytest.raises(ValueError, match="未知字段"):
        load("- id: a\n  brief: {title: t}\n  spilt: tune\n")
    with pytest.raises(ValueError, match="split"):
        load("- id: a\n  brief: {title: t}\n  split: train\n")
    with pytest.raises(ValueError, match="找不到材料文件"):
        load("- id: a\n  brief: {title: t}\n  material: [material/none.txt]\n")
    with pytest.raises(ValueError, match="只能给一个"):
        load("- id: a\n  brief: {title: t}\n  request: 写个通知\n")
    with pytest.raises(ValueError, match="任务书无效"):
        load("- id: a\n  brief: {title: t, length: 5}\n")
    (tmp_path / "m.txt").write_text("全区共有网格员312名。", encoding="utf-8")
    (case,) = load("- id: a\n  request: 请起草一个通知，约600字\n  material: [m.txt]\n  expect_genre: 通知\n")
    assert case.brief.genre == "通知" and case.brief.length == 600 and case.expect_genre == ("通知",)
    assert case.brief.material == ["全区共有网格员312名。"] and case.material_files == ((tmp_path / "m.txt"),)
    with pytest.raises(ValueError):
        select_split([case], "train")
    assert select_split([case], "all") == [case] and select_split([case], "tune") == []


# A stand-in for drafting.gate (the lead's module): flags figures that a corpus passage has and
# neither the brief nor the material has, and lines in 【】; records what it was asked.
class FakeGate(types.SimpleNamespace):
    def __init__(self) -> None:
        super().__init__(calls=[])

    def find_defects(self, text: str, *, brief: Brief, passages: Sequence[Passage]) -> list[Any]:
        self.calls.append((text, brief, list(passages)))
        own = " ".join([brief.request, brief.facts, *brief.key_points, *brief.material])
        corpus = " ".join(p.text for p in passages if p.origin == "corpus")
        found = []
        for number in sorted(set(re.findall(r"\d+(?:\.\d+)?%?", text))):
            if number in corpus and number not in own:
                found.append(types.SimpleNamespace(kind=types.SimpleNamespace(value="transplanted_fact"), text=number))
        for line in text.splitlines():
            if line.startswith("【"):
                found.append(types.SimpleNamespace(kind="leaked", text=line, detail="标记行"))
        return found


@pytest.fixture
def fake_gate(monkeypatch: pytest.MonkeyPatch) -> FakeGate:
    gate = FakeGate()
    monkeypatch.setattr(scorers, "_gate", lambda: gate)
    return gate


def _corpus_passage(text: str) -> Passage:
    return Passage(chunk_id="x1", doc_id="sa01", title="在全县安全生产工作会议上的讲话", text=text)


def test_placeholders_and_genre_correct() -> None:
    d = _draft([("排查", "去年共排查隐患〔待补：去年排查隐患数〕处，整改〔待补：整改率〕。〔待补〕不算。")])
    assert scorers.placeholders(d) == ["〔待补：去年排查隐患数〕", "〔待补：整改率〕"]
    assert scorers.genre_correct("演讲稿", ("演讲稿", "先进事迹报告")) is True
    assert scorers.genre_correct("报告", ("演讲稿", "先进事迹报告")) is False
    assert scorers.genre_correct("报告", ()) is None


def test_find_defects_uses_the_gate_on_title_and_body(fake_gate: FakeGate) -> None:
    brief = _brief(facts="全县有企业86家")
    d = _draft([("形势", "全县有企业86家，去年发生事故11起。\n【三、组织保障】")], brief=brief)
    passages = [_corpus_passage("全年共发生各类生产安全事故11起、死亡6人")]
    found = scorers.find_defects(d, brief, passages)
    assert found == [
        {"kind": "transplanted_fact", "text": "11", "detail": ""},
        {"kind": "leaked", "text": "【三、组织保障】", "detail": "标记行"},
    ]
    text, asked_brief, asked_passages = fake_gate.calls[0]
    assert text.splitlines()[0] == d.title and "一、形势" in text and asked_brief is brief
    assert asked_passages == passages
    counts = scorers.defect_counts(found)
    assert counts["transplanted_fact"] == 1 and counts["leaked"] == 1 and counts["fragment"] == 0
    assert set(scorers.DEFECT_KINDS) <= set(counts)


def test_no_gate_means_no_defect_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scorers, "_gate", lambda: None)
    assert scorers.find_defects(_draft(INTACT), _brief(), []) is None
    row = score_output(systems.SystemOutput(draft=_draft(INTACT), reference_outline=None), None)
    assert row["defects"] is None and row["defects_total"] is None and row["defect_list"] == []


def test_a_gate_from_another_checkout_does_not_count(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib

    elsewhere = types.ModuleType("drafting.checks.gate")
    elsewhere.__file__ = str(tmp_path / "other" / "drafting" / "checks" / "gate.py")
    monkeypatch.setattr(importlib, "import_module", lambda name: elsewhere)
    assert scorers._gate() is None
    import drafting

    here = types.ModuleType("drafting.checks.gate")
    here.__file__ = str(Path(drafting.__file__).parent / "checks" / "gate.py")
    monkeypatch.setattr(importlib, "import_module", lambda name: here)
    assert scorers._gate() is here


def test_principle_coverage_reads_principle_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    from drafting.domain import Criterion

    monkeypatch.setattr(scorers, "_evidence_fn", lambda: None)
    assert scorers.principle_coverage(_draft(INTACT)) == (None, [])
    as_map = {Criterion.TONGTIANQI: ["贯彻条例。"], "接地气": ["全县86家。"], "聚人气": [], "溢才气": ""}
    monkeypatch.setattr(scorers, "_evidence_fn", lambda: lambda draft: as_map)
    assert scorers.principle_coverage(_draft(INTACT)) == (2, ["通天气", "接地气"])
    items = [
        types.SimpleNamespace(criterion=Criterion.XIANBAQI, sentences=["6月底前完成。"]),
        types.SimpleNamespace(criterion=Criterion.YICAIQI, sentences=[]),
    ]
    monkeypatch.setattr(scorers, "_evidence_fn", lambda: lambda draft: items)
    assert scorers.principle_coverage(_draft(INTACT)) == (1, ["显霸气"])

    def broken(draft: Draft) -> Any:
        raise RuntimeError("bank file unreadable")

    monkeypatch.setattr(scorers, "_evidence_fn", lambda: broken)
    assert scorers.principle_coverage(_draft(INTACT)) == (None, [])  # a metric failure never stops the run


def test_principle_coverage_uses_the_real_review_module() -> None:
    """The last usable run showed N/A on every system: ``from drafting import review`` is the package's
    re-exported review() function, which has no principle_evidence. The module must be found by name."""
    assert scorers.evidence_available()
    firm = _draft(
        [
            ("压实责任", "同志们，各乡镇必须在6月底前完成隐患整改，逾期的严肃问责。"),
            ("落实部署", "我们要认真贯彻省委、省政府关于安全生产的部署要求，把工作落到基层一线。"),
        ]
    )
    count, found = scorers.principle_coverage(firm)
    assert count is not None and {"通天气", "接地气", "聚人气", "显霸气"} <= set(found)
    # Headings never count: a draft whose only firm or policy wording is in its headings has none of it.
    headings_only = _draft([("必须确保6月底前完成整改", "要把这件事办好。"), ("贯彻省委部署要求", "做好工作。")])
    count, found = scorers.principle_coverage(headings_only)
    assert count is not None and "显霸气" not in found and "通天气" not in found


def test_leaked_brief_fields_and_reference_blocks() -> None:
    leaky = _draft(
        [
            (
                "形势",
                "文种：讲话稿 / 标题：在全县会议上的讲话 / 篇幅：约1500字\n篇幅：约1500字\n"
                "[5] 来源：《在全县安全生产工作会议上的讲话》 一、形势\n「去年，全县上下……」\n"
                "要把标题：写清楚的事放在心上。今年的工作场合很多。",
            )
        ]
    )
    assert scorers.leaked_brief_fields(leaky) == [
        "文种：讲话稿 / 标题：在全县会议上的讲话 / 篇幅：约1500字",
        "篇幅：约1500字",
    ]
    assert scorers.leaked_reference_blocks(leaky) == ["[5] 来源："]
    clean = _draft(INTACT)
    assert scorers.leaked_brief_fields(clean) == [] and scorers.leaked_reference_blocks(clean) == []


def test_case_passages_are_retrieval_plus_all_material(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    material = [f"{i}号材料：全区共有网格员{300 + i}名，配备手持终端。" * 20 for i in range(8)]
    brief = _brief(material=material)
    passages = case_passages(brief, store)
    from drafting.writing.references import material_passages

    mats = material_passages(material)
    assert len(mats) > 6  # more than the pipeline hands the model: all of it counts here
    assert [p for p in passages if p.origin == "material"] == mats
    assert any(p.origin == "corpus" for p in passages)
    # Passages under the pipeline's relevance floor still count: another system may have used them.
    import drafting.corpus.retrieve

    monkeypatch.setattr(drafting.corpus.retrieve, "relevant_passages", lambda query, found, **kw: [])
    from drafting.writing.pipeline import gather_passages

    assert not [p for p in gather_passages(brief, store) if p.origin == "corpus"]
    floored = case_passages(brief, store)
    raw = drafting.corpus.retrieve.retrieve(brief.query_text(), store, k=6)
    assert raw and {p.chunk_id for p in floored if p.origin == "corpus"} == {p.chunk_id for p in raw}
    assert len({p.chunk_id for p in floored}) == len(floored)


def test_slow_rows_compare_before_and_after(fake_gate: FakeGate) -> None:
    before = _draft([("形势", "全县有企业86家。")], brief=_brief(facts="全县有企业86家"))
    after = _draft([("形势", "全县有企业86家，去年发生事故11起。")], brief=before.brief)
    out = systems.SystemOutput(draft=after, reference_outline=None, before=before)
    passages = [_corpus_passage("全年共发生各类生产安全事故11起")]
    row = score_output(out, None, passages=passages)
    assert row["defects_total_before"] == 0 and row["defects_total"] == 1 and row["worse"] is True
    assert row["chars_before"] == before.char_count and "defect_list_before" not in row
    same = score_output(systems.SystemOutput(draft=before, reference_outline=None, before=before), None)
    assert same["worse"] is False


# -- the previous system, with a fake command runner ------------------------------------------------------
OLD_GENRES = ["讲话稿", "工作报告", "汇报材料", "通知", "总结"]


def _git_repo(path: Path) -> Path:
    """A repository with two commits: drafting/__init__.py says V = 1, then V = 2."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    (path / "drafting").mkdir(parents=True)
    subprocess.run([*git, "init", "-q"], cwd=path, check=True)
    for v in (1, 2):
        (path / "drafting" / "__init__.py").write_text(f"V = {v}\n", encoding="utf-8")
        subprocess.run([*git, "add", "."], cwd=path, check=True)
        subprocess.run([*git, "commit", "-qm", f"v{v}"], cwd=path, check=True)
    return path


class FakeOldCli:
    """Answers the commands PreviousPipeline runs the way an older `python -m drafting` would."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str], Path]] = []

    def __call__(
        self, cmd: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        cmd = list(cmd)
        self.calls.append((cmd, dict(env), cwd))
        done = lambda out="", err="", rc=0: subprocess.CompletedProcess(cmd, rc, out, err)  # noqa: E731
        if cmd[1] == "-c":
            return done(f"{env['PYTHONPATH']}/drafting/__init__.py\n")
        if "--help" in cmd:
            return done("usage: drafting draft [--request R] [--material ...] [--no-review] [--json JSON]")
        if "index-corpus" in cmd:
            return done(err="[corpus] 范文库：新增 36 篇")
        out = Path(cmd[cmd.index("--json") + 1])
        if "--request" in cmd:
            brief = {"request": cmd[cmd.index("--request") + 1], "genre": "报告", "length": 800}
        else:
            brief = yaml.safe_load(Path(cmd[4]).read_text(encoding="utf-8"))
            if brief["genre"] not in OLD_GENRES:
                return done(err=f"错误：不支持的文种“{brief['genre']}”，可选：{'、'.join(OLD_GENRES)}\n", rc=2)
        payload = {
            "brief": {**brief, "retired_field": "旧版本才有的字段"},
            "outline": {"title": "旧提纲", "sections": [{"heading": "抓好落实", "kind": "body", "old": 1}]},
            "draft": {
                "title": "旧版本写的稿子",
                "sections": [
                    {"heading": "", "kind": "opening", "text": "同志们："},
                    {"heading": "一、抓好落实", "text": "去年发生事故11起。\n【二、保障】"},
                ],
                "citations": [{"n": 1, "bad": "schema"}],
            },
            "passages": [{"chunk_id": "c", "doc_id": "d", "title": "范文", "text": "事故11起", "extra": 1}],
            "costs": {"calls": 7, "tokens_in": 900, "tokens_out": 300, "seconds": 12.5},
        }
        out.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        return done(err="[完成]")


def _previous(tmp_path: Path, runner: Any) -> prev.PreviousPipeline:
    from drafting.config import get_settings

    settings = get_settings().replace(llm_base_url="http://127.0.0.1:9/v1", llm_model="m")
    return prev.PreviousPipeline(
        "HEAD^", settings, repo=_git_repo(tmp_path / "repo"), runner=runner, workdir=tmp_path / "prev"
    )


def test_previous_extracts_the_commit_indexes_once_and_drafts_through_its_cli(tmp_path: Path) -> None:
    cli = FakeOldCli()
    pipeline = _previous(tmp_path, cli)
    first = subprocess.run(["git", "rev-parse", "HEAD^"], cwd=tmp_path / "repo", capture_output=True, text=True)
    assert pipeline.commit == first.stdout.strip()
    material = tmp_path / "m.txt"
    material.write_text("全县有企业86家。", encoding="utf-8")
    draft, passages, note = pipeline.draft(_brief(genre="讲话稿"), material_files=[material], name="a")
    assert (pipeline.tree / "drafting" / "__init__.py").read_text(encoding="utf-8") == "V = 1\n"
    draft2, _, _ = pipeline.draft(_brief(), request="请起草一篇讲话，约800字", name="b")
    commands = [c for c, _, _ in cli.calls]
    assert sum("index-corpus" in c for c in commands) == 1  # indexed once for the run
    drafts = [c for c in commands if "draft" in c and "--help" not in c]
    assert (
        drafts[0][1:5] == ["-m", "drafting", "draft", drafts[0][4]]
        and drafts[0][4].endswith("brief.yaml")
        and drafts[0][drafts[0].index("--material") + 1] == str(material)
    )
    assert "--no-review" in drafts[0] and drafts[0][drafts[0].index("--mode") + 1] == "urgent"
    assert drafts[1][4:6] == ["--request", "请起草一篇讲话，约800字"]
    for _, env, cwd in cli.calls:
        assert env["PYTHONPATH"] == str(pipeline.tree) and cwd == pipeline.tree
        assert env["DRAFTING_DATA_DIR"] == str(pipeline.data_dir)
        assert env["DRAFTING_LLM_BASE_URL"] == "http://127.0.0.1:9/v1" and env["DRAFTING_LLM_MODEL"] == "m"
    # Its JSON is read whatever fields it has or lacks.
    assert (
        draft.title == "旧版本写的稿子"
        and draft.body_text == "同志们：\n一、抓好落实\n去年发生事故11起。\n【二、保障】"
    )
    assert draft.brief.genre == "讲话稿" and draft2.brief.genre == "报告" and draft.citations == []
    assert draft.costs.calls == 7 and draft.costs.seconds == 12.5 and passages[0].text == "事故11起"
    assert note == ""
    root = pipeline.tree.parent
    pipeline.close()
    assert not root.exists()


def test_previous_retries_a_genre_it_does_not_know_with_the_closest_one(tmp_path: Path) -> None:
    cli = FakeOldCli()
    pipeline = _previous(tmp_path, cli)
    draft, _, note = pipeline.draft(_brief(genre="述职报告"), name="a")
    assert draft.brief.genre == "工作报告" and "述职报告" in note and "工作报告" in note
    pipeline.close()


def test_previous_failures_are_clear(tmp_path: Path) -> None:
    def broken(cmd: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float) -> Any:
        if "-c" in cmd:
            return subprocess.CompletedProcess(list(cmd), 0, "/usr/lib/python3/site-packages/drafting/__init__.py", "")
        return subprocess.CompletedProcess(list(cmd), 0, "", "")

    pipeline = _previous(tmp_path, broken)
    with pytest.raises(RuntimeError, match="没有从"):
        pipeline.draft(_brief())
    with pytest.raises(RuntimeError, match="没有从"):  # remembered: not extracted again per case
        pipeline.draft(_brief())
    with pytest.raises(ValueError, match="找不到提交"):
        prev.PreviousPipeline("no-such-rev", pipeline.settings, repo=tmp_path / "repo")


def test_run_eval_with_previous_and_gate(tmp_path: Path, store: Any, fake_gate: FakeGate) -> None:
    cases = [c for c in load_cases(USABLE_CASES) if c.id in ("hero-mediator-speech", "pledge-consumption-aid")]
    cli = FakeOldCli()
    out = tmp_path / "run"
    rows = run_eval(
        cases,
        ["previous", "baseline", "slow"],
        llm=ScriptedChatModel(),
        judge=None,
        store=store,
        out_dir=out,
        meta={"reproduce": "python -m evals.run --cases evals/cases/usable.yaml"},
        retry_wait=0,
        previous=_previous(tmp_path, cli),
    )
    assert [r["system"] for r in rows] == ["slow", "baseline", "previous"] * 2 and not any(r["error"] for r in rows)
    by = {(r["case_id"], r["system"]): r for r in rows}
    # Every system's draft of a case was checked against the same brief and passages.
    asked = [(brief, [p.chunk_id for p in passages]) for _, brief, passages in fake_gate.calls]
    hero = [a for a in asked if a[0].request.startswith("请撰写")]
    assert len(hero) == 4 and all(a == hero[0] for a in hero)  # slow before, slow after, baseline, previous
    assert any(cid.startswith("material-") for cid in hero[0][1])
    old = by["hero-mediator-speech", "previous"]
    assert old["draft_genre"] == "报告" and old["genre_correct"] is False
    assert (
        old["defects"]["leaked"] == 1
        and {"kind": "leaked", "text": "【二、保障】", "detail": "标记行"} in old["defect_list"]
    )
    assert by["pledge-consumption-aid", "previous"]["note"].endswith("改用“讲话稿”")
    assert by["pledge-consumption-aid", "baseline"]["genre_correct"] is True
    assert "defects_total_before" in by["pledge-consumption-aid", "slow"]
    saved = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert saved[2]["defect_list"] == old["defect_list"]
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## 缺陷计数" in md and "| 泄漏的提示词/提纲/任务书文字（leaked） |" in md
    assert "## 慢稿一轮：第2稿比第1稿差的次数" in md and "python -m evals.run --cases evals/cases/usable.yaml" in md
    assert "五气三情分项平均" not in md  # no judge this run
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_usable_split_previous_and_judge_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_embeddings: Any
) -> None:
    import drafting.corpus.store
    import drafting.llm.client
    import evals.run

    real_open = drafting.corpus.store.open_store
    judges: list[ScriptedChatModel] = []

    def judge_model(settings: Any = None) -> ScriptedChatModel:
        judges.append(ScriptedChatModel())
        return judges[-1]

    monkeypatch.setattr(drafting.llm.client, "get_chat_model", lambda settings=None, **kw: ScriptedChatModel())
    monkeypatch.setattr(drafting.llm.client, "get_judge_model", judge_model)
    monkeypatch.setattr(
        drafting.corpus.store, "open_store", lambda settings=None, embeddings=None: real_open(settings, fake_embeddings)
    )
    made: list[prev.PreviousPipeline] = []
    repo = _git_repo(tmp_path / "repo")

    def previous(rev: str, settings: Any) -> prev.PreviousPipeline:
        made.append(prev.PreviousPipeline(rev, settings, repo=repo, runner=FakeOldCli(), workdir=tmp_path / "prev"))
        return made[-1]

    monkeypatch.setattr(evals.run, "PreviousPipeline", previous)
    argv = ["--cases", str(USABLE_CASES), "--split", "holdout", "--limit", "1", "--systems", "baseline,previous"]
    assert main([*argv, "--out", str(tmp_path / "results")]) == 0
    (run_dir,) = (tmp_path / "results").iterdir()
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    first_holdout = select_split(load_cases(USABLE_CASES), "holdout")[0].id
    assert config["case_ids"] == [first_holdout] and config["split"] == "holdout" and config["judge"] is False
    assert config["previous_commit"] == made[0].commit
    assert made[0]._root is None and not list((tmp_path / "prev").iterdir())  # removed after the run
    assert config["reproduce"].startswith("python -m evals.run --cases ") and "--split holdout" in config["reproduce"]
    assert config["reproduce"].endswith(f"--previous {made[0].commit}")  # HEAD^ pinned to the commit it was
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["system"] for r in rows] == ["baseline", "previous"] and not judges  # no judge by default
    assert "principles_mean" not in rows[0]
    assert main([*argv, "--systems", "baseline", "--judge", "--out", str(tmp_path / "judged")]) == 0
    (judged,) = (tmp_path / "judged").iterdir()
    row = json.loads((judged / "results.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert len(judges) == 1 and row["principles_mean"] == 7.0
    with pytest.raises(SystemExit):
        main([*argv, "--split", "train", "--out", str(tmp_path / "x")])
    assert main([*argv, "--previous", "no-such-rev", "--out", str(tmp_path / "x")]) == 2
    assert main([*argv, "--only", "no-such-case", "--out", str(tmp_path / "x")]) == 2
    only = ["--cases", str(USABLE_CASES), "--cases-ids", "letter-insurance-joint-check", "--systems", "baseline"]
    assert main([*only, "--out", str(tmp_path / "only")]) == 0
    (only_dir,) = (tmp_path / "only").iterdir()
    assert json.loads((only_dir / "config.json").read_text(encoding="utf-8"))["case_ids"] == [only[3]]


def test_report_defect_table_means_totals_and_zero_defect_drafts() -> None:
    def row(system: str, case: str, **defects: int) -> dict[str, Any]:
        counts = {**dict.fromkeys(scorers.DEFECT_KINDS, 0), **defects}
        return {
            "system": system,
            "case_id": case,
            "split": "tune" if case == "a" else "holdout",
            "error": "",
            "defects": counts,
            "defects_total": sum(counts.values()),
            "length_score": 90.0,
            "genre_correct": case == "a",
            "placeholders": 2,
        }

    rows = [
        row("urgent", "a"),
        row("urgent", "b", transplanted_fact=2, fragment=1),
        row("baseline", "a", leaked=1),
        {"system": "baseline", "case_id": "b", "error": "boom"},
    ]
    summary = report.defect_summary(rows, ["urgent", "baseline"])
    assert summary["urgent"]["kinds"]["transplanted_fact"] == (1.0, 2)
    assert summary["urgent"]["zero"] == 1 and summary["urgent"]["n"] == 2 and summary["urgent"]["total"] == 3
    assert summary["baseline"]["kinds"]["leaked"] == (1.0, 1) and summary["baseline"]["n"] == 1
    md = report.render_report(rows, ["urgent", "baseline"], {"reproduce": "make eval-usable SPLIT=all"})
    assert "| 移植的事实（范文里的数字、人名、地名等）（transplanted_fact） | 1 / 2 | 0 / 0 |" in md
    assert "| **合计** | 1.5 / 3 | 1 / 1 |" in md and "| 零缺陷稿件 | 1/2 | 0/1 |" in md
    assert "| 文种正确率 ↑ | 0.5 | 1 |" in md and "| 待补占位(每篇) ↓ | 2 | 2 |" in md
    assert "| tune | 0 / 90 | 1 / 90 |" in md and "make eval-usable SPLIT=all" in md
    assert "- **baseline" not in md and "- **urgent / 急稿流程" not in md  # no defect_list given, no details
    no_gate = [{**r, "defects": None, "defects_total": None} for r in rows]
    assert "drafting.gate 不可用" in report.render_report(no_gate, ["urgent"], {})
    assert report.render_chart(rows, ["urgent", "baseline"])[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not scorers.gate_available(), reason="drafting.gate not in this checkout")
def test_find_defects_with_the_real_gate() -> None:
    brief = _brief(facts="全县有企业86家", speaker="县长")
    planted = _draft(
        [
            (
                "清醒认识形势",
                "全县有企业86家，全年共发生各类生产安全事故11起、死亡6人，同比分别下降26.7%。\n【三、组织保障】",
            )
        ],
        brief=brief,
    )
    passages = [_corpus_passage("全年共发生各类生产安全事故11起、死亡6人，同比分别下降26.7%和33.3%。")]
    found = scorers.find_defects(planted, brief, passages)
    assert found is not None
    counts = scorers.defect_counts(found)
    from drafting.checks.gate import DefectKind

    assert {k.value for k in DefectKind} == set(scorers.DEFECT_KINDS) == set(counts)  # the report knows every kind
    assert counts["transplanted_fact"] >= 2 and counts["leaked"] >= 1
    assert {"11起", "26.7%"} <= {d["text"] for d in found if d["kind"] == "transplanted_fact"}
    clean = _draft([("清醒认识形势", "全县有企业86家，要把安全责任落实到每一家企业。")], brief=brief)
    assert scorers.find_defects(clean, brief, passages) == []


# -- the decisive run: resumable, ordered, slow on a subset, evidence and 慢稿 columns (issues 11-13) -----------
class FakeSystems:
    """Systems that write fixed drafts without any model, counting what ran; ``kill_after`` raises
    KeyboardInterrupt on that call (a run killed mid-way)."""

    def __init__(self, kill_after: int = 0) -> None:
        self.ran: list[tuple[str, str]] = []
        self.kill_after = kill_after
        self.slow_input: list[str] = []

    def _tick(self, system: str, ctx: systems.CaseContext) -> None:
        self.ran.append((ctx.case_id, system))
        if self.kill_after and len(self.ran) == self.kill_after:
            raise KeyboardInterrupt

    def urgent(self, brief: Brief, ctx: systems.CaseContext) -> systems.SystemOutput:
        self._tick("urgent", ctx)
        draft = _draft(
            [
                ("压实责任", f"同志们，各乡镇必须在6月底前完成{brief.title}的整改。"),
                ("抓好落实", "要把工作落到基层一线。"),
            ],
            brief=brief,
        )
        ctx.memo["urgent_run"] = systems.DraftRun(brief=brief, passages=[], outline=draft.outline, draft=draft)
        return systems.SystemOutput(draft=draft, reference_outline=draft.outline)

    def baseline(self, brief: Brief, ctx: systems.CaseContext) -> systems.SystemOutput:
        self._tick("baseline", ctx)
        return systems.SystemOutput(draft=_draft([("工作", "做好工作。")], brief=brief), reference_outline=None)

    def slow(self, brief: Brief, ctx: systems.CaseContext) -> systems.SystemOutput:
        self._tick("slow", ctx)
        run = ctx.memo.get("urgent_run")
        assert run is not None, "the slow round must revise the urgent draft"
        before = run.draft
        self.slow_input.append(before.body_text)
        # Every other case, version 2 pastes the brief's fields and a reference block.
        worse = len(self.slow_input) % 2 == 1
        extra = "文种：讲话稿 / 篇幅：约600字\n[3] 来源：《范文》" if worse else ""
        after = before.model_copy(
            update={
                "sections": [
                    *before.sections[:-1],
                    before.sections[-1].model_copy(update={"text": "要落实。\n" + extra}),
                ]
            }
        )
        return systems.SystemOutput(draft=after, reference_outline=run.outline, before=before)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("urgent", "baseline", "slow"):
            monkeypatch.setitem(systems.SYSTEMS, name, getattr(self, name))


def _usable(n: int) -> list[Case]:
    from evals.run import interleave

    return interleave(load_cases(USABLE_CASES))[:n]


def _run(cases: Sequence[Case], out: Path, **kw: Any) -> list[dict[str, Any]]:
    kw.setdefault("systems", ["urgent", "baseline", "slow"])
    return run_eval(
        cases,
        kw.pop("systems"),
        llm=ScriptedChatModel(),
        judge=None,
        store=None,
        out_dir=out,
        meta={},
        retry_wait=0,
        **kw,
    )


def test_interleave_spreads_genres_and_splits() -> None:
    from evals.run import interleave

    def case(cid: str, genre: str, split: str) -> Case:
        return Case(id=cid, brief=_brief(genre=genre), split=split, expect_genre=(genre,))

    cases = [
        case("s1", "讲话稿", "tune"),
        case("s2", "讲话稿", "holdout"),
        case("s3", "讲话稿", "tune"),
        case("n1", "通知", "tune"),
        case("n2", "通知", "holdout"),
        case("h1", "主持词", "holdout"),
    ]
    order = [c.id for c in interleave(cases)]
    assert sorted(order) == sorted(c.id for c in cases)
    assert order[:3] == ["s1", "h1", "n1"]  # first one of each genre, tune and holdout alternating
    assert {c.split for c in interleave(cases)[:2]} == {"tune", "holdout"}
    usable = _usable(12)
    assert len({c.expect_genre[0] for c in usable}) == 12 and {c.split for c in usable} == {"tune", "holdout"}


def test_a_killed_run_resumes_where_it_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = _usable(3)
    out = tmp_path / "run"
    first = FakeSystems(kill_after=5)
    first.install(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _run(cases, out, slow_limit=2)
    # Killed on its 5th draft: the 4 before it are on disk, one line each, plus a line cut off mid-write.
    kept = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert [(json.loads(x)["case_id"], json.loads(x)["system"]) for x in kept] == first.ran[:4]
    with (out / "results.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"system": "baseline", "case_id": "')
    second = FakeSystems()
    second.install(monkeypatch)
    rows = _run(cases, out, slow_limit=2)
    # Only what was not finished ran again: the rest of the main systems, then slow on the first two cases.
    ids = [c.id for c in cases]
    assert first.ran[:4] == [(ids[0], "urgent"), (ids[0], "baseline"), (ids[1], "urgent"), (ids[1], "baseline")]
    assert second.ran == [(ids[2], "urgent"), (ids[2], "baseline"), (ids[0], "slow"), (ids[1], "slow")]
    # The slow round of case 0 revised the urgent draft the killed process wrote (restored from drafts/).
    assert cases[0].brief.title in second.slow_input[0]
    assert [(r["case_id"], r["system"]) for r in rows] == [
        (ids[0], "urgent"),
        (ids[0], "slow"),
        (ids[0], "baseline"),
        (ids[1], "urgent"),
        (ids[1], "slow"),
        (ids[1], "baseline"),
        (ids[2], "urgent"),
        (ids[2], "baseline"),
    ]
    saved = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(saved) == 8 and [(r["case_id"], r["system"]) for r in saved] == [
        (r["case_id"], r["system"]) for r in rows
    ]
    # A third run with the same folder has nothing to do, and a failed pair is retried.
    third = FakeSystems()
    third.install(monkeypatch)
    assert _run(cases, out, slow_limit=2) == rows and third.ran == []
    broken = [*saved[:-1], {**saved[-1], "error": "RuntimeError: 模型服务断开"}]
    (out / "results.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in broken), "utf-8")
    assert [r["error"] for r in _run(cases, out, slow_limit=2)] == [""] * 8 and third.ran == [(ids[2], "baseline")]


def test_eta_uses_measured_seconds_then_priors() -> None:
    from evals.run import ETA_PRIOR, eta_seconds

    done = [{"system": "urgent", "wall_seconds": 100.0}, {"system": "urgent", "wall_seconds": 140.0}]
    assert eta_seconds(["urgent", "urgent", "baseline"], done) == 240.0 + ETA_PRIOR["baseline"]
    assert eta_seconds([], done) == 0


def test_report_has_evidence_per_principle_and_the_slow_worse_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_gate: FakeGate
) -> None:
    fakes = FakeSystems()
    fakes.install(monkeypatch)
    rows = _run(_usable(3), tmp_path, slow_limit=2)
    by = {(r["case_id"], r["system"]): r for r in rows}
    cid = rows[0]["case_id"]
    # The urgent fake draft speaks to 同志们, sets a deadline, names the base: 接地气 聚人气 显霸气, never a heading.
    assert set(by[cid, "urgent"]["evidence_principles"]) == {"接地气", "聚人气", "显霸气"}
    assert by[cid, "baseline"]["evidence_coverage"] == 0
    slow_rows = [r for r in rows if r["system"] == "slow"]
    assert [r["leaked_brief_fields"] for r in slow_rows] == [1, 0]
    assert [r["leaked_reference_blocks"] for r in slow_rows] == [1, 0]
    assert slow_rows[0]["leaked_brief_fields_before"] == 0 and slow_rows[0]["leaks_added"] == 2
    # The fake gate flags lines starting with 【 only: no defect either side, so no round is worse by defects.
    assert [r["worse"] for r in slow_rows] == [False, False]
    shares = report.evidence_shares(rows, ["urgent", "baseline"])
    assert (
        shares["urgent"]["显霸气"] == 1.0 and shares["baseline"]["显霸气"] == 0.0 and shares["urgent"]["溢才气"] == 0.0
    )
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| 有据率·显霸气 ↑ | 1 | 1 | 0 |" in md and "| 有据率·溢才气 ↑ | 0 | 0 | 0 |" in md  # urgent, slow, baseline
    assert "| 显霸气 | 100%（3/3） | 100%（2/2） | 0%（0/3） |" in md
    assert "第2稿缺陷多于第1稿（同一确定性计数）：**0/2** 轮" in md
    assert "第2稿里有任务书字段（“文种：”“篇幅：”等）：**1/2** 轮" in md and "**1/2** 轮（目标：0）" in md
    assert "| 慢稿第2稿比第1稿差（轮）↓ |  | 0/2 |  |" in md
    assert "| 慢稿第2稿含任务书字段 / 参考块（轮）↓ |  | 1/2 / 1/2 |  |" in md
    assert (
        "报告含 3 篇、3 个文种" in md
        and "| 篇幅得分最低 ↑ |" in md
        and "3（接聚显）" in md
        and "![各系统平均指标](chart.png)" in md
    )
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_worse_rounds_are_counted_in_the_report() -> None:
    def round_row(case: str, before: int, after: int) -> dict[str, Any]:
        return {
            "system": "slow",
            "case_id": case,
            "error": "",
            "chars": 500,
            "chars_before": 480,
            "defects_total": after,
            "defects_total_before": before,
            "worse": after > before,
            "leaked_brief_fields": 0,
            "leaked_reference_blocks": 0,
        }

    rows = [round_row("a", 2, 3), round_row("b", 2, 2), round_row("c", 4, 1)]
    assert report.slow_summary(rows) == {
        "rounds": 3,
        "judged": 3,
        "worse": 1,
        "fewer": 1,
        "brief_fields": 0,
        "reference_blocks": 0,
        "evidence_lost": 0,
    }
    md = report.render_report(rows, ["slow"], {})
    assert "**1/3** 轮（目标：0）" in md and "| a | 2→3 |" in md and "| 慢稿第2稿比第1稿差（轮）↓ | 1/3 |" in md


def test_publish_names_the_report_by_date_and_never_overwrites_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime

    from evals.run import publish

    fakes = FakeSystems()
    fakes.install(monkeypatch)
    run = tmp_path / "run"
    _run(_usable(1), run, systems=["urgent"])
    meta: dict[str, Any] = {"case_ids": [_usable(1)[0].id], "systems": ["urgent"]}
    (run / "config.json").write_text(json.dumps(meta), encoding="utf-8")
    bench = tmp_path / "bench"
    bench.mkdir()
    today = f"usable-{datetime.now().strftime('%Y%m%d')}"
    (bench / f"{today}.md").write_text("an earlier run", encoding="utf-8")
    md = publish(run, bench, meta)
    assert md.name == f"{today}-2.md" and (bench / f"{today}.md").read_text(encoding="utf-8") == "an earlier run"
    assert f"![各系统平均指标]({today}-2.png)" in md.read_text(encoding="utf-8")
    assert {p.name for p in bench.iterdir()} >= {f"{today}-2.png", f"{today}-2.results.jsonl", f"{today}-2.config.json"}
    # Published again (a resumed run): the same name.
    assert publish(run, bench, meta) == md and json.loads((run / "config.json").read_text())["publish_name"] == md.stem


def test_cli_run_dir_resumes_and_pins_the_previous_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_embeddings: Any
) -> None:
    import drafting.corpus.store
    import drafting.llm.client
    import evals.run

    real_open = drafting.corpus.store.open_store
    monkeypatch.setattr(drafting.llm.client, "get_chat_model", lambda settings=None, **kw: ScriptedChatModel())
    monkeypatch.setattr(
        drafting.corpus.store, "open_store", lambda settings=None, embeddings=None: real_open(settings, fake_embeddings)
    )
    repo = _git_repo(tmp_path / "repo")
    monkeypatch.setattr(
        evals.run,
        "PreviousPipeline",
        lambda rev, settings: prev.PreviousPipeline(
            rev, settings, repo=repo, runner=FakeOldCli(), workdir=tmp_path / "p"
        ),
    )
    fakes = FakeSystems()
    fakes.install(monkeypatch)
    run_dir = tmp_path / "decisive"
    argv = ["--cases", str(USABLE_CASES), "--limit", "2", "--systems", "urgent,previous", "--run-dir", str(run_dir)]
    assert main([*argv, "--previous", "HEAD^", "--publish", str(tmp_path / "bench")]) == 0
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    assert config["case_ids"] == [c.id for c in _usable(2)] and "--run-dir" in config["reproduce"]
    assert len(fakes.ran) == 2 and list((tmp_path / "bench").glob("usable-*.md"))
    # The same folder with another previous commit would mix two commits' rows: refused.
    assert main([*argv, "--previous", "HEAD"]) == 2
    assert main([*argv, "--previous", "HEAD^"]) == 0 and len(fakes.ran) == 2  # nothing left to run
    assert json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["publish_name"] == config["publish_name"]
    # A stopped run's report is rebuilt from its results alone, without the model.
    (run_dir / "report.md").unlink()
    assert main(["--run-dir", str(run_dir), "--report-only"]) == 0 and len(fakes.ran) == 2
    assert _usable(2)[1].id in (run_dir / "report.md").read_text(encoding="utf-8")
    assert main(["--report-only"]) == 2


def test_a_scorer_failure_is_recorded_and_the_run_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = FakeSystems()
    fakes.install(monkeypatch)
    real = scorers.find_defects
    calls: list[str] = []

    def flaky(draft: Draft, brief: Brief, passages: Sequence[Passage]) -> Any:
        calls.append(draft.title)
        if len(calls) == 1:
            raise IndexError("gate bug on an odd draft")
        return real(draft, brief, passages)

    monkeypatch.setattr(scorers, "find_defects", flaky)
    rows = _run(_usable(2), tmp_path, systems=["urgent"])
    assert "评分失败" in rows[0]["error"] and "IndexError" in rows[0]["error"] and rows[1]["error"] == ""
    assert (tmp_path / "drafts" / f"{rows[0]['case_id']}__urgent.txt").is_file()  # the draft is kept
