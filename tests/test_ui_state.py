"""The page's helpers without a browser: secrets, view models, actions, the scripted fake model."""

from __future__ import annotations

import logging
import re
import stat
from pathlib import Path

import pytest

from drafting import secrets
from drafting.config import LOCAL_BASE_URL, load_settings
from drafting.domain import (
    GENRES,
    Brief,
    CommentStatus,
    Criterion,
    CriterionScore,
    Outline,
    OutlineSection,
    Passage,
    Review,
)
from drafting.errors import BriefError, DraftingError, ProviderError
from drafting.ui import actions as ui_actions
from drafting.ui import state as ui_state
from drafting.ui import views as ui_views
from drafting.workspace import Workspace
from drafting.writing.brief import brief_from_request
from drafting.writing.outline import make_outline

KEY = "sk-test-1234567890abcdef"


# -- secrets ------------------------------------------------------------------------------------
def test_api_key_is_encrypted_private_and_round_trips(tmp_path: Path) -> None:
    secrets.save_api_key(tmp_path, KEY)
    assert secrets.load_api_key(tmp_path) == KEY
    for f in tmp_path.iterdir():
        assert KEY.encode() not in f.read_bytes(), f"key in clear text in {f.name}"
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    secrets.save_api_key(tmp_path, "")
    assert secrets.load_api_key(tmp_path) is None


def test_undecryptable_key_is_ignored(tmp_path: Path) -> None:
    secrets.save_api_key(tmp_path, KEY)
    (tmp_path / secrets.KEY_FILE).unlink()  # key file lost: a new one cannot read the old ciphertext
    secrets._fernet(tmp_path)
    assert secrets.load_api_key(tmp_path) is None


