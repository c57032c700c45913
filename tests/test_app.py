"""The Streamlit page driven headlessly with AppTest, a scripted fake model and deterministic embeddings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from drafting import config
from drafting.config import get_settings
from drafting.llm import client as llm
from drafting.ui.state import PROJECT, ScriptedChatModel
from drafting.workspace import Workspace

APP = str(Path(__file__).resolve().parent.parent / "app.py")
REQUEST = "请为王县长起草一篇在全县安全生产工作会议上的讲话稿，600字左右，讲清形势、重点任务和责任落实。"


class Models:
    """What get_chat_model hands out; tests swap ``current`` to simulate failures."""

    def __init__(self) -> None:
        self.current = ScriptedChatModel()

    def __call__(self, settings: config.Settings | None = None, **_: object) -> ScriptedChatModel:
        return self.current


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch, fake_embeddings: object) -> Models:
    m = Models()
    monkeypatch.setattr(llm, "get_chat_model", m)
    monkeypatch.setattr(llm, "get_embeddings", lambda: fake_embeddings)
    monkeypatch.delenv("DRAFTING_FAKE_LLM", raising=False)
    st.cache_resource.clear()
    yield m
    st.cache_resource.clear()


def fresh() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def step(at: AppTest, name: str) -> None:
    at.segmented_control(key="step").set_value(name).run()
    assert not at.exception, at.exception


def texts(at: AppTest) -> str:
    elements = (*at.markdown, *at.caption, *at.success, *at.info, *at.warning, *at.error, *at.get("html"))
    parts = [e.value if hasattr(e, "value") else e.proto.body for e in elements]
    return "\n".join(str(p) for p in parts)


def create_from_request(at: AppTest, request: str = REQUEST) -> str:
    at.text_area(key="f_request_new").input(request)
    at.button(key="submit_request").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at.session_state[PROJECT]


def drafted_project(at: AppTest) -> str:
    """A project created from REQUEST, taken through outline and first draft with no edits."""
    pid = create_from_request(at)
    step(at, "提纲")
    at.button(key="outline_go").click().run()
    step(at, "正文")
    at.button(key="draft_go").click().run()
    return pid


def test_pasted_instruction_to_export(models: Models) -> None:
    at = fresh()
    pid = create_from_request(at)
    assert pid and at.segmented_control(key="step").value == "任务"  # the parsed brief, to be checked
    at.button(key="task_next").click().run()
    assert at.segmented_control(key="step").value == "提纲"
    at.button(key="outline_go").click().run()
    assert not at.error, [e.value for e in at.error]
    outline_prompt = next(p for p in models.current.history if "请拟一份提纲" in p)
    assert "安全生产" in outline_prompt and "约600字" in outline_prompt
    assert "提纲已生成" in texts(at)
    assert "提高政治站位" in next(t for t in at.text_area if t.label == "提纲文本").value

    step(at, "正文")
    at.button(key="draft_go").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "初稿已完成" in texts(at)
    assert "一、提高政治站位" in texts(at)
    saved = Workspace(get_settings().workspace_path).load(pid)
    assert len(saved.versions) == 1 and saved.versions[0].draft.complete
    assert all(s.text.strip() for s in saved.versions[0].draft.sections)
    assert "突出工作重点，要把思想和行动统一到上级决策部署上来" in texts(at)  # the body as written, on the page

    step(at, "审阅")
    at.button(key="review_go").click().run()
    assert not at.error, [e.value for e in at.error]
    assert any("按上面 8 项标准逐项审阅" in p for p in models.current.history)
    assert "审阅完成" in texts(at)
    assert len(at.image) == 1  # the radar chart
    assert any("通天气" in e.label for e in at.expander)

    step(at, "导出")
    labels = [b.label for b in at.get("download_button")]
    assert "下载 Word（.docx）" in labels and "下载 Markdown" in labels, [*at.error, *at.exception, *at.warning]


def test_empty_brief_shows_chinese_error_and_saves_nothing(models: Models) -> None:
    at = fresh()
    at.button(key="submit_request").click().run()
    assert not at.exception
    assert any("任务为空" in e.value for e in at.error)
    at.text_area(key="f_request_new").input("   ")
    at.button(key="submit_fields").click().run()  # the structured form, all empty
    assert any("任务为空" in e.value for e in at.error)
    assert Workspace(get_settings().workspace_path).list_projects() == []


def test_provider_failure_keeps_partial_draft_and_resume_finishes(models: Models) -> None:
    at = fresh()
    pid = create_from_request(at)
    step(at, "提纲")
    at.button(key="outline_go").click().run()
    step(at, "正文")
    # Call 1 of the new model writes the whole piece: it breaks halfway.
    models.current = ScriptedChatModel(fail_on_call=1)
    st.cache_resource.clear()
    at.button(key="draft_go").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any("无法连接" in e for e in errors), errors
    assert "Traceback" not in texts(at)
    saved = Workspace(get_settings().workspace_path).load(pid)
    assert saved.working is not None and not saved.working.complete
    assert saved.working.sections[0].complete and saved.working.sections[0].text
    assert saved.versions == []
    assert at.button(key="draft_resume").disabled is False

    models.current = ScriptedChatModel()
    st.cache_resource.clear()
    at.button(key="draft_resume").click().run()
    assert not at.error, [e.value for e in at.error]
    saved = Workspace(get_settings().workspace_path).load(pid)
    assert len(saved.versions) == 1 and saved.versions[0].draft.complete
    # The finished opening was kept: the resumed run only wrote what was missing, in follow-up turns.
    history = models.current.history
    # The piece is not started again (follow-ups carry the first request as their shared prefix).
    assert not any("请写出全文正文" in p and "还写得太短" not in p for p in history)
    assert any("还写得太短" in p for p in history)  # only the missing parts are written


def test_restart_shows_project_and_versions(models: Models) -> None:
    at = fresh()
    pid = drafted_project(at)
    del at

    again = fresh()  # a new session on the same data directory
    assert again.session_state[PROJECT] == pid
    opened = again.sidebar.button(key=f"open_project_{pid}")
    assert "1 稿" in opened.label and opened.proto.type == "secondary"  # shown as the open project
    assert again.segmented_control(key="step").value == "正文"
    assert "初稿已完成" not in texts(again)  # flash messages do not outlive their session
    assert "一、提高政治站位" in texts(again)
    again.sidebar.button(key="new_project").click().run()
    other = create_from_request(again, "请起草一份关于开展消防安全检查的通知，800字。")
    assert other != pid and again.title[0].value != "在全县安全生产工作会议上的讲话"
    again.sidebar.button(key=f"open_project_{pid}").click().run()  # back to the first project
    assert again.session_state[PROJECT] == pid and again.title[0].value == "在全县安全生产工作会议上的讲话"


def test_corpus_search_highlights_and_pins(models: Models) -> None:
    at = fresh()
    pid = create_from_request(at)
    step(at, "范文")
    at.text_input(key="search_query").input("安全生产")
    at.button(key="search_go").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "<mark>安全生产</mark>" in texts(at)
    pin = next(b for b in at.button if b.key and b.key.startswith("pin_"))
    pin.click().run()
    saved = Workspace(get_settings().workspace_path).load(pid)
    assert saved.passages and saved.passages[0].origin == "pinned"


def test_bad_upload_reports_reason_per_file(models: Models) -> None:
    at = fresh()
    step(at, "范文")
    at.get("file_uploader")  # present
    from drafting.ui.actions import upload_to_corpus
    from drafting.ui.state import get_store

    store = get_store(get_settings())
    report = upload_to_corpus(
        [("坏文件.txt", b"\x00\x01\x02" * 400), ("x.exe", b"MZ")], store, get_settings().data_dir / "uploads"
    )
    reasons = dict(report.failed)
    assert "坏文件.txt" in reasons and "不是文本" in reasons["坏文件.txt"]
    assert "x.exe" in reasons and "不支持" in reasons["x.exe"]


def test_revise_urgent_and_slow_rounds_with_diff(models: Models) -> None:
    at = fresh()
    pid = drafted_project(at)
    step(at, "修改")
    at.button(key="colloquial_1").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "已形成第2稿" in texts(at)
    assert any("更口语化" in p for p in models.current.history)

    at.segmented_control(key=f"mode_{pid}").set_value("慢稿").run()
    at.button(key="comments_go").click().run()
    assert not at.error, [e.value for e in at.error]
    comments = Workspace(get_settings().workspace_path).comments(pid, 2)
    assert comments and "补充具体措施" in texts(at)
    at.button(key=f"rej_{comments[0].id}").click().run()
    at.button(key=f"acc_{comments[1].id}").click().run()
    statuses = {c.id: c.status.value for c in Workspace(get_settings().workspace_path).comments(pid, 2)}
    assert statuses[comments[0].id] == "rejected" and statuses[comments[1].id] == "accepted"
    if len(comments) > 2:  # pending comments: a warning, and building needs a deliberate tick
        assert any("待定" in w.value for w in at.warning)
        assert at.button(key="consolidate_go").disabled
        at.checkbox(key="ignore_pending").check().run()
    at.button(key="consolidate_go").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "已形成第3稿" in texts(at)
    assert [v.number for v in Workspace(get_settings().workspace_path).versions(pid)] == [1, 2, 3]
    compare = [h.proto.body for h in at.get("html") if "第2稿" in h.proto.body]
    assert compare and "第3稿" in compare[0]  # side-by-side comparison


def test_brief_survives_create_step_switch_and_save(models: Models) -> None:
    """Issue 19.1: the parsed brief is shown after creating, kept across steps, and saving keeps it."""
    at = fresh()
    pid = create_from_request(at)
    ws = Workspace(get_settings().workspace_path)
    parsed = ws.load(pid).brief
    assert parsed is not None and parsed.length == 600 and parsed.speaker
    assert at.number_input(key=f"f_length_{pid}").value == 600
    assert at.text_input(key=f"f_speaker_{pid}").value == parsed.speaker
    assert "当前任务书" in texts(at) and parsed.speaker in texts(at)
    step(at, "提纲")
    step(at, "任务")
    assert at.number_input(key=f"f_length_{pid}").value == 600
    assert at.text_input(key=f"f_title_{pid}").value == parsed.title
    at.button(key="submit_fields").click().run()
    assert not at.error, [e.value for e in at.error]
    saved = ws.load(pid).brief
    assert saved is not None
    assert (saved.title, saved.occasion, saved.speaker, saved.length) == (
        parsed.title,
        parsed.occasion,
        parsed.speaker,
        parsed.length,
    )
    assert saved.request == parsed.request


def test_unsaved_form_edits_survive_a_step_switch(models: Models) -> None:
    at = fresh()
    pid = create_from_request(at)
    at.text_input(key=f"f_audience_{pid}").input("全县各乡镇主要负责同志").run()
    step(at, "范文")
    step(at, "任务")
    assert at.text_input(key=f"f_audience_{pid}").value == "全县各乡镇主要负责同志"
    at.button(key="submit_fields").click().run()
    assert Workspace(get_settings().workspace_path).load(pid).brief.audience == "全县各乡镇主要负责同志"


def test_form_shows_each_projects_own_brief_after_switching(models: Models) -> None:
    at = fresh()
    first = create_from_request(at)
    at.sidebar.button(key="new_project").click().run()
    assert at.text_area(key="f_request_new").value == ""  # a new project starts empty
    second = create_from_request(at, "请起草一份关于开展消防安全检查的通知，800字。")
    at.sidebar.button(key=f"open_project_{first}").click().run()
    step(at, "任务")
    assert at.number_input(key=f"f_length_{first}").value == 600
    assert "安全生产" in at.text_area(key=f"f_request_{first}").value
    at.sidebar.button(key=f"open_project_{second}").click().run()
    step(at, "任务")
    assert at.number_input(key=f"f_length_{second}").value == 800
    assert at.selectbox(key=f"f_genre_{second}").value == "通知"
    at.button(key="submit_fields").click().run()
    ws = Workspace(get_settings().workspace_path)
    assert ws.load(first).brief.length == 600 and ws.load(second).brief.genre == "通知"


def test_mode_choice_is_on_the_pasted_instruction_path(models: Models) -> None:
    at = fresh()
    at.radio(key="f_mode_new").set_value("慢稿")
    pid = create_from_request(at)
    assert Workspace(get_settings().workspace_path).load(pid).brief.mode.value == "slow"


def test_deciding_a_comment_keeps_the_order(models: Models) -> None:
    """Issue 19.3: accepting the second of three comments accepts that one and moves nothing."""
    at = fresh()
    pid = drafted_project(at)
    step(at, "修改")
    at.segmented_control(key=f"mode_{pid}").set_value("慢稿").run()
    at.button(key="comments_go").click().run()
    ws = Workspace(get_settings().workspace_path)
    comments = ws.comments(pid, 1)
    assert len(comments) >= 3

    def order() -> list[str]:
        return [b.key[4:] for b in at.button if b.key and b.key.startswith("acc_")]

    before = order()
    at.button(key=f"acc_{before[1]}").click().run()
    assert order() == before
    at.button(key=f"rej_{before[0]}").click().run()
    assert order() == before
    statuses = {c.id: c.status.value for c in ws.comments(pid, 1)}
    assert statuses[before[1]] == "accepted" and statuses[before[0]] == "rejected"
    assert statuses[before[2]] == "pending"
    assert [c.id for c in ws.comments(pid, 1)] == [c.id for c in comments]
    assert any(f"{len(comments) - 2} 条意见待定" in w.value for w in at.warning)


def test_test_connection_shows_one_line(models: Models, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19.4: no bare expression renders Streamlit internals into the sidebar."""
    monkeypatch.setattr(llm, "check_endpoint", lambda settings, timeout=5.0: ["qwen-plus"])
    at = fresh()
    at.sidebar.button(key="set_test").click().run()
    assert not at.exception
    assert len(at.sidebar.success) == 1 and "qwen" in at.sidebar.success[0].value
    assert not at.sidebar.get("doc_string") and not at.sidebar.get("help")


