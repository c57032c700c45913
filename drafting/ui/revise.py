"""The later steps of the page (审阅 修改 导出): widgets -> drafting.ui_actions -> render."""

from __future__ import annotations

import re
from typing import Any, Literal

import pandas as pd
import streamlit as st

from drafting.checks.facts import placeholders_in
from drafting.checks.revise_checks import origin_of, rank_comments
from drafting.config import Settings
from drafting.docx.export import export_docx, export_markdown
from drafting.domain import (
    PRINCIPLES,
    STANCES,
    Comment,
    CommentOrigin,
    CommentStatus,
    Draft,
    Review,
    Version,
    count_chars,
)
from drafting.ui import actions as act
from drafting.ui import state as S
from drafting.ui import views as V
from drafting.ui.pages import draft_html, next_step
from drafting.workspace import Project, Workspace
from drafting.writing.review import check_draft
from drafting.writing.revise import UNCOVERED

__all__ = ["page_review", "page_revise", "page_export"]

_DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SEVERITY = {"error": "错误", "warning": "提醒", "info": "提示"}
STATUS = {CommentStatus.PENDING: "待定", CommentStatus.ACCEPTED: "已采纳", CommentStatus.REJECTED: "不采纳"}
# Streamlit badge directives: the status is seen at a glance, not read.
BADGE = {
    CommentStatus.PENDING: ":orange-badge[待定]",
    CommentStatus.ACCEPTED: ":green-badge[已采纳]",
    CommentStatus.REJECTED: ":gray-badge[不采纳]",
}


def _need_version(project: Project | None) -> Draft | None:
    if project is None or not project.versions:
        st.info("还没有完成的稿子：请先在“正文”页生成初稿。")
        return None
    return project.versions[-1].draft


def _rerun(message: str) -> None:
    S.flash("success", message)
    st.rerun()


def _outcome(err: str | None, message: str) -> None:
    if err:
        st.error(V.md_text(err))
    else:
        _rerun(message)


# -- 审阅 --------------------------------------------------------------------------------------
REVIEW_FOCUS = "review_focus"


def _scores_beside_draft(ws: Workspace, project: Project, draft: Draft, review: Review, settings: Settings) -> None:
    """Scores on the left, the draft on the right; a score's evidence can be marked in the draft,
    and its suggestion applied to the part that holds the evidence (a 急稿 rewrite)."""
    focus = st.session_state.get(REVIEW_FOCUS, "")
    left, right = st.columns([1, 1], gap="medium")
    with left:
        chart, avg = st.columns([3, 2], vertical_alignment="center")
        chart.pyplot(V.radar_figure(review), width="stretch")
        mean = sum(s.score for s in review.scores) / len(review.scores)
        avg.metric("平均分", f"{mean:.1f} / 10")
        for i, s in enumerate(review.scores):
            group = "五气" if s.criterion in PRINCIPLES else "三情"
            shown = s.score <= 5 or bool(focus and focus == s.evidence)  # the score whose evidence is marked
            with st.expander(f"{s.criterion.value}（{group}）：{s.score} 分", expanded=shown):
                st.markdown(f"**依据：** {V.md_text(s.evidence) or '（无）'}")
                st.markdown(f"**建议：** {V.md_text(s.suggestion) or '（无）'}")
                a, b = st.columns(2)
                a.button(
                    "在正文中标出",
                    key=f"focus_{i}",
                    disabled=not s.evidence.strip(),
                    on_click=st.session_state.__setitem__,
                    args=(REVIEW_FOCUS, s.evidence),
                )
                if b.button("按此修改", key=f"apply_{i}", help="对依据所在的部分做一次“加强”改写，形成新的一稿"):
                    index = act.section_of(draft, s.evidence)
                    version, err = _quick_rewrite(
                        ws, project, settings, index, "strengthen", "正在按建议改写……", criterion=s.criterion
                    )
                    if err or version is None:
                        st.error(V.md_text(err or S.GENERIC_ERROR))
                    else:
                        _rerun(f"已按“{s.criterion.value}”的建议改写，形成第{version.number}稿。")
    with right:
        latest = project.versions[-1].draft
        note = "" if latest.version == draft.version else f"（评分针对第{draft.version}稿）"
        st.caption(f"第{latest.version}稿{note}")
        with st.container(height=760, border=True):
            st.html(draft_html(latest, focus))