def test_provider_settings_persist_without_the_key(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text('context_tokens = 8192\nllm_api_key = "leaked"\n', encoding="utf-8")
    secrets.save_provider(tmp_path, base_url="https://api.example.com/v1", model="qwen-plus")
    secrets.save_api_key(tmp_path, KEY)
    text = (tmp_path / "settings.toml").read_text(encoding="utf-8")
    assert "leaked" not in text and KEY not in text
    settings = load_settings({"DRAFTING_DATA_DIR": str(tmp_path)})
    assert settings.llm_base_url == "https://api.example.com/v1" and settings.llm_model == "qwen-plus"
    assert settings.context_tokens == 8192
    assert secrets.effective_settings(settings).llm_api_key == KEY
    assert KEY not in repr(secrets.effective_settings(settings))


def test_environment_key_wins_and_local_endpoint_ignores_stored_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets.save_api_key(tmp_path, KEY)
    local = load_settings({"DRAFTING_DATA_DIR": str(tmp_path)})
    assert local.llm_base_url == LOCAL_BASE_URL
    assert secrets.effective_settings(local).llm_api_key == "local"
    remote = local.replace(llm_base_url="https://api.example.com/v1", llm_api_key="from-env")
    monkeypatch.setenv("DRAFTING_LLM_API_KEY", "from-env")
    assert secrets.effective_settings(remote).llm_api_key == "from-env"


def test_mask_key_shows_only_the_tail() -> None:
    assert secrets.mask_key(KEY).endswith("cdef") and KEY[:-4] not in secrets.mask_key(KEY)
    assert secrets.mask_key(None) == "（未设置）"


# -- view models --------------------------------------------------------------------------------
def _brief() -> Brief:
    return Brief(
        title="在全县安全生产工作会议上的讲话", occasion="全县安全生产工作会议", length=1000, key_points=["隐患排查"]
    )


def _outline() -> Outline:
    return Outline(
        title="讲话",
        sections=[
            OutlineSection(heading="开头", kind="opening", purpose="点明主题", budget=100),
            OutlineSection(heading="认清形势", points=["成绩", "问题"], principles=[Criterion.TONGTIANQI], budget=400),
            OutlineSection(heading="狠抓落实", points=["排查隐患"], budget=400),
            OutlineSection(heading="结尾", kind="closing", budget=100),
        ],
    )


def test_outline_rows_round_trip() -> None:
    outline = _outline()
    rows = ui_views.outline_rows(outline)
    assert rows[1] == {
        "部分": "主体",
        "标题": "认清形势",
        "目的": "",
        "要点": "成绩；问题",
        "字数": 400,
        "侧重": "通天气",
    }
    assert ui_views.outline_from_rows(rows, outline.title, _brief()) == outline


def test_outline_rows_edits_blank_rows_and_budgets() -> None:
    rows = ui_views.outline_rows(_outline())
    rows[2]["要点"] = "排查隐患;整改闭环"
    rows.append({"部分": "主体", "标题": float("nan"), "目的": None, "要点": None, "字数": None, "侧重": None})
    for r in rows:
        r["字数"] = 0
    edited = ui_views.outline_from_rows(rows, "", _brief())
    assert edited.title == "在全县安全生产工作会议上的讲话"
    assert [s.heading for s in edited.sections] == ["开头", "认清形势", "狠抓落实", "结尾"]
    assert edited.sections[2].points == ["排查隐患", "整改闭环"]
    assert sum(s.budget for s in edited.sections) == 1000  # re-allocated to the target length
    with pytest.raises(BriefError, match="主体"):
        ui_views.outline_from_rows([r for r in rows if r["部分"] != "主体"], "", _brief())


def test_highlight_html_marks_query_words_and_escapes_the_rest() -> None:
    out = ui_views.highlight_html("安全生产", "<script>x</script>抓好安全生产工作")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<mark>安全生产</mark>" in out


def test_diff_html_is_side_by_side_with_changes() -> None:
    from drafting.domain import Draft, DraftSection

    old = Draft(
        title="t",
        brief=_brief(),
        outline=_outline(),
        sections=[DraftSection(heading="一、甲", text="第一段。\n第二段。")],
    )
    new = old.model_copy(
        update={"version": 2, "sections": [DraftSection(heading="一、甲", text="第一段。\n改过的第二段。")]}
    )
    out = ui_views.diff_html(old, new)
    assert "第1稿" in out and "第2稿" in out
    assert "<ins>改过的</ins>" in out and "<col>" in out  # two columns, the change marked
    assert out.count("<table") == 1


def test_radar_figure_has_eight_chinese_axes_with_a_cjk_font() -> None:
    scores = [CriterionScore(criterion=c, score=5 + i % 4) for i, c in enumerate(Criterion)]
    fig = ui_views.radar_figure(Review(scores=scores))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [c.value for c in Criterion]
    assert "CJK" in ax.get_xticklabels()[0].get_fontfamily()[0]


def test_progress_follows_pipeline_events() -> None:
    from drafting.domain import Draft, DraftSection
    from drafting.events import DraftWritten, OutlineReady, SectionWritten, TokenStreamed

    p = ui_views.Progress()
    p.on_event(OutlineReady(_outline()))
    p.on_event(TokenStreamed(1, "形势"))
    p.on_event(TokenStreamed(1, "严峻"))
    assert p.text == "形势严峻" and "认清形势" in p.status()
    assert p.fraction == 0.0
    draft = Draft(
        title="t", brief=_brief(), outline=_outline(), sections=[DraftSection(heading="", kind="opening", text="开场")]
    )
    p.on_event(SectionWritten(draft))
    assert p.fraction == 0.25
    p.on_event(DraftWritten(draft))
    assert p.message == "初稿已完成"


def test_presets_are_valid_briefs_for_known_genres() -> None:
    presets = ui_views.load_presets()
    assert len(presets) >= 6
    assert {p["genre"] for p in presets.values()} <= set(GENRES)
    assert ui_views.preset_names("讲话稿") and all(
        presets[n]["genre"] == "讲话稿" for n in ui_views.preset_names("讲话稿")
    )


# -- error handling ------------------------------------------------------------------------------
def test_attempt_turns_errors_into_chinese_messages(caplog: pytest.LogCaptureFixture) -> None:
    def bad_input() -> None:
        raise BriefError("任务为空")

    def bug() -> None:
        raise KeyError("oops")

    assert ui_state.attempt(lambda: 3) == (3, None)
    assert ui_state.attempt(bad_input) == (None, "任务为空")
    with caplog.at_level(logging.ERROR):
        result, message = ui_state.attempt(bug)
    assert result is None and message == ui_state.GENERIC_ERROR
    assert "oops" in caplog.text  # the traceback goes to the log, not the page


# -- the scripted fake model --------------------------------------------------------------------
def test_scripted_model_answers_the_outline_prompt_and_records_it() -> None:
    model = ui_state.ScriptedChatModel()
    brief = brief_from_request("请为王县长起草一篇在全县安全生产工作会议上的讲话稿，600字左右。")
    outline = make_outline(brief, [], model)
    assert [s.heading for s in outline.body_sections][:1] == ["提高政治站位，切实增强做好工作的责任感"]
    assert len(model.history) == 1 and "安全生产" in model.history[0]


def test_scripted_model_failure_is_a_provider_error_with_partial_text() -> None:
    from drafting.llm.calls import complete

    model = ui_state.ScriptedChatModel(fail_on_call=1)
    with pytest.raises(ProviderError) as info:
        complete(model, [("user", "请写一段，约 200 字。")], stage="draft")
    assert info.value.partial  # type: ignore[attr-defined]


def test_fake_llm_env_selects_the_scripted_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit as st

    monkeypatch.setenv(ui_state.FAKE_LLM_ENV, "1")
    st.cache_resource.clear()
    try:
        assert isinstance(ui_state.chat_model(ui_state.current_settings()), ui_state.ScriptedChatModel)
    finally:
        st.cache_resource.clear()


# -- actions ------------------------------------------------------------------------------------
@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws.sqlite3")


def test_brief_from_form_both_ways() -> None:
    b = ui_actions.brief_from_form(
        {"request": "请为李书记起草在全市经验交流会上的发言，800字。", "mode": "slow"}, from_request=True
    )
    assert b.genre == "经验交流发言" and b.length == 800 and b.mode.value == "slow"
    fields = {"genre": "通知", "title": "关于开展检查的通知", "length": 900, "key_points": "目标\n要求", "request": ""}
    b = ui_actions.brief_from_form(fields, material=["素材一"])
    assert b.key_points == ["目标", "要求"] and b.material == ["素材一"]
    with pytest.raises(BriefError, match="任务为空"):
        ui_actions.brief_from_form({"request": "  "}, from_request=True)
    with pytest.raises(BriefError, match="任务为空"):
        ui_actions.brief_from_form({"genre": "讲话稿", "length": 1500, "key_points": ""})


def _passage(n: int) -> Passage:
    return Passage(chunk_id=f"c{n}", doc_id=f"d{n}", title=f"范文{n}", text=f"第{n}段范文内容")


def test_pinned_passages_go_first_and_survive_outline_regeneration(ws: Workspace) -> None:
    pid = ws.create_project(_brief())
    ui_actions.pin_passage(ws, pid, _passage(1))
    ui_actions.pin_passage(ws, pid, _passage(2))
    assert [p.chunk_id for p in ws.load(pid).passages] == ["c1", "c2"]
    ui_actions.generate_outline(ws, pid, None, ui_state.ScriptedChatModel())
    project = ws.load(pid)
    assert [p.chunk_id for p in project.passages][:2] == ["c1", "c2"]
    assert project.outline is not None
    ui_actions.drop_passage(ws, pid, "c1")
    assert [p.chunk_id for p in ws.load(pid).passages] == ["c2"]


def test_regenerate_one_section_keeps_the_others(ws: Workspace) -> None:
    pid = ws.create_project(_brief())
    ws.save_outline(pid, _outline())
    new = ui_actions.regenerate_section(ws, pid, 2, ui_state.ScriptedChatModel())
    assert new.sections[1] == _outline().sections[1]
    assert new.sections[2].heading != "狠抓落实" and new.sections[2].budget == 400
    with pytest.raises(DraftingError, match="开头和结尾"):
        ui_actions.regenerate_section(ws, pid, 0, ui_state.ScriptedChatModel())


def test_draft_rewrite_and_slow_revision_make_new_versions(ws: Workspace) -> None:
    model = ui_state.ScriptedChatModel()
    pid = ws.create_project(_brief())
    ws.save_outline(pid, _outline())
    with pytest.raises(DraftingError, match="还没有完成的稿子"):
        ui_actions.quick_rewrite(ws, pid, 1, "colloquial", model)
    run = ui_actions.write_full_draft(ws, pid, model)
    assert run.draft.complete and len(ws.versions(pid)) == 1
    v2 = ui_actions.quick_rewrite(ws, pid, 1, "strengthen", model, criterion=Criterion.JIEDIQI)
    assert v2.number == 2 and "接地气" in v2.note and any("接地气" in p for p in model.history[-2:])
    found = ui_actions.collect_comments(ws, pid, model)
    assert found and all(c.status == CommentStatus.PENDING for c in ws.comments(pid, 2))
    ui_actions.set_comment_status(ws, pid, 2, found[0], CommentStatus.ACCEPTED)
    own = ui_actions.add_writer_comment(ws, pid, 2, 1, "加一个本地事例")
    v3 = ui_actions.consolidate_comments(ws, pid, model)
    assert v3.number == 3 and {c.id for c in v3.addressed} >= {found[0].id, own.id}
    assert [v.number for v in ws.versions(pid)] == [1, 2, 3]
    assert ui_actions.key_point_coverage(v3.draft).keys() == {"隐患排查"}


def test_consolidate_needs_an_accepted_comment_or_a_missing_key_point(ws: Workspace) -> None:
    model = ui_state.ScriptedChatModel()
    pid = ws.create_project(_brief().model_copy(update={"key_points": []}))
    ws.save_outline(pid, _outline())
    ui_actions.write_full_draft(ws, pid, model)
    with pytest.raises(DraftingError, match="没有采纳的意见"):
        ui_actions.consolidate_comments(ws, pid, model)
    assert len(ws.versions(pid)) == 1


def test_material_upload_reads_text_and_rejects_binary() -> None:
    assert ui_actions.read_material("批示.txt", "请抓紧部署隐患排查。".encode()) == "请抓紧部署隐患排查。"
    with pytest.raises(DraftingError, match="不是文本"):
        ui_actions.read_material("x.txt", b"\x00\x01\x02\x03" * 300)
    with pytest.raises(DraftingError, match="不支持"):
        ui_actions.read_material("x.exe", b"MZ")


def test_md_text_leaves_nothing_for_markdown_to_interpret() -> None:
    raw = "![x](http://10.255.255.1/a?q=1) <img src=x onerror=alert(1)> [链接](http://e.cn) :red[红] $x$ **粗**"
    out = ui_views.md_text(raw)
    assert not re.search(r"[!-/:-@\[-`{-~]", re.sub(r"\\.", "", out))  # every mark escaped
    assert re.sub(r"\\(.)", r"\1", out) == raw  # unescaped, it is exactly the text


def test_marked_html_escapes_and_marks_placeholders_and_figures() -> None:
    out = ui_views.marked_html("<b>共 4321 处</b>〔待补：完成率〕", ["4321"], focus="共")
    assert "<b>" not in out and "&lt;b&gt;" in out
    assert '<mark class="todo"' in out and '<mark class="verify"' in out and '<mark class="focus"' in out


def test_local_time_and_short_names_read_like_an_office() -> None:
    assert ui_views.local_time("2026-11-27T08:27:00+00:00").startswith("2026年11月27日")
    assert re.fullmatch(r"2026年11月27日 \d{2}:27", ui_views.local_time("2026-11-27T08:27:00+00:00"))
    assert ui_views.local_time("不是时间") == "不是时间"
    name = ui_views.short_name("关于印发《全县安全生产专项整治三年行动实施方案》的通知")
    assert name == "关于印发《全县安全生产专项整治三年行…》"


def test_clean_text_drops_citation_markers() -> None:
    from drafting.domain import Draft, DraftSection

    draft = Draft(
        title="讲话",
        brief=_brief(),
        outline=_outline(),
        sections=[DraftSection(heading="一、甲", text="要抓落实[1]。[2]")],
    )
    assert ui_views.clean_text(draft) == "讲话\n\n一、甲\n要抓落实。"


# -- stopping a generation (issue 14 item 4) ------------------------------------------------------
class _Interrupt(BaseException):
    """Stands in for Streamlit's StopException / RerunException (BaseExceptions raised by a drawing call)."""


def _stop_after(n: int) -> ui_state.StopOnInterrupt:
    seen: list[object] = []

    def update(*args: object) -> None:
        seen.append(args)
        if len(seen) >= n:
            raise _Interrupt()

    return ui_state.StopOnInterrupt(update)


def _outlined(ws: Workspace, model: ui_state.ScriptedChatModel) -> str:
    brief = brief_from_request(
        "请为王县长起草一篇在全县安全生产工作会议上的讲话稿，600字左右，讲清形势、重点任务和责任落实。"
    )
    pid = ui_actions.create_or_update(ws, None, brief)
    ui_actions.generate_outline(ws, pid, None, model)
    return pid


def test_stopping_the_draft_keeps_what_was_written_and_resume_finishes(ws: Workspace) -> None:
    model = ui_state.ScriptedChatModel()
    pid = _outlined(ws, model)
    guard = _stop_after(40)
    with pytest.raises(ui_state.GenerationStopped):
        ui_actions.write_full_draft(ws, pid, model, on_event=guard)
    assert isinstance(guard.interrupt, _Interrupt)  # the page re-raises it, so Streamlit's rerun goes on
    kept = ws.load(pid).working
    assert kept is not None and not kept.complete and kept.char_count > 20, kept
    assert not ws.load(pid).versions  # a stopped draft is work in progress, not a version
    run = ui_actions.continue_draft(ws, pid, model)
    assert run.draft.complete and ws.load(pid).versions


def test_watched_model_shows_pieces_and_stopping_the_outline_keeps_the_old_one(ws: Workspace) -> None:
    inner = ui_state.ScriptedChatModel()
    pid = _outlined(ws, inner)
    before = ws.load(pid).outline
    pieces: list[str] = []
    watched = ui_state.WatchedChatModel(inner=inner, on_piece=pieces.append)
    again = ui_actions.generate_outline(ws, pid, None, watched)
    assert pieces and again.sections[1].heading in "".join(pieces)
    guard = _stop_after(3)
    with pytest.raises(ui_state.GenerationStopped):
        ui_actions.generate_outline(ws, pid, None, ui_state.WatchedChatModel(inner=inner, on_piece=guard))
    assert ws.load(pid).outline == again  # the stopped call saved nothing
    assert before is not None


# -- bank entries per outline part (issue 12) -------------------------------------------------------
def test_outline_offers_per_part_and_the_writer_gets_the_chosen_entries(ws: Workspace) -> None:
    from drafting.writing.draft import bank_extras
    from drafting.writing.outline import outline_from_text, outline_to_text

    model = ui_state.ScriptedChatModel()
    pid = _outlined(ws, model)
    project = ws.load(pid)
    assert project.outline is not None and project.brief is not None
    brief, outline = project.brief, project.outline
    # Untouched: the page shows the writer step's default picks, each on the part carrying its principle.
    shown = ui_views.chosen_or_default(outline, brief)
    _, default_classics, default_formulations = bank_extras(brief)
    assert [t for s in shown.sections for t in s.classics or []] == [c.text for c in default_classics]
    assert [t for s in shown.sections for t in s.formulations or []] == [f.text for f in default_formulations]
    first = next(i for i, s in enumerate(outline.sections) if s.kind == "body")
    classics, formulations = ui_views.offers_for(brief, outline.sections[first])
    assert classics and formulations
    # The writer swaps: one classic and one formulation that were not default picks.
    swap = next(c for c in classics if c not in default_classics)
    policy = next(f for f in formulations if f not in default_formulations)
    sections = [
        s.model_copy(
            update={"classics": [swap.text] if i == first else [], "formulations": [policy.text] if i == first else []}
        )
        for i, s in enumerate(outline.sections)
    ]
    ui_actions.save_outline(ws, pid, outline.model_copy(update={"sections": sections}))
    chosen = ws.load(pid).outline
    assert chosen is not None
    extras, offered, offered_f = bank_extras(brief, outline=chosen)
    assert offered == [swap] and offered_f == [policy] and swap.text in extras and policy.text in extras
    # An edit of the outline text keeps the choice.
    edited = ui_views.keep_refs(outline_from_text(outline_to_text(chosen), brief), chosen)
    assert edited.sections[first].classics == [swap.text]
    # The writer step gets exactly the chosen line.
    ui_actions.write_full_draft(ws, pid, model)
    body_prompt = next(p for p in model.history if "请写出全文正文" in p)
    assert swap.text in body_prompt
    assert not any(c.text in body_prompt for c in default_classics if c != swap)
    assert policy.text in body_prompt and not any(f.text in body_prompt for f in default_formulations)


def test_a_click_elsewhere_waits_for_the_generation_and_only_cancel_stops_it(ws: Workspace) -> None:
    from streamlit.proto.WidgetStates_pb2 import WidgetStates
    from streamlit.runtime.scriptrunner_utils.exceptions import RerunException
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

    def rerun_for(key: str) -> RerunException:
        states = WidgetStates()
        widget = states.widgets.add()
        widget.id = f"$$ID-0123abcd-{key}"
        widget.trigger_value = True
        return RerunException(RerunData(widget_states=states))

    assert ui_state.asks_to_stop(rerun_for(ui_state.STOP_KEY))
    assert not ui_state.asks_to_stop(rerun_for("step"))
    model = ui_state.ScriptedChatModel()
    pid = _outlined(ws, model)
    calls: list[object] = []

    def clicked_elsewhere(*args: object) -> None:
        calls.append(args)
        if len(calls) == 5:
            raise rerun_for("step")

    guard = ui_state.StopOnInterrupt(clicked_elsewhere)
    run = ui_actions.write_full_draft(ws, pid, model, on_event=guard)
    assert run.draft.complete and guard.interrupt is None and guard.deferred is not None
    with pytest.raises(RerunException):  # the page then reruns with the writer's click
        guard.rerun()


def test_progress_never_shows_a_heading_split_across_two_parts() -> None:
    from drafting.events import TokenStreamed

    progress = ui_views.Progress()
    for index, piece in [(0, "同志们：\n今天开会。\n一"), (1, "、提高政治站位\n要抓落实。")]:
        progress.on_event(TokenStreamed(index=index, piece=piece))
    assert "\n一、提高政治站位\n" in progress.text