def test_settings_test_connection_and_save_without_clear_key(models: Models, monkeypatch: pytest.MonkeyPatch) -> None:
    from drafting.errors import ProviderError

    asked: list[config.Settings] = []

    def refuse(settings: config.Settings, timeout: float = 5.0) -> list[str]:
        asked.append(settings)
        raise ProviderError("模型服务拒绝了 API Key（HTTP 401），请检查密钥设置。")

    monkeypatch.setattr(llm, "check_endpoint", refuse)
    at = fresh()
    at.sidebar.radio(key="set_provider").set_value("OpenAI 兼容接口").run()
    at.sidebar.text_input(key="set_url").input("https://api.example.com/v1")
    at.sidebar.text_input(key="set_model").input("qwen-plus")
    at.sidebar.text_input(key="set_key").input("sk-secret-abcdef123456")
    at.sidebar.button(key="set_test").click().run()
    assert not at.exception
    assert any("拒绝了 API Key" in e.value for e in at.sidebar.error)
    assert asked[-1].llm_base_url == "https://api.example.com/v1" and asked[-1].llm_api_key == "sk-secret-abcdef123456"

    at.sidebar.button(key="set_save").click().run()
    assert not at.exception
    data_dir = get_settings().data_dir
    assert "qwen-plus" in (data_dir / "settings.toml").read_text(encoding="utf-8")
    for f in data_dir.iterdir():
        if f.is_file():
            assert b"sk-secret-abcdef123456" not in f.read_bytes(), f.name
    config.get_settings.cache_clear()
    again = fresh()  # restart: the endpoint and the (decrypted) key come back
    assert again.sidebar.radio(key="set_provider").value == "OpenAI 兼容接口"
    assert again.sidebar.text_input(key="set_url").value == "https://api.example.com/v1"
    from drafting.ui.state import current_settings

    assert current_settings().llm_api_key == "sk-secret-abcdef123456"


