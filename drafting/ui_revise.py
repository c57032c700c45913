"""The later steps of the page (审阅 修改 导出): widgets -> drafting.ui_actions -> render."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from . import ui_actions as act
from . import ui_state as S
from . import ui_views as V
from .config import Settings
from .domain import PRINCIPLES, STANCES, CommentStatus, Draft, count_chars
from .export import export_docx, export_markdown
from .review import check_draft
from .workspace import Project, Workspace

__all__ = ["page_review", "page_revise", "page_export"]

SEVERITY = {"error": "错误", "warning": "提醒", "info": "提示"}
STATUS = {CommentStatus.PENDING: "待定", CommentStatus.ACCEPTED: "已采纳", CommentStatus.REJECTED: "不采纳"}


def _need_version(project: Project | None) -> Draft | None:
    if project is None or not project.versions:
        st.info("还没有完成的稿子：请先在“正文”页生成初稿。")
        return None
    return project.versions[-1].draft


def _rerun(message: str) -> None:
    S.flash("success", message)
    st.rerun()


# -- 审阅 --------------------------------------------------------------------------------------
def page_review(ws: Workspace, project: Project | None, settings: Settings) -> None:
    st.subheader("审阅")
    draft = _need_version(project)
    if draft is None or project is None:
        return
    if st.button("按“五气三情”评分" if project.review is None else "重新评分", type="primary", key="review_go"):
        with st.spinner("审稿中：逐项评分并摘录依据……"):
            _, err = S.attempt(act.review_latest, ws, project.id, S.chat_model(settings))
        st.error(err) if err else _rerun("审阅完成。")
    review = project.review
    if review is not None and review.scores:
        left, right = st.columns([2, 3])
        with left:
            st.pyplot(V.radar_figure(review), width="stretch")
            avg = sum(s.score for s in review.scores) / len(review.scores)
            st.metric("平均分", f"{avg:.1f} / 10")
        with right:
            for s in review.scores:
                group = "五气" if s.criterion in PRINCIPLES else "三情"
                with st.expander(f"{s.criterion.value}（{group}）：{s.score} 分", expanded=s.score <= 5):
                    st.markdown(f"**依据：** {s.evidence or '（无）'}")
                    st.markdown(f"**建议：** {s.suggestion or '（无）'}")
    st.markdown("#### 自动检查")
    checks = review.checks if review is not None else check_draft(draft)
    if not checks:
        st.success("自动检查没有发现问题。")
    else:
        rows = [
            {"级别": SEVERITY.get(c.severity, c.severity), "规则": c.rule, "问题": c.message, "位置": c.position}
            for c in checks
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


# -- 修改 --------------------------------------------------------------------------------------
def _urgent(ws: Workspace, project: Project, draft: Draft, settings: Settings) -> None:
    st.caption("急稿：对某一部分一键改写，每次改写形成新的一稿。")
    for i, sec in enumerate(draft.sections):
        name = sec.heading or ("开头" if sec.kind == "opening" else "结尾")
        with st.expander(f"{name}（{count_chars(sec.text)} 字）"):
            st.write(sec.text)
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
                with st.spinner("正在改写……"):
                    version, err = S.attempt(
                        act.quick_rewrite,
                        ws,
                        project.id,
                        i,
                        kind,
                        S.chat_model(settings),
                        criterion=crit,
                        length=int(length),
                    )
                st.error(err) if err or version is None else _rerun(f"已形成第{version.number}稿：{version.note}")


def _slow(ws: Workspace, project: Project, draft: Draft, settings: Settings) -> None:
    st.caption("慢稿：审稿人从不同角度提意见，您逐条采纳或不采纳，也可以自己加意见，再统稿形成新的一稿。")
    model = S.chat_model(settings)
    a, b = st.columns(2)
    if a.button("请审稿人提意见", key="comments_go"):
        with st.spinner("审稿人阅稿中……"):
            found, err = S.attempt(act.collect_comments, ws, project.id, model)
        st.error(err) if err else _rerun(f"收到 {len(found or [])} 条意见。")
    if b.button("按采纳的意见统稿，形成新稿", type="primary", key="consolidate_go"):
        with st.spinner("统稿中……"):
            version, err = S.attempt(act.consolidate_comments, ws, project.id, model)
        st.error(err) if err or version is None else _rerun(f"已形成第{version.number}稿：{version.note}")
    comments = ws.comments(project.id, draft.version)
    by_para: dict[int, list] = {}
    for c in comments:
        by_para.setdefault(c.paragraph, []).append(c)
    for i, para in enumerate([*draft.paragraphs, None]):
        if para is None and -1 not in by_para:
            continue
        key = i if para is not None else -1
        with st.container(border=bool(by_para.get(key))):
            st.markdown(
                f"<small>第{i + 1}段</small> {para}" if para is not None else "**全文意见**", unsafe_allow_html=True
            )
            for c in by_para.get(key, []):
                x, y, z = st.columns([6, 1, 1], vertical_alignment="center")
                x.markdown(f":material/comment: **{c.author}**：{c.text}（{STATUS[c.status]}）")
                y.button(
                    "采纳",
                    key=f"acc_{c.id}",
                    on_click=act.set_comment_status,
                    args=(ws, project.id, draft.version, c, CommentStatus.ACCEPTED),
                )
                z.button(
                    "不采纳",
                    key=f"rej_{c.id}",
                    on_click=act.set_comment_status,
                    args=(ws, project.id, draft.version, c, CommentStatus.REJECTED),
                )
    with st.form("own_comment", clear_on_submit=True, border=True):
        st.markdown("**添加我的意见**")
        n = len(draft.paragraphs)
        target = st.selectbox(
            "段落",
            list(range(-1, n)),
            format_func=lambda j: "全文" if j < 0 else f"第{j + 1}段：{draft.paragraphs[j][:24]}",
        )
        text = st.text_area("意见", height=70)
        if st.form_submit_button("添加意见"):
            _, err = S.attempt(act.add_writer_comment, ws, project.id, draft.version, int(target), text)
            st.error(err) if err else _rerun("意见已添加（默认采纳）。")


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
    st.markdown("#### 版本")
    versions = project.versions
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "稿次": f"第{v.number}稿",
                    "方式": v.mode.label,
                    "说明": v.note,
                    "字数": v.draft.char_count,
                    "时间": v.created_at[:16],
                }
                for v in versions
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    if len(versions) >= 2:
        labels = [f"第{v.number}稿" for v in versions]
        a, b = st.columns(2)
        old = a.selectbox("对比：旧稿", labels, index=len(labels) - 2, key=f"diff_old_{len(labels)}")
        new = b.selectbox("新稿", labels, index=len(labels) - 1, key=f"diff_new_{len(labels)}")
        number = {label: v for label, v in zip(labels, versions, strict=True)}
        st.html(V.diff_html(number[old].draft, number[new].draft, old_label=old, new_label=new))


# -- 导出 --------------------------------------------------------------------------------------
def page_export(ws: Workspace, project: Project | None) -> None:
    st.subheader("导出")
    draft = _need_version(project)
    if draft is None or project is None:
        return
    name = re.sub(r"[\\/:*?\"<>|\s]+", "_", draft.title)[:40] or "文稿"
    st.caption(
        f"第{draft.version}稿 · {draft.char_count} 字。Word 按党政机关公文格式（GB/T 9704）排版，引用来源列在附录。"
    )
    appendix = st.checkbox("附录列出引用来源", value=True, key="export_appendix")
    data, err = S.attempt(export_docx, draft, appendix=appendix)
    if err or data is None:
        st.error(err or S.GENERIC_ERROR)
    else:
        st.download_button(
            "下载 Word（.docx）",
            data=data,
            file_name=f"{name}_第{draft.version}稿.docx",
            mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            type="primary",
            on_click="ignore",
            key="download_docx",
        )
    md, err = S.attempt(export_markdown, draft)
    if err or md is None:
        st.error(err or S.GENERIC_ERROR)
    else:
        st.download_button(
            "下载 Markdown",
            data=md,
            file_name=f"{name}_第{draft.version}稿.md",
            mime="text/markdown",
            on_click="ignore",
            key="download_md",
        )
        with st.expander("预览 Markdown"):
            st.markdown(md)