def page_review(ws: Workspace, project: Project | None, settings: Settings) -> None:
    st.subheader("审阅")
    draft = _need_version(project)
    if draft is None or project is None:
        return
    if st.button("按“五气三情”评分" if project.review is None else "重新评分", type="primary", key="review_go"):
        with st.spinner("审稿中：逐项评分并摘录依据……"):
            _, err = S.attempt(act.review_latest, ws, project.id, S.chat_model(settings))
        _outcome(err, "审阅完成。")
    review = project.review
    if review is not None and review.scores:
        _scores_beside_draft(ws, project, draft, review, settings)
    else:
        with st.expander(f"对照正文（第{draft.version}稿）", icon=":material/article:"):
            st.html(draft_html(draft))
    st.markdown("#### 自动检查")
    checks = review.checks if review is not None else check_draft(draft)
    uncovered = [k for k, where in act.key_point_coverage(draft).items() if where == UNCOVERED]
    if uncovered:
        st.warning(V.md_text(f"任务要点有 {len(uncovered)} 条在正文中找不到：{'；'.join(uncovered)}"))
    if not checks and not uncovered:
        st.success("自动检查没有发现问题。")
    if checks:
        rows = [{"级别": SEVERITY.get(c.severity, c.severity), "问题": c.message, "位置": c.position} for c in checks]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    next_step("修改", "修改", "review_next")


# -- 修改 --------------------------------------------------------------------------------------
def _quick_rewrite(
    ws: Workspace, project: Project, settings: Settings, index: int, kind: str, busy: str, **options: Any
) -> tuple[Version | None, str | None]:
    """One 急稿 rewrite of part ``index`` (``busy`` shows while it runs): the new version, or the error to show."""
    with st.spinner(busy):
        return S.attempt(act.quick_rewrite, ws, project.id, index, kind, S.chat_model(settings), **options)