UNSAFE_MARKDOWN = re.compile(r"(?<!\\)(!\[|\]\(|<(img|script|svg|iframe))|https?://10\.255")
ACTIVE_TAG = re.compile(r"<(img|script|svg|iframe)", re.I)


def _walk(node: object) -> Iterator[object]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def rendered_markup(at: AppTest) -> tuple[list[str], list[str]]:
    """(Markdown sources incl. labels, HTML bodies) of everything drawn, with allow_html checked off."""
    markdown, htmls = [], []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if kind == "html":
            htmls.append(proto.body)
        elif kind in {"markdown", "caption", "title", "header", "subheader", "success", "info", "warning", "error"}:
            markdown.append(str(node.value))
            if kind == "markdown":
                assert not proto.allow_html or "<style>" in proto.body, proto.body[:200]
        elif hasattr(node, "label") and isinstance(node.label, str):
            markdown.append(node.label)
    return markdown, htmls


def test_planted_payload_is_rendered_as_text(models: Models) -> None:
    """Issue 15.1 (the fast half; tests/test_browser.py proves it in Chromium): no step passes a
    model's, a 范文's or the writer's text to Streamlit as live HTML or live Markdown."""
    from tests.planted import OUTSIDE, seed_planted_project

    seed_planted_project(get_settings().workspace_path)
    at = fresh()
    pages = [
        ("正文", None),
        ("审阅", None),
        ("修改", "急稿"),
        ("修改", "慢稿"),
        ("导出", None),
        ("任务", None),
        ("提纲", None),
    ]
    seen = ""
    for name, mode in pages:
        step(at, name)
        if mode:
            pid = at.session_state[PROJECT]
            at.segmented_control(key=f"mode_{pid}").set_value(mode).run()
        markdown, htmls = rendered_markup(at)
        for text in markdown:
            assert not UNSAFE_MARKDOWN.search(text), (name, mode, text[:300])
        for body in htmls:
            assert not ACTIVE_TAG.search(body), (name, mode, body[:300])
        seen += "\n".join(markdown + htmls)
    assert OUTSIDE in seen and "onerror" in seen  # shown as text, not dropped


