"""The workflow steps of the page (任务 范文 提纲 正文): widgets -> drafting.ui_actions -> render.

Each ``page_*`` function draws one step. No business logic here: actions live in
``ui_actions``, view models in ``ui_views``, keys and factories in ``ui_state``.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import pandas as pd
import streamlit as st

from drafting import team
from drafting.config import Settings
from drafting.domain import GENRES, Brief, Draft, Outline, RevisionMode
from drafting.events import EventKind, ProgressEvent
from drafting.ui import actions as act
from drafting.ui import state as S
from drafting.ui import views as V
from drafting.ui.ledger import section_ledger
from drafting.workspace import Project, Workspace
from drafting.writing.outline import outline_from_text, outline_to_text

__all__ = [
    "page_task",
    "page_corpus",
    "page_outline",
    "page_draft",
    "FIELD_KEYS",
    "form_key",
    "brief_form_values",
    "load_brief_into_form",
    "forget_form",
    "next_step",
    "latest_draft",
]

# Form widget keys of the 任务 page, by Brief field; each project gets its own (see form_key).
FIELD_KEYS = {
    "genre": "f_genre",
    "title": "f_title",
    "occasion": "f_occasion",
    "speaker": "f_speaker",
    "audience": "f_audience",
    "length": "f_length",
    "key_points": "f_key_points",
    "policy": "f_policy",
    "facts": "f_facts",
    "mode": "f_mode",
    "request": "f_request",
    "material": "f_material_text",
}
# The form's unsaved values per project: widget state is dropped whenever the 任务 page is not
# drawn, so the page keeps its own copy (a plain key, which Streamlit never drops).
FORM_SHADOW = "form_shadow_"
MODES = {"急稿": RevisionMode.URGENT, "慢稿": RevisionMode.SLOW}
# The two bank pickers of an outline part: (label, widget key prefix, placeholder when none is picked).
_PICKERS = (("经典名句（溢才气）", "offer_c", "不引用名句"), ("上级提法（通天气）", "offer_f", "不用上级提法"))


def form_key(field: str, project_id: str | None) -> str:
    """The widget key of one 任务 field for one project ("new" before the project exists)."""
    return f"{FIELD_KEYS[field]}_{project_id or 'new'}"


def brief_form_values(brief: Brief | None) -> dict[str, Any]:
    """What the 任务 widgets show for a saved brief (or an empty one)."""
    b = brief or Brief()
    values: dict[str, Any] = b.model_dump()
    values["key_points"] = "\n".join(b.key_points)
    values["mode"] = b.mode.label
    values["material"] = "\n\n".join(b.material)
    if b.genre not in GENRES:
        values["genre"] = GENRES[0]
    values["length"] = max(100, min(30000, int(b.length)))
    return {field: values[field] for field in FIELD_KEYS}


def load_brief_into_form(project_id: str | None, brief: Brief | None) -> None:
    """Seed the 任务 widgets of a project from its unsaved edits, else from its saved brief."""
    values = st.session_state.get(FORM_SHADOW + (project_id or "new")) or brief_form_values(brief)
    for field in FIELD_KEYS:
        st.session_state.setdefault(form_key(field, project_id), values[field])


def forget_form(project_id: str | None) -> None:
    """Drop unsaved form values, so the next draw shows the saved brief."""
    st.session_state.pop(FORM_SHADOW + (project_id or "new"), None)
    for field in FIELD_KEYS:
        st.session_state.pop(form_key(field, project_id), None)


def _apply_preset(project_id: str | None) -> None:
    preset = V.load_presets().get(st.session_state.get("preset_pick") or "")
    if not preset:
        return
    for field, value in preset.items():
        if field in FIELD_KEYS:
            st.session_state[form_key(field, project_id)] = "\n".join(value) if field == "key_points" else value


def latest_draft(project: Project) -> Draft | None:
    return project.latest


def _done(message: str, step: str | None = None) -> None:
    S.flash("success", message)
    if step:
        S.go_to(step)
    st.rerun()


def next_step(label: str, step: str, key: str) -> None:
    """The 下一步 button at the foot of a step."""
    if st.button(f"下一步：{label} →", key=key):
        S.go_to(step)
        st.rerun()


def brief_summary_line(brief: Brief) -> str:
    """What was understood from the instruction, in one line the writer can check at a glance."""
    parts = [
        brief.genre,
        f"讲话人/发文单位：{brief.speaker or '未识别'}",
        f"场合：{brief.occasion or '未识别'}",
        f"约 {brief.length} 字",
        brief.mode.label,
    ]
    points = "；".join(brief.key_points) if brief.key_points else "未识别（可在下面逐行填写）"
    return " · ".join(parts) + f"\n\n要点：{points}"


# -- 任务 --------------------------------------------------------------------------------------
def _request_tab(project: Project | None, pid: str | None) -> bool:
    st.text_area(
        "领导交代",
        key=form_key("request", pid),
        height=140,
        placeholder="例如：请为王县长起草一篇在全县安全生产工作会议上的讲话稿，3000字左右，讲清形势、重点任务和责任落实。",
    )
    st.caption("可直接粘贴领导的原话，系统会识别文种、场合、讲话人、篇幅和要点；创建后请核对识别结果。")
    return st.button(
        "按领导交代创建" if project is None else "按领导交代重新识别", type="primary", key="submit_request"
    )


def _fields_tab(project: Project | None, pid: str | None) -> bool:
    a, b = st.columns(2)
    a.selectbox("文种", GENRES, key=form_key("genre", pid))
    b.number_input("篇幅（字）", min_value=100, max_value=30000, step=100, key=form_key("length", pid))
    st.text_input("标题", key=form_key("title", pid))
    a, b = st.columns(2)
    a.text_input("场合", key=form_key("occasion", pid), placeholder="在全县……会议上")
    b.text_input("讲话人 / 发文单位", key=form_key("speaker", pid))
    st.text_input("听众 / 主送", key=form_key("audience", pid))
    st.text_area("要点（每行一条）", key=form_key("key_points", pid), height=110)
    a, b = st.columns(2)
    a.text_area("上级精神", key=form_key("policy", pid), height=90)
    b.text_area("本地情况和数据", key=form_key("facts", pid), height=90)
    return st.button("创建项目" if project is None else "保存任务书", type="primary", key="submit_fields")


def page_task(ws: Workspace, project: Project | None) -> None:
    st.subheader("任务")
    pid = project.id if project else None
    load_brief_into_form(pid, project.brief if project else None)
    if project is not None and project.brief is not None:
        with st.container(border=True):
            st.markdown("**当前任务书**（识别或填写的结果，有不对的在“填写任务书”里改后保存）")
            st.markdown(V.md_text(brief_summary_line(project.brief)))
    names = V.preset_names()
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.selectbox(
        "常用模板（按文种和场合）", names, index=None, key="preset_pick", placeholder="选择一个模板，套用后再修改"
    )
    c2.button("套用模板", on_click=_apply_preset, args=(pid,), width="stretch")
    st.radio(
        "急稿 / 慢稿",
        list(MODES),
        key=form_key("mode", pid),
        horizontal=True,
        help="急稿：尽快出一篇完整可用的稿子；慢稿：出稿后由几位审稿人逐段提意见，您逐条定夺后再统稿。",
    )
    labels = ["粘贴领导交代", "填写任务书"]
    if project is not None:  # the saved brief first: that is what the writer checks and corrects
        labels.reverse()
    tabs = dict(zip(labels, st.tabs(labels), strict=True))
    with tabs["粘贴领导交代"]:
        from_request = _request_tab(project, pid)
    with tabs["填写任务书"]:
        from_fields = _fields_tab(project, pid)
    with st.expander(
        "素材（可选）：领导批示、会议材料、统计数据等，写作时优先参考",
        expanded=bool(st.session_state.get(form_key("material", pid))),
    ):
        st.text_area("粘贴素材", key=form_key("material", pid), height=100)
        uploads = st.file_uploader(
            "上传素材文件", type=["txt", "md", "docx", "pdf"], accept_multiple_files=True, key="material_files"
        )
    values = {field: st.session_state.get(form_key(field, pid)) for field in FIELD_KEYS}
    st.session_state[FORM_SHADOW + (pid or "new")] = dict(values)
    if project is not None and project.outline is not None:
        next_step("提纲", "提纲", "task_next")
    elif project is not None:
        next_step("生成提纲", "提纲", "task_next")
    if not (from_request or from_fields):
        return
    material = [t for t in [str(values.pop("material") or "").strip()] if t]
    for f in uploads or []:
        text, err = S.attempt(act.read_material, f.name, f.getvalue())
        if err:
            st.warning(V.md_text(f"素材“{f.name}”未能读取：{err}"))
        elif text:
            material.append(text)
    values["mode"] = MODES.get(values.get("mode") or "急稿", RevisionMode.URGENT).value
    if from_fields and project is not None and project.brief is not None:
        values["request"] = project.brief.request
    elif from_fields:
        values["request"] = ""
    brief, err = S.attempt(act.brief_from_form, values, material=material, from_request=from_request)
    if err or brief is None:
        st.error(V.md_text(err or S.GENERIC_ERROR))
        return
    new_pid, err = S.attempt(act.create_or_update, ws, pid, brief)
    if err or new_pid is None:
        st.error(V.md_text(err or S.GENERIC_ERROR))
        return
    forget_form(pid)
    forget_form(new_pid)
    st.session_state[S.PROJECT] = new_pid
    if from_request:
        _done("已按领导交代建好任务书。请核对上面的识别结果，有不对的在“填写任务书”里改后点“保存任务书”。")
    _done("任务书已保存。下一步：生成提纲。", "提纲")


# -- 范文 --------------------------------------------------------------------------------------
def _passage_card(p: Any, query: str, *, key: str, label: str, args: tuple[Any, ...] | None) -> None:
    with st.container(border=True):
        st.markdown(f"**{V.md_text(V.source_line(p))}**")
        st.html(f'<div class="passage">{V.highlight_html(query, p.text)}</div>')
        st.button(
            label,
            key=key,
            icon=":material/push_pin:",
            on_click=act.pin_passage if args else None,
            args=args,
            disabled=args is None,
        )


def page_corpus(ws: Workspace, project: Project | None, settings: Settings) -> None:
    st.subheader("范文")
    store, err = S.attempt(S.get_store, settings)
    if err or store is None:
        st.error(V.md_text(err or S.GENERIC_ERROR))
        return
    stats = store.stats()
    st.caption(f"范文库：{stats.get('documents', len(store.documents()))} 篇文档，{stats.get('chunks', '?')} 个片段")
    if project is not None and project.passages:
        with st.expander(f"本稿使用的参考材料（{len(project.passages)} 段，钉选的排在前面）", expanded=False):
            for i, p in enumerate(project.passages, 1):
                tag = ":material/push_pin: " if p.origin == act.PINNED else ""
                st.markdown(f"{tag}**\\[{i}\\] {V.md_text(V.source_line(p))}**")
                st.caption(V.md_text(p.text[:160]))
                st.button(
                    "移除", key=f"drop_{p.chunk_id}", on_click=act.drop_passage, args=(ws, project.id, p.chunk_id)
                )
    default_query = project.brief.query_text() if project and project.brief else ""
    c1, c2, c3, c4 = st.columns([4, 2, 1, 1], vertical_alignment="bottom")
    query = c1.text_input("检索范文", value=default_query, key=S.QUERY)
    genre = c2.selectbox("文种", ["全部", *GENRES], key="search_genre")
    year = c3.number_input("年份（0 为不限）", min_value=0, max_value=2100, value=0, key="search_year")
    if c4.button("检索", type="primary", key="search_go"):
        found, err = S.attempt(
            act.search_corpus, query, store, genre=None if genre == "全部" else genre, year=int(year)
        )
        if err:
            st.error(V.md_text(err))
        else:
            st.session_state[S.RESULTS] = (query, found or [])
    q, results = st.session_state.get(S.RESULTS, ("", []))
    if q and not results:
        st.info("没有找到相关范文，换个说法或放宽筛选试试。")
    for p in results:
        args = (ws, project.id, p) if project is not None else None
        _passage_card(
            p, q, key=f"pin_{p.chunk_id}", label="用于本稿" if args else "用于本稿（请先创建项目）", args=args
        )
    with st.expander("导入范文到范文库（.docx / .txt / .md / .pdf）"):
        files = st.file_uploader("选择文件", type=None, accept_multiple_files=True, key="corpus_files")
        if st.button("导入", key="corpus_import"):
            bar = st.progress(0.0, text="准备导入……")

            def progress(i: int, n: int, name: str) -> None:
                bar.progress(i / max(n, 1), text=f"正在导入第 {i}/{n} 个文件")

            data = [(f.name, f.getvalue()) for f in files or []]
            report, err = S.attempt(act.upload_to_corpus, data, store, team.uploads_dir(settings), on_progress=progress)
            bar.empty()
            if err or report is None:
                st.error(V.md_text(err or S.GENERIC_ERROR))
            else:
                (st.success if not report.failed else st.warning)(V.md_text(report.summary))
                for name, why in report.failed:
                    st.error(V.md_text(f"“{name}”未导入：{why}"))
    if project is not None:
        next_step("生成提纲", "提纲", "corpus_next")


# -- 提纲 --------------------------------------------------------------------------------------
def page_outline(ws: Workspace, project: Project | None, settings: Settings) -> None:
    st.subheader("提纲")
    if project is None or project.brief is None:
        st.info("请先在“任务”页创建项目。")
        return
    label = "生成提纲" if project.outline is None else "重新生成提纲"
    if st.button(label, type="primary" if project.outline is None else "secondary", key="outline_go"):
        store, err = S.attempt(S.get_store, settings)
        if err:
            st.warning(V.md_text(f"范文库不可用，将只根据任务和素材拟提纲：{err}"))
        _, err, guard = _outline_stream(ws, project, store, settings)
        if err:
            S.flash("error", err)
        else:
            S.flash("success", "提纲已生成，可以直接修改。")
        guard.rerun()
    outline = project.outline
    if outline is None:
        st.caption("生成后可用表格或纯文本修改提纲，再到“正文”页写稿。")
        return
    # Keys change with the saved outline, so every tab shows what was saved last, not a stale edit.
    rev = f"{project.id}_{hashlib.sha1(outline.model_dump_json().encode()).hexdigest()[:8]}"
    title = st.text_input("文稿标题", value=outline.title, key=f"outline_title_{rev}")
    table, text = st.tabs(["表格编辑", "文本编辑"])
    with table:
        edited = st.data_editor(
            pd.DataFrame(V.outline_rows(outline), columns=list(V.OUTLINE_COLUMNS)),
            num_rows="dynamic",
            width="stretch",
            key=f"outline_rows_{rev}",
            column_config={
                # Widths in pixels: every column, 字数 and 侧重 included, fits the page without scrolling.
                "部分": st.column_config.SelectboxColumn(
                    "部分", options=list(V.KIND_LABELS.values()), required=True, width=64
                ),
                "标题": st.column_config.TextColumn("标题", width=220),
                "目的": st.column_config.TextColumn("目的", width=170),
                "要点": st.column_config.TextColumn("要点（；分隔）", width=250),
                "字数": st.column_config.NumberColumn("字数", min_value=0, step=50, width=64),
                "侧重": st.column_config.TextColumn("侧重（、分隔）", width=130),
            },
        )
        if st.button("保存表格", key="outline_save_rows"):
            new, err = S.attempt(V.outline_from_rows, edited.to_dict("records"), title, project.brief)
            if err or new is None:
                st.error(V.md_text(err or S.GENERIC_ERROR))
            else:
                act.save_outline(ws, project.id, V.keep_refs(new, outline))
                _done("提纲已保存。")
    with text:
        raw = st.text_area("提纲文本", value=outline_to_text(outline), height=320, key=f"outline_text_{rev}")
        if st.button("保存文本", key="outline_save_text"):
            new, err = S.attempt(outline_from_text, raw, project.brief)
            if err or new is None:
                st.error(V.md_text(err or S.GENERIC_ERROR))
            else:
                act.save_outline(ws, project.id, V.keep_refs(new, outline))
                _done("提纲已保存。")
    _offers(ws, project, outline, rev)
    body = [(i, s.heading) for i, s in enumerate(outline.sections) if s.kind == "body"]
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    pick = c1.selectbox("重新生成某一部分", body, format_func=lambda x: x[1], key="regen_pick")
    if c2.button("重新生成这一部分", key="regen_go") and pick:
        with st.spinner("正在重拟这一部分……"):
            _, err = S.attempt(act.regenerate_section, ws, project.id, pick[0], S.chat_model(settings))
        if err:
            st.error(V.md_text(err))
        else:
            _done(f"已重新生成“{pick[1]}”。")
    next_step("写正文", "正文", "to_draft")


def _offers(ws: Workspace, project: Project, outline: Outline, rev: str) -> None:
    """Per part: the principles it carries and the bank entries offered (名句 for 溢才气, 上级提法 for
    通天气); the writer swaps them, and what is chosen here is what the writer step gets."""
    assert project.brief is not None
    shown = V.chosen_or_default(outline, project.brief)
    mine = any(s.classics or s.formulations for s in outline.sections)
    with (
        st.expander("各部分的侧重和引用（经典名句、上级提法）", icon=":material/format_quote:", expanded=False),
        st.form(f"offers_{rev}", border=False),
    ):
        st.caption(
            ("以下是您选定的引用。" if mine else "以下是系统为本稿挑选的引用，可以替换。")
            + "写正文时只提供这里选中的名句和提法（某一类一条都不选时，用系统挑选的），模型照原文引用并注明出处。"
        )
        chosen: list[tuple[list[str], list[str]]] = []
        for i, s in enumerate(shown.sections):
            if s.kind != "body":
                chosen.append((list(s.classics or []), list(s.formulations or [])))
                continue
            classics, formulations = V.offers_for(project.brief, s)
            principles = "、".join(p.value for p in s.principles) or "未指定"
            st.markdown(f"**{V.md_text(s.heading)}** :gray[侧重：{V.md_text(principles)}]")
            picked: list[list[str]] = []
            kinds = ((classics, s.classics or []), (formulations, s.formulations or []))
            for column, (entries, current), (label, key, empty) in zip(st.columns(2), kinds, _PICKERS, strict=True):
                opts = {e.text: e.display for e in entries}
                opts.update({t: V.entry_display(t) for t in current if t not in opts})
                choice = column.multiselect(
                    label,
                    list(opts),
                    default=[t for t in current if t in opts],
                    format_func=opts.__getitem__,
                    key=f"{key}_{rev}_{i}",
                    placeholder=empty,
                )
                picked.append(list(choice))
            chosen.append((picked[0], picked[1]))
        if st.form_submit_button("保存引用选择"):
            sections = [
                sec.model_copy(update={"classics": c, "formulations": f})
                for sec, (c, f) in zip(outline.sections, chosen, strict=True)
            ]
            act.save_outline(ws, project.id, outline.model_copy(update={"sections": sections}))
            _done("引用选择已保存，写正文时按此提供。")


# -- 正文 --------------------------------------------------------------------------------------
def draft_html(draft: Draft, focus: str = "") -> str:
    """The draft as inert HTML: every text escaped; placeholders, figures to verify and ``focus`` marked."""
    from drafting.writing.review import unverified_numbers

    figures = unverified_numbers(draft)
    out = [f"<h3>{V.text_html(draft.title)}</h3>"]
    for kind, text in V.draft_blocks(draft):
        css = {"heading": "heading", "unfinished": "unfinished"}.get(kind, "")
        out.append(f'<p class="{css}">{V.marked_html(text, figures, focus)}</p>')
    return '<div class="draft-text">' + "".join(out) + "</div>"


def render_draft(draft: Draft) -> None:
    st.html(draft_html(draft))
    if draft.citations:
        st.markdown("**引用来源**（点击查看原文）")
        cols = st.columns(min(3, len(draft.citations)))
        for i, c in enumerate(draft.citations):
            title = V.short_name(c.passage.title or "写作者提供的素材", 30)
            with cols[i % len(cols)].popover(V.md_text(f"[{c.n}] {title}"), width="stretch"):
                st.caption(V.md_text(V.source_line(c.passage)))
                st.markdown(V.md_text(c.passage.text))


_HEADING_IN_JSON = re.compile(r'"heading"\s*:\s*"([^"]+)"')


def _stop_row(what: str) -> None:
    """While a generation runs: what is being written, a ticking timer (CSS only, it keeps counting
    while the model reads its prompt) and 取消, which stops it and keeps what was written."""
    row = st.container(horizontal=True, vertical_alignment="center")
    row.html(f'<span class="gen-label">{V.text_html(what)}</span><span class="elapsed-timer"></span>')
    row.button("取消", key=S.STOP_KEY, icon=":material/stop_circle:", help="停止生成；已写好的部分会保存")


def _outline_stream(
    ws: Workspace, project: Project, store: Any, settings: Settings
) -> tuple[Any, str | None, S.StopOnInterrupt]:
    """The outline, its headings shown as they arrive; (outline, error, the guard that saw any click)."""
    _stop_row("正在检索范文并拟提纲")
    status = st.empty()
    live = st.empty()
    received: list[str] = []
    last = [0.0]
    started = time.perf_counter()

    def update(piece: str) -> None:
        received.append(piece)
        now = time.perf_counter()
        if now - last[0] > 0.3:
            last[0] = now
            status.caption(f"已用 {now - started:.0f} 秒，已收到 {len(''.join(received))} 字")
            headings = _HEADING_IN_JSON.findall("".join(received))
            live.markdown("\n".join(f"- {V.md_text(h)}" for h in headings) or "……")

    guard = S.StopOnInterrupt(update)
    model = S.WatchedChatModel(inner=S.chat_model(settings), on_piece=guard)
    generation = S.begin_generation()
    outline, err = S.attempt(act.generate_outline, ws, project.id, store, model, settings.context_tokens)
    if guard.interrupt is not None:  # this run is being stopped: no st.* call from here on
        generation.finish(("info", "已停止拟提纲。" + ("原来的提纲没有改动。" if project.outline else "")))
        raise guard.interrupt
    generation.finish()
    status.empty()
    live.empty()
    return outline, err, guard


def _stop_message(ws: Workspace, project_id: str) -> tuple[str, str]:
    """What the writer reads after 取消: how much was kept (read without ``st``: the run is stopping)."""
    kept, _ = S.attempt(lambda: ws.load(project_id).working)
    chars = kept.char_count if kept is not None and not kept.complete else 0
    return "info", f"已停止生成。已写好的 {chars} 字已保存为未完成稿，点“继续写”接着写。"


def _stream(action: Any, ws: Workspace, project_id: str, *args: Any) -> tuple[Any, str | None, S.StopOnInterrupt]:
    """Run a drafting action with its text shown as it arrives; (result, error, the guard that saw any click)."""
    _stop_row("正在写正文")
    progress = V.Progress()
    status = st.empty()
    bar = st.progress(0.0)
    live = st.empty()
    last = [0.0]

    def on_event(event: ProgressEvent) -> None:
        progress.on_event(event)
        now = time.perf_counter()
        if event.kind is not EventKind.TOKEN or now - last[0] > 0.3:
            last[0] = now
            status.caption(V.md_text(progress.status()))
            bar.progress(progress.fraction)
            live.markdown(V.md_text(progress.text).replace("\n", "\n\n") or "……")

    guard = S.StopOnInterrupt(on_event)
    generation = S.begin_generation()
    result, err = S.attempt(action, ws, project_id, *args, on_event=guard)
    if guard.interrupt is not None:  # this run is being stopped: no st.* call from here on
        generation.finish(_stop_message(ws, project_id))
        raise guard.interrupt
    generation.finish()
    status.empty()
    bar.empty()
    live.empty()
    return result, err, guard


def _edit_draft(ws: Workspace, project: Project, draft: Draft) -> None:
    """正文 edited in place, one box per part; saving makes the next version."""
    st.caption("直接修改下面的文字，保存后形成新的一稿（原稿保留，可在“修改”页比较和恢复）。")
    key = f"edit_{project.id}_{draft.version}"
    title = st.text_input("标题", value=draft.title, key=f"{key}_title")
    texts = []
    for i, sec in enumerate(draft.sections):
        name = sec.heading or V.KIND_LABELS.get(sec.kind, "")
        texts.append(st.text_area(name, value=sec.text, key=f"{key}_{i}", height=160))
    if st.button("保存为新的一稿", type="primary", key="edit_save"):
        version, err = S.attempt(act.save_edited_draft, ws, project.id, texts, title)
        if err or version is None:
            st.error(V.md_text(err or S.GENERIC_ERROR))
        else:
            st.session_state.pop("edit_on", None)
            _done(f"已保存为第{version.number}稿。")


def page_draft(ws: Workspace, project: Project | None, settings: Settings) -> None:
    st.subheader("正文")
    if project is None or project.outline is None:
        st.info("请先在“提纲”页生成提纲。")
        return
    model = S.chat_model(settings)
    unfinished = project.working is not None and not project.working.complete
    row = st.container(horizontal=True)
    write = row.button("生成正文" if not project.versions else "重新生成正文", type="primary", key="draft_go")
    resume = row.button("继续写", key="draft_resume", disabled=not unfinished)
    if write or resume:
        if write:
            run, err, guard = _stream(act.write_full_draft, ws, project.id, model)
        else:
            run, err, guard = _stream(act.continue_draft, ws, project.id, model)
        if err:
            S.flash("error", err)
            S.flash("info", "已写好的部分已保存，模型恢复后点“继续写”接着写。")
        else:
            S.flash("success", f"初稿已完成：{run.draft.char_count} 字。{V.cost_line(run.costs)}")
        guard.rerun()
    draft = project.latest
    if draft is None:
        st.caption("按提纲逐段生成，边写边显示；中途出错时已写好的部分会保存。")
        return
    if unfinished:
        st.warning("上次写作中断，下面是已保存的部分。点“继续写”接着写完。")
        draft = project.working or draft
    name = "未完成稿" if unfinished else f"第{draft.version}稿"
    st.caption(V.md_text(f"{name} · {V.cost_line(draft.costs, chars=draft.char_count)}"))
    editing = not unfinished and st.toggle("编辑正文", key="edit_on")
    if editing:
        _edit_draft(ws, project, draft)
    else:
        render_draft(draft)
        with st.expander("复制全文（纯文本，不带引用标记）", icon=":material/content_copy:"):
            st.caption("点文本框右上角的复制按钮，即可粘贴到 Word 或办公系统。")
            st.code(V.clean_text(draft), language=None, wrap_lines=True)
        if not unfinished:
            section_ledger(ws, project)  # the facts ledger (drafting.ui.ledger)
    next_step("审阅", "审阅", "draft_next")