def _urgent(ws: Workspace, project: Project, draft: Draft, settings: Settings) -> None:
    st.caption("急稿：对某一部分一键改写，每次改写形成新的一稿。")
    for i, sec in enumerate(draft.sections):
        name = sec.heading or ("开头" if sec.kind == "opening" else "结尾")
        with st.expander(V.md_text(f"{name}（{count_chars(sec.text)} 字）")):
            st.markdown(V.md_text(sec.text).replace("\n", "\n\n"))
            a, b, c = st.columns(3)
            crit = a.selectbox("加强", [*PRINCIPLES, *STANCES], format_func=lambda x: x.value, key=f"crit_{i}")
            length = b.number_input(
                "压缩到（字）", min_value=30, value=max(30, count_chars(sec.text) * 2 // 3), step=10, key=f"len_{i}"
            )
            kind = None
            if a.button(f"加强“{crit.value}”", key=f"strengthen_{i}"):
                kind = "strengthen"
            if b.button("压缩", key=f"shorten_{i}"):
                kind = "shorten"
            if c.button("更口语化", key=f"colloquial_{i}"):
                kind = "colloquial"
            if kind:
                version, err = _quick_rewrite(
                    ws, project, settings, i, kind, "正在改写……", criterion=crit, length=int(length)
                )
                _outcome(
                    err or (None if version else S.GENERIC_ERROR), f"已形成第{version.number if version else ''}稿。"
                )


def comment_counts(comments: list[Comment]) -> dict[CommentStatus, int]:
    return {status: sum(c.status == status for c in comments) for status in STATUS}


def _comment_row(ws: Workspace, project: Project, draft: Draft, c: Comment) -> None:
    x, y, z = st.columns([6, 1, 1], vertical_alignment="center")
    quote = f"（针对“{c.quote}”）" if c.quote else ""
    who = f"{V.md_text(c.author)}（领导批注）" if origin_of(c) is CommentOrigin.LEADER else V.md_text(c.author)
    x.markdown(f"{BADGE[c.status]} :material/comment: **{who}**：{V.md_text(quote + c.text)}")
    if c.note:
        x.caption(c.note)
    for column, label, key, status in (
        (y, "采纳", "acc", CommentStatus.ACCEPTED),
        (z, "不采纳", "rej", CommentStatus.REJECTED),
    ):
        column.button(
            label,
            key=f"{key}_{c.id}",
            type="primary" if c.status == status else "secondary",
            on_click=act.set_comment_status,
            args=(ws, project.id, draft.version, c, status),
        )


def _slow(ws: Workspace, project: Project, draft: Draft, settings: Settings) -> None:
    st.caption("慢稿：审稿人从不同角度提意见，您逐条采纳或不采纳，也可以自己加意见，再统稿形成新的一稿。")
    model = S.chat_model(settings)
    comments = rank_comments(ws.comments(project.id, draft.version))  # the leader's 批注 first
    counts = comment_counts(comments)
    pending = counts[CommentStatus.PENDING]
    if comments:
        st.markdown(" ".join(f"{BADGE[status]} {n} 条" for status, n in counts.items()))
    a, b = st.columns(2)
    if a.button("请审稿人提意见", key="comments_go"):
        with st.spinner("审稿人阅稿中……"):
            found, err = S.attempt(act.collect_comments, ws, project.id, model)
        _outcome(err, f"收到 {len(found or [])} 条意见。")
    if pending:
        st.warning(f"还有 {pending} 条意见待定。统稿只按已采纳的意见修改，待定的意见不会用上。")
    confirmed = not pending or st.checkbox(f"不再定夺，{pending} 条待定意见不采纳，直接统稿", key="ignore_pending")
    if b.button("按采纳的意见统稿，形成新稿", type="primary", key="consolidate_go", disabled=not confirmed):
        with st.spinner("统稿中……"):
            version, err = S.attempt(act.consolidate_comments, ws, project.id, model)
        _outcome(err or (None if version else S.GENERIC_ERROR), _round_message(version))
    by_para: dict[int, list[Comment]] = {}
    for c in comments:
        by_para.setdefault(c.paragraph, []).append(c)
    # The draft scrolls in its own box, so the page stays as tall as the screen needs.
    with st.container(height=600 if len(draft.paragraphs) > 6 else "content", border=False):
        _paragraphs_with_comments(ws, project, draft, by_para)
    _own_comment_form(ws, project, draft)


def _round_message(version: Version | None) -> str:
    """The new version, the gate's count before and after, and each part whose rewrite was not taken."""
    if version is None:
        return "已形成新稿。"
    msg = f"已形成第{version.number}稿。"
    if version.defects_before:
        msg += f"自动检查出的问题：{sum(version.defects_before.values())} → {sum(version.defects_after.values())} 处。"
    return msg + "".join(f"{why}。" for why in version.kept_parts)


def _paragraphs_with_comments(ws: Workspace, project: Project, draft: Draft, by_para: dict[int, list[Comment]]) -> None:
    for i, para in enumerate([*draft.paragraphs, None]):
        if para is None and -1 not in by_para:
            continue
        key = i if para is not None else -1
        with st.container(border=bool(by_para.get(key))):
            if para is None:
                st.markdown("**全文意见**")
            else:
                st.markdown(f":gray[第{i + 1}段] {V.md_text(para)}")
            for c in by_para.get(key, []):
                _comment_row(ws, project, draft, c)


def passage_options(draft: Draft) -> dict[str, tuple[int, str]]:
    """Every sentence of the draft as an option "第k段：sentence" -> (paragraph index, sentence)."""
    options: dict[str, tuple[int, str]] = {}
    for j, para in enumerate(draft.paragraphs):
        for sentence in re.findall(r"[^。！？；]+[。！？；]?", para):
            if sentence.strip():
                options.setdefault(f"第{j + 1}段：{sentence.strip()}", (j, sentence.strip()))
    return options


def _own_comment_form(ws: Workspace, project: Project, draft: Draft) -> None:
    """The writer's own comment: on a passage picked from the draft (or typed), a paragraph, or the whole."""
    with (
        st.expander("添加我的意见", icon=":material/add_comment:"),
        st.form("own_comment", clear_on_submit=True, border=False),
    ):
        n = len(draft.paragraphs)
        options = passage_options(draft)
        picked = st.selectbox(
            "针对的原文（可选：选一句，或输入原文中的几个字）",
            list(options),
            index=None,
            accept_new_options=True,
            placeholder="输入几个字查找句子",
            key="own_quote",
        )
        target = st.selectbox(
            "没有选原文时：针对的段落",
            list(range(-1, n)),
            format_func=lambda j: "全文" if j < 0 else f"第{j + 1}段：{draft.paragraphs[j][:24]}",
        )
        text = st.text_area("意见", height=70)
        if st.form_submit_button("添加意见"):
            paragraph, quote = options.get(picked or "", (int(target), (picked or "").strip()))
            if quote and picked not in options:
                paragraph = -1  # a typed passage is found in the draft
            _, err = S.attempt(act.add_writer_comment, ws, project.id, draft.version, paragraph, text, quote)
            _outcome(err, "意见已添加（默认采纳）。")


def _versions(ws: Workspace, project: Project) -> None:
    versions = project.versions
    st.markdown("#### 版本")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "稿次": f"第{v.number}稿",
                    "方式": v.mode.label,
                    "说明": v.note,
                    "字数": v.draft.char_count,
                    "时间": V.local_time(v.created_at),
                }
                for v in versions
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    labels = [f"第{v.number}稿" for v in versions]
    by_label = dict(zip(labels, versions, strict=True))
    if len(versions) >= 2:
        a, b = st.columns(2)
        old = a.selectbox("比较：旧稿", labels, index=len(labels) - 2, key=f"diff_old_{len(labels)}")
        new = b.selectbox("新稿", labels, index=len(labels) - 1, key=f"diff_new_{len(labels)}")
        if old and new:
            with st.container(height=520, border=False):
                st.html(V.diff_html(by_label[old].draft, by_label[new].draft, old_label=old, new_label=new))
        c, d = st.columns([3, 1], vertical_alignment="bottom")
        pick = c.selectbox(
            "恢复某一稿（恢复后成为最新一稿，其他各稿都保留）", labels[:-1], key=f"restore_{len(labels)}"
        )
        if d.button("恢复", key="restore_go") and pick:
            version, err = S.attempt(act.restore_version, ws, project.id, by_label[pick].number)
            _outcome(
                err or (None if version else S.GENERIC_ERROR),
                f"已把{pick}恢复为第{version.number if version else ''}稿。",
            )