def test_draft_edit_in_place_saves_a_new_version(models: Models) -> None:
    at = fresh()
    pid = drafted_project(at)
    at.toggle(key="edit_on").set_value(True).run()
    first = Workspace(get_settings().workspace_path).load(pid).versions[0].draft
    body = next(i for i, s in enumerate(first.sections) if s.kind == "body")
    at.text_area(key=f"edit_{pid}_1_{body}").input("我改写的这一段，要落实到每一个岗位。").run()
    at.button(key="edit_save").click().run()
    assert not at.error, [e.value for e in at.error]
    saved = Workspace(get_settings().workspace_path).load(pid)
    assert [v.number for v in saved.versions] == [1, 2]
    assert saved.versions[1].draft.sections[body].text == "我改写的这一段，要落实到每一个岗位。"
    assert saved.versions[0].draft == first  # the first version is untouched
    assert "我改写的这一段" in texts(at) and not at.toggle(key="edit_on").value


def test_copy_text_is_clean_and_placeholders_are_marked(models: Models) -> None:
    at = fresh()
    pid = drafted_project(at)
    ws = Workspace(get_settings().workspace_path)
    draft = ws.load(pid).versions[0].draft
    body = next(i for i, s in enumerate(draft.sections) if s.kind == "body")
    at.toggle(key="edit_on").set_value(True).run()
    at.text_area(key=f"edit_{pid}_1_{body}").input("今年排查隐患 4321 处[1]，〔待补：整改完成率〕。").run()
    at.button(key="edit_save").click().run()
    saved = ws.load(pid).versions[-1].draft
    assert "[1]" in saved.body_text  # the draft itself keeps its citation mark
    copy = at.code[0].value
    assert "[1]" not in copy and copy.startswith(saved.title) and "4321 处，〔待补：整改完成率〕" in copy
    page = "\n".join(h.proto.body for h in at.get("html"))
    assert '<mark class="todo"' in page and "〔待补：整改完成率〕</mark>" in page
    assert '<mark class="verify"' in page and ">4321</mark>" in page, page[-800:]


