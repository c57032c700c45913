"""The typed seams of issue 17: exceptions that carry their data, typed progress events, the queue fake
that routes by prompt template (so prompts can be reworded), and settings carried by the model."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pydantic
import pytest

from drafting.config import get_settings, load_settings
from drafting.domain import (
    Brief,
    Draft,
    DraftSection,
    Outline,
    OutlineSection,
    PassageOrigin,
    RevisionMode,
    SectionKind,
    Severity,
)
from drafting.errors import ClassifiedError, DraftingError, DroppedStreamError, EmptyAnswerError, ProviderError
from drafting.events import DraftWritten, EventKind, ProgressCallbacks, ProgressEvent, TokenStreamed
from drafting.llm import prompts
from drafting.llm.calls import complete, safe_partial
from drafting.llm.client import get_chat_model, settings_of, translate_error
from drafting.llm.prompts import load_prompt
from drafting.testing import FakeChatModel, NoAnswerQueued, ScriptedChatModel, demo_chat_model
from drafting.workspace import Workspace
from drafting.writing.brief import brief_from_request
from drafting.writing.pipeline import run_draft, run_revision
from tests.fakes import (
    BODY_MARKER,
    COMMENTS_STAGE,
    MORE_MARKER,
    OUTLINE_STAGE,
    REWRITE_STAGE,
    RoutedFakeChat,
    outline_json,
    prose,
    scores_json,
    writer_routes,
)


def _draft() -> Draft:
    outline = Outline(title="讲话", sections=[OutlineSection(heading="一、压实责任")])
    return Draft(title="讲话", brief=Brief(request="写一篇讲话"), outline=outline, sections=[DraftSection(heading="x")])


# ------------------------------------------------------------------ exceptions carry their data


def test_provider_error_data_set_in_the_constructor() -> None:
    draft = _draft()
    err = DroppedStreamError("断开了", partial="已写好的", draft=draft)
    assert (str(err), err.partial, err.draft) == ("断开了", "已写好的", draft)
    assert ProviderError("x").partial == "" and ProviderError("x").draft is None
    # with_draft keeps the class, the message and the partial text; the original is untouched.
    carried = EmptyAnswerError("空", partial="好").with_draft(draft)
    assert type(carried) is EmptyAnswerError and carried.partial == "好" and carried.draft is draft
    assert safe_partial(DraftingError("别的错")) == "" and safe_partial(err) == "已写好的"


def test_translate_error_uses_provider_types_and_keeps_partial() -> None:
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    refused = openai.AuthenticationError("no", response=httpx.Response(401, request=request), body=None)
    err = translate_error(refused, partial="半句")
    assert isinstance(err, ProviderError) and "API Key" in str(err) and err.partial == "半句"
    cut = translate_error(httpx.RemoteProtocolError("peer closed"), partial="一半")
    assert isinstance(cut, DroppedStreamError) and cut.partial == "一半"
    # An already translated error gains the partial text without changing class or message.
    again = translate_error(DroppedStreamError("断开"), partial="后来的")
    assert isinstance(again, DroppedStreamError) and str(again) == "断开" and again.partial == "后来的"


def test_complete_raises_typed_error_with_partial_text() -> None:
    llm = RoutedFakeChat(default="一二三四五六七八九十" * 5, fail_after_chars=16)
    with pytest.raises(ProviderError, match="超时") as info:
        complete(llm, [("user", "x")], stage="draft")
    assert info.value.partial == ("一二三四五六七八九十" * 5)[:16] and info.value.draft is None
    with pytest.raises(EmptyAnswerError) as empty:
        complete(RoutedFakeChat(default="好。"), [("user", "写一段")], stage="draft")
    assert empty.value.partial == "好。"


# ------------------------------------------------------------------ typed events and enums

OLD_PASSAGES = (
    '[{"chunk_id": "m1", "doc_id": "material", "title": "材料1", "text": "全县今年检查企业。", "origin": "material"},'
    ' {"chunk_id": "c1", "doc_id": "d1", "title": "范文", "text": "压实责任。", "origin": "pinned"},'
    ' {"chunk_id": "c2", "doc_id": "d2", "title": "范文二", "text": "守牢底线。"}]'
)
OLD_WORKING = (
    '{"title": "讲话", "brief": {"request": "写一篇讲话"}, "outline": {"title": "讲话", "sections": ['
    '{"heading": "开头", "kind": "opening"}, {"heading": "一、压实责任", "kind": "body"}, {"heading": "结尾", "kind": "closing"}'
    ']}, "sections": [{"heading": "", "kind": "opening", "text": "同志们："}, {"heading": "一、压实责任", "text": "要压实。"}]}'
)
OLD_REVIEW = '{"checks": [{"rule": "r1", "message": "m", "severity": "error"}, {"rule": "r2", "message": "m"}]}'


def test_a_workspace_saved_with_plain_strings_still_loads(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws.sqlite3")
    pid = ws.create_project(Brief(request="写一篇讲话"))
    ws._set(pid, "passages", OLD_PASSAGES)  # as a workspace written before the enums stored them
    ws._set(pid, "working", OLD_WORKING)
    ws._set(pid, "review", OLD_REVIEW)
    project = ws.load(pid)
    assert [p.origin for p in project.passages] == [PassageOrigin.MATERIAL, PassageOrigin.PINNED, PassageOrigin.CORPUS]
    assert project.working is not None and project.review is not None
    assert [s.kind for s in project.working.outline.sections] == [
        SectionKind.OPENING,
        SectionKind.BODY,
        SectionKind.CLOSING,
    ]
    assert [c.severity for c in project.review.checks] == [Severity.ERROR, Severity.WARNING]
    # Saved again, the same strings come out, so older and newer builds read each other's files.
    ws.save_passages(pid, project.passages)
    ws.save_working(pid, project.working)
    again = ws.load(pid)
    assert json.loads(again.working.model_dump_json())["outline"]["sections"][0]["kind"] == "opening"  # type: ignore[union-attr]
    assert [p.model_dump(mode="json")["origin"] for p in again.passages] == ["material", "pinned", "corpus"]
    # The members still compare equal to their strings (code that compares with "body" keeps working).
    assert SectionKind.BODY == "body" and {"body": 1}[SectionKind.BODY] == 1 and f"{Severity.INFO}" == "info"


def test_pipeline_reports_typed_events_in_order(tmp_path: Path) -> None:
    llm = ScriptedChatModel()
    seen: list[ProgressEvent] = []
    brief = brief_from_request("请为王县长起草一篇在全县安全生产工作会议上的讲话稿，600字左右。")
    run = run_draft(brief, store=None, llm=llm, workspace=Workspace(tmp_path / "ws.sqlite3"), on_event=seen.append)
    kinds = [e.kind for e in seen]
    assert kinds[:2] == [EventKind.PASSAGES, EventKind.OUTLINE] and kinds[-1] is EventKind.REVIEW
    assert EventKind.TOKEN in kinds and EventKind.SECTION in kinds and EventKind.DRAFT in kinds
    tokens = [e for e in seen if isinstance(e, TokenStreamed)]
    assert all(isinstance(t.index, int) and isinstance(t.piece, str) for t in tokens)
    finished = next(e for e in seen if isinstance(e, DraftWritten))
    assert finished.draft.body_text == run.draft.body_text
    with pytest.raises(dataclasses.FrozenInstanceError):
        finished.draft = run.draft  # type: ignore[misc]


def test_storm_style_callbacks_get_one_typed_call_per_event(tmp_path: Path) -> None:
    class Recorder(ProgressCallbacks):
        def __init__(self) -> None:
            self.calls: list[str] = []

        def on_outline(self, outline: Outline) -> None:
            self.calls.append(f"outline:{len(outline.sections)}")

        def on_token(self, index: int, piece: str) -> None:
            if not self.calls or self.calls[-1] != "token":
                self.calls.append("token")

        def on_draft(self, draft: Draft) -> None:
            self.calls.append("draft")

    recorder = Recorder()
    brief = brief_from_request("请为王县长起草一篇在全县安全生产工作会议上的讲话稿，600字左右。")
    run_draft(brief, store=None, llm=ScriptedChatModel(), with_review=False, on_event=recorder)
    assert recorder.calls[0].startswith("outline:") and "token" in recorder.calls and recorder.calls[-1] == "draft"


# ------------------------------------------------------------------ the queue fake, routed by template


def test_fake_answers_each_stage_from_its_queue_and_records_what_it_was_asked() -> None:
    llm = FakeChatModel().enqueue("repair.json", "第一次回答的内容", lambda r: f"看到错误：{r.values['error']}")
    first = complete(llm, load_prompt("repair.json").render(error="缺少括号"), stage="t")
    second = complete(llm, load_prompt("repair.json").render(error="字段不对"), stage="t")
    assert (first, second) == ("第一次回答的内容", "看到错误：字段不对")
    asked = llm.asked("repair.json")
    assert [r.stage for r in llm.history] == ["repair.json", "repair.json"] and asked == llm.history
    assert asked[0].values == {"error": "缺少括号"} and "缺少括号" in asked[0] and asked[0].messages[-1][0] == "user"
    # The queue is used up: the next call fails loudly, naming the stage, instead of inventing an answer.
    with pytest.raises(ProviderError, match="repair.json") as info:
        complete(llm, load_prompt("repair.json").render(error="x"), stage="t")
    assert isinstance(info.value.__cause__, NoAnswerQueued) and "empty" in str(info.value.__cause__)
    # A stage nobody queued is an error too (unless the fake has a default); so are untemplated messages.
    with pytest.raises(ProviderError, match="no answer queued for stage 'review.scores'"):
        complete(llm, load_prompt("review.scores").render(criteria="c", brief="b", draft="d"), stage="review")
    with pytest.raises(ProviderError, match="no template"):
        complete(llm, [("user", "随便写点什么")], stage="t")


def test_fake_raises_queued_exceptions_and_breaks_streams_on_request() -> None:
    llm = FakeChatModel(fail_after_chars=8).enqueue("repair.json", ValueError("boom"), "一二三四五六七八九十十一十二")
    with pytest.raises(ProviderError, match="boom"):
        complete(llm, load_prompt("repair.json").render(error="x"), stage="t")
    with pytest.raises(ProviderError, match="超时") as info:
        complete(llm, load_prompt("repair.json").render(error="x"), stage="t")
    assert info.value.partial == "一二三四五六七八"


def test_demo_mode_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings({}).fake_llm is False
    assert load_settings({"DRAFTING_FAKE_LLM": "1"}).fake_llm is True
    assert isinstance(demo_chat_model(), FakeChatModel)


OLD_MARKERS = (
    "请拟一份提纲",
    "请写出全文正文",
    "还写得太短",
    "按上面 8 项标准逐项审阅",
    "修改意见，每条对应一个段号",
    "请输出修改后的这一部分正文",
    "无法按要求解析",
)


def _reword(line: str) -> str:
    if line.startswith("###") or not line.strip():
        return line
    for old, new in zip(
        OLD_MARKERS,
        ("拟个提纲", "把正文写全", "篇幅不够", "照八条标准打分", "意见标段号", "给出改好的文字", "解析失败"),
        strict=True,
    ):
        line = line.replace(old, new)
    return "（措辞已改）" + line.replace("请", "烦请").replace("约", "大约").replace("字", "个字")


@pytest.fixture
def reworded_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every prompt template copied and reworded (variables kept), and the loader pointed at the copy."""
    copy = tmp_path / "prompts"
    shutil.copytree(prompts.PROMPTS_DIR, copy)
    for path in copy.glob("*.txt"):
        if prompts._NAME.match(path.name):
            lines = path.read_text(encoding="utf-8").splitlines()
            path.write_text("\n".join(_reword(x) for x in lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(prompts, "PROMPTS_DIR", copy)
    prompts._load.cache_clear()
    yield copy
    prompts._load.cache_clear()


HEADINGS = ["提高政治站位", "压实安全责任", "狠抓隐患整治"]


def _slow_brief() -> Brief:
    return Brief(
        title="在全县安全生产工作会议上的讲话",
        occasion="全县安全生产工作会议",
        speaker="县长",
        length=1000,
        key_points=["压实企业主体责任", "开展燃气安全专项整治"],
        mode=RevisionMode.SLOW,
    )


def test_a_prompt_can_be_reworded_without_touching_any_fake(reworded_prompts: Path, tmp_path: Path) -> None:
    assert "（措辞已改）" in load_prompt("draft.body").user  # the loader reads the reworded copy
    comment = json.dumps(
        {"comments": [{"paragraph": 2, "quote": "", "comment": "多讲基层实际困难"}]}, ensure_ascii=False
    )
    routes = writer_routes(
        scale=0.4,
        **{
            OUTLINE_STAGE: [outline_json(HEADINGS)],
            COMMENTS_STAGE: [comment],
            REWRITE_STAGE: [prose(200, "基层困难要摆到桌面上解决")],
        },
    )
    llm = RoutedFakeChat(routes=routes, default=scores_json())
    ws = Workspace(tmp_path / "ws.sqlite3")
    run = run_draft(_slow_brief(), store=None, llm=llm, workspace=ws)
    # Every stage got its own answer although no prompt says what the fakes used to look for.
    assert [s.heading for s in run.outline.body_sections] == HEADINGS
    assert all(s.text for s in run.draft.sections) and run.review is not None and run.review.scores
    stages = {c["stage"] for c in llm.calls}
    assert {OUTLINE_STAGE, BODY_MARKER, MORE_MARKER, "review.scores"} <= stages
    assert not any(m in c["all"] for c in llm.calls for m in OLD_MARKERS)
    assert all("（措辞已改）" in c["all"] for c in llm.calls)
    assert run.project_id is not None
    version = run_revision(ws, run.project_id, llm=llm, mode=RevisionMode.SLOW, accept_all=True)
    assert version.number == 2 and {COMMENTS_STAGE, REWRITE_STAGE} <= {c["stage"] for c in llm.calls}
    assert "基层困难要摆到桌面上解决" in version.draft.body_text
    # The demo model runs the same pipeline on the reworded prompts too.
    demo = ScriptedChatModel()
    shown = run_draft(_slow_brief(), store=None, llm=demo)
    assert shown.outline.body_sections[0].heading == "提高政治站位，切实增强做好工作的责任感"
    assert all(s.text for s in shown.draft.sections) and shown.review is not None and shown.review.scores


# ------------------------------------------------------------------ settings passed in, not read from globals


def test_the_model_carries_its_settings_and_complete_uses_them(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = load_settings({"DRAFTING_LLM_BASE_URL": "http://127.0.0.1:9/v1", "DRAFTING_LLM_JSON_MODE": "0"})
    assert settings_of(get_chat_model(endpoint)) is endpoint
    # The process settings do not reach a call: a fake model gets the defaults, explicit settings win.
    monkeypatch.setenv("DRAFTING_LLM_JSON_MODE", "0")
    get_settings.cache_clear()
    fake = RoutedFakeChat(default='{"a": 1}')
    complete(fake, [("user", "给我 JSON")], stage="t", json_mode=True)
    assert fake.calls[-1]["kwargs"].get("response_format") == {"type": "json_object"}
    complete(fake, [("user", "给我 JSON")], stage="t", json_mode=True, settings=endpoint)
    assert "response_format" not in fake.calls[-1]["kwargs"]


def test_only_one_function_writes_the_process_environment() -> None:
    import drafting

    writes = re.compile(r"os\.environ\[[^\]]+\]\s*=(?!=)|os\.environ\.(setdefault|update|pop)\(|os\.putenv\(")
    found = [
        f"{path.relative_to(Path(drafting.__file__).parent)}:{n}"
        for path in sorted(Path(drafting.__file__).parent.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if writes.search(line)
    ]
    source = Path(drafting.__file__).parent.joinpath("llm", "client.py").read_text(encoding="utf-8")
    body = source[source.index("def third_party_environment") : source.index("def ensure_tiktoken_offline")]
    assert len(found) == 2 and all(f.startswith("llm/client.py:") for f in found), found
    assert body.count("os.environ[") + body.count("os.environ.setdefault(") == 2


def test_the_classified_backstop_judges_the_endpoint_the_model_sends_to() -> None:
    remote = get_chat_model(load_settings({"DRAFTING_LLM_BASE_URL": "https://api.example.com/v1"}))
    with pytest.raises(ClassifiedError, match=r"api\.example\.com"):  # refused before any byte is sent
        complete(remote, [("user", "内部\n为县长起草讲话")], stage="draft")
    # The process settings are local (trusted); a model without an endpoint of its own is judged by them.
    assert complete(RoutedFakeChat(default="好的，这就写讲话。"), [("user", "内部\n为县长起草讲话")], stage="draft")


STAGES = ("brief", "outline", "draft", "review", "revise")
ROOMS = ("llm", "corpus", "writing", "checks", "docx", "ui")


def _imports(path: Path) -> set[str]:
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_no_writing_stage_imports_another_and_no_helper_imports_a_stage() -> None:
    import drafting

    pkg = Path(drafting.__file__).parent
    offenders = []
    for path in sorted((pkg / "writing").glob("*.py")):
        if path.stem in ("pipeline", "__init__"):
            continue  # only the pipeline calls several stages
        for stage in STAGES:
            if stage != path.stem and f"drafting.writing.{stage}" in _imports(path):
                offenders.append(f"writing/{path.name} -> {stage}")
    for room in ("checks", "corpus", "llm", "docx"):
        for path in sorted((pkg / room).glob("*.py")):
            bad = [m for m in _imports(path) if any(m == f"drafting.writing.{s}" for s in STAGES)]
            offenders += [f"{room}/{path.name} -> {m}" for m in bad if not (room == "docx" and m.endswith("review"))]
    assert offenders == []


def test_every_room_says_what_it_owns_and_may_import() -> None:
    import importlib

    for room in ROOMS:
        doc = importlib.import_module(f"drafting.{room}").__doc__ or ""
        assert "May import" in doc or "may import" in doc.lower(), room


# ------------------------------------------------------------------ costs: each saved draft keeps its own copy


def test_a_saved_drafts_costs_do_not_change_when_the_run_goes_on(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws.sqlite3")
    brief = brief_from_request("请为王县长起草一篇在全县安全生产工作会议上的讲话稿，600字左右。")
    run = run_draft(brief, store=None, llm=ScriptedChatModel(), workspace=ws)
    assert run.project_id is not None and run.review is not None
    saved = ws.versions(run.project_id)[0].draft.costs
    # The review ran after the draft was saved, in the same run: the run's costs count it, the draft's do not.
    assert run.draft.costs.calls >= 1 and run.costs.calls > run.draft.costs.calls
    assert run.draft.costs == saved
    assert run.review.costs.calls == run.costs.calls - run.draft.costs.calls
    # The record itself cannot be changed in place.
    with pytest.raises(pydantic.ValidationError):
        run.draft.costs.stages[0].calls += 1  # type: ignore[misc]