def page_revise(ws: Workspace, project: Project | None, settings: Settings) -> None:
    st.subheader("修改")
    draft = _need_version(project)
    if draft is None or project is None:
        return
    default = "慢稿" if (project.brief and project.brief.mode.value == "slow") else "急稿"
    mode = st.segmented_control("修改方式", ["急稿", "慢稿"], default=default, required=True, key=f"mode_{project.id}")
    (_slow if mode == "慢稿" else _urgent)(ws, project, draft, settings)
    st.markdown("#### 要点覆盖（横到边）")
    coverage = act.key_point_coverage(draft)
    if coverage:
        rows = [{"任务要点": k, "覆盖位置": v} for k, v in coverage.items()]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.caption("任务书里没有列出要点。")
    _versions(ws, project)
    next_step("导出", "导出", "revise_next")


# -- 导出 --------------------------------------------------------------------------------------
def page_export(ws: Workspace, project: Project | None) -> None:
    st.subheader("导出")
    if _need_version(project) is None or project is None:
        return
    versions = {f"第{v.number}稿（{V.local_time(v.created_at)}）": v for v in reversed(project.versions)}
    label = st.selectbox("导出哪一稿", list(versions), index=0, key=f"export_pick_{len(versions)}")
    draft = versions[label or next(iter(versions))].draft
    name = re.sub(r"[\\/:*?\"<>|\s]+", "_", draft.title)[:40] or "文稿"
    gaps = placeholders_in([draft.body_text])
    st.caption(f"第{draft.version}稿 · {draft.char_count} 字。Word 按党政机关公文格式（GB/T 9704）排版。")
    kinds = ["定稿", "送审稿"]
    kind = st.radio(
        "导出为",
        kinds,
        index=1 if gaps else 0,
        horizontal=True,
        key=f"export_kind_{draft.version}",
        help="定稿：干净的成稿，没有引用标记和附录；送审稿：引用、待补、审稿意见和需核实的数字都是 Word 批注，页眉写“送审稿”。",
    )
    force = False
    if gaps:
        st.warning(V.md_text(f"稿中还有 {len(gaps)} 处待补：" + "；".join(gaps)))
        if kind == "定稿":
            force = st.checkbox("仍导出定稿（待补处以黄色突出显示）", key="export_force")
    docx, docx_err = S.attempt(export_docx, draft, kind=kind, force=force)
    md, md_err = S.attempt(export_markdown, draft)
    # (label, data, error, file name, MIME type, widget key, button type)
    downloads: list[tuple[str, Any, str | None, str, str, str, Literal["primary", "secondary"]]] = [
        (
            "下载 Word（.docx）",
            docx,
            docx_err,
            f"{name}_第{draft.version}稿_{kind}.docx",
            _DOCX_MIME,
            "download_docx",
            "primary",
        ),
        ("下载 Markdown", md, md_err, f"{name}_第{draft.version}稿.md", "text/markdown", "download_md", "secondary"),
    ]
    for label, data, err, file_name, mime, key, button in downloads:
        if err or data is None:
            st.error(V.md_text(err or S.GENERIC_ERROR))
        else:
            st.download_button(
                label, data=data, file_name=file_name, mime=mime, type=button, on_click="ignore", key=key
            )
    if md is not None and not md_err:
        with st.expander("预览 Markdown 原文"):
            st.code(md, language="markdown", wrap_lines=True)