def test_compare_restore_and_export_any_version(models: Models) -> None:
    at = fresh()
    pid = drafted_project(at)
    step(at, "修改")
    at.button(key="colloquial_1").click().run()
    compare = next(h.proto.body for h in at.get("html") if 'class="cmp"' in h.proto.body)
    assert "<col><col>" in compare and "第1稿" in compare and "第2稿" in compare
    assert "<td" in compare and "white-space: pre" not in compare  # two readable columns
    times = [str(v) for v in at.dataframe[-1].value["时间"]]
    assert all(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", t) for t in times), times
    notes = " ".join(str(v) for v in at.dataframe[-1].value["说明"])
    assert "opening" not in notes and "closing" not in notes and "body" not in notes
    at.selectbox(key="restore_2").set_value("第1稿")
    at.button(key="restore_go").click().run()
    saved = Workspace(get_settings().workspace_path).load(pid)
    assert [v.number for v in saved.versions] == [1, 2, 3]
    assert saved.versions[2].draft.sections == saved.versions[0].draft.sections
    assert "恢复为第1稿" in saved.versions[2].note
    step(at, "导出")
    assert at.selectbox(key="export_pick_3").value.startswith("第3稿")
    at.selectbox(key="export_pick_3").set_value(at.selectbox(key="export_pick_3").options[1]).run()
    assert any(c.value.startswith("第2稿 · ") for c in at.caption), [c.value for c in at.caption]


def test_review_marks_evidence_and_applies_a_suggestion(models: Models) -> None:
    at = fresh()
    pid = drafted_project(at)
    step(at, "审阅")
    at.button(key="review_go").click().run()
    review = Workspace(get_settings().workspace_path).load(pid).review
    evidence = review.scores[0].evidence
    at.button(key="focus_0").click().run()
    page = "\n".join(h.proto.body for h in at.get("html"))
    assert '<mark class="focus"' in page and evidence in page
    at.button(key="apply_0").click().run()
    assert not at.error, [e.value for e in at.error]
    saved = Workspace(get_settings().workspace_path).load(pid)
    assert len(saved.versions) == 2 and "通天气" in saved.versions[1].note
    assert any("通天气" in p for p in models.current.history[-1:])


def test_outline_text_edit_keeps_references_and_refreshes(models: Models) -> None:
    at = fresh()
    pid = create_from_request(at)
    step(at, "提纲")
    at.button(key="outline_go").click().run()
    ws = Workspace(get_settings().workspace_path)
    before = ws.load(pid).outline
    assert any(s.refs for s in before.sections)
    box = next(t for t in at.text_area if t.label == "提纲文本")
    box.input(box.value.replace("提高政治站位", "提高思想认识")).run()
    at.button(key="outline_save_text").click().run()
    after = ws.load(pid).outline
    assert any("提高思想认识" in s.heading for s in after.sections)
    assert [s.refs for s in after.sections] == [s.refs for s in before.sections]
    assert "提高思想认识" in next(t for t in at.text_area if t.label == "提纲文本").value


def test_review_reports_uncovered_key_points(models: Models) -> None:
    at = fresh()
    at.text_area(key="f_request_new").input("请起草一份关于开展消防安全检查的通知，800字。")
    at.button(key="submit_request").click().run()
    pid = at.session_state[PROJECT]
    at.text_area(key=f"f_key_points_{pid}").input("冬春火灾防控\n老旧小区电动自行车充电整治").run()
    at.button(key="submit_fields").click().run()
    at.button(key="outline_go").click().run()
    step(at, "正文")
    at.button(key="draft_go").click().run()
    step(at, "审阅")
    warnings = [w.value for w in at.warning]
    assert any("任务要点有" in w and "电动自行车" in w for w in warnings), warnings
    assert not any("没有发现问题" in s.value for s in at.success)


def test_writer_comment_on_a_quoted_passage(models: Models) -> None:
    """A comment on a passage picked from the draft (a sentence, not only a paragraph number)."""
    at = fresh()
    pid = drafted_project(at)
    step(at, "修改")
    at.segmented_control(key=f"mode_{pid}").set_value("慢稿").run()
    draft = Workspace(get_settings().workspace_path).load(pid).versions[0].draft
    sentence = re.findall(r"[^。！？；]+[。！？；]", draft.paragraphs[3])[1]
    at.selectbox(key="own_quote").set_value(f"第4段：{sentence}")
    next(t for t in at.text_area if t.label == "意见").input("这句换成本县的实例。")
    next(b for b in at.button if b.label == "添加意见").click().run()
    (comment,) = Workspace(get_settings().workspace_path).comments(pid, 1)
    assert comment.quote == sentence and comment.paragraph == 3 and comment.status.value == "accepted"
    assert f"针对“{sentence}”" in texts(at).replace("\\", "")
