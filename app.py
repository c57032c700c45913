"""文稿助手 — the Streamlit workspace. Layout and wiring only: widgets -> drafting.* -> render.

Run with ``streamlit run app.py`` (``make run`` also starts the local model server).
"""

from __future__ import annotations

import logging

import streamlit as st

from drafting import config, secrets, team
from drafting.config import LOCAL_BASE_URL, Settings
from drafting.llm.client import check_endpoint
from drafting.ui import state as S
from drafting.ui import views as V
from drafting.ui.pages import forget_form, page_corpus, page_draft, page_outline, page_task
from drafting.ui.revise import page_export, page_review, page_revise
from drafting.workspace import Project, Workspace

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="文稿助手", page_icon=":material/edit_note:", layout="wide")
st.markdown(
    """<style>
    .block-container {padding-top: 2.2rem; max-width: 1200px;}
    mark {background: #ffe58f; padding: 0 2px; border-radius: 2px;}
    mark.todo {background: #ffd6d6; outline: 1px dashed #c0392b;}
    mark.verify {background: #ffe7ba; text-decoration: underline dotted #ad6800;}
    mark.focus {background: #bae0ff; outline: 2px solid #1677ff;}
    .draft-text {font-size: 1.05rem; line-height: 1.9;}
    .draft-text h3 {text-align: center; margin: 0.2rem 0 1rem;}
    .draft-text p {text-indent: 2em; margin: 0 0 0.6rem;}
    .draft-text p.heading {text-indent: 0; font-weight: 700;}
    .draft-text p.unfinished {text-indent: 0; color: #ad6800;}
    @property --elapsed {syntax: '<integer>'; initial-value: 0; inherits: false;}
    @keyframes elapsed-tick {from {--elapsed: 0;} to {--elapsed: 86400;}}
    .gen-label {font-weight: 600; margin-right: 0.8rem;}
    .elapsed-timer {animation: elapsed-tick 86400s linear forwards; counter-reset: elapsed var(--elapsed);
        color: #555; font-variant-numeric: tabular-nums;}
    .elapsed-timer::after {content: "已用 " counter(elapsed) " 秒";}
    </style>""",
    unsafe_allow_html=True,
)

OPEN = "open_project_"


def settings_panel(settings: Settings) -> None:
    """Local model (default) or any OpenAI-compatible endpoint; the key is stored encrypted."""
    local = settings.is_local
    choice = st.radio("写作模型", ["本地模型（默认）", "OpenAI 兼容接口"], index=0 if local else 1, key="set_provider")
    if choice == "OpenAI 兼容接口":
        url = st.text_input(
            "接口地址（Base URL）",
            value="" if local else settings.llm_base_url,
            placeholder="https://api.example.com/v1",
            key="set_url",
        )
        model = st.text_input("模型名称", value="" if local else settings.llm_model, key="set_model")
        key = st.text_input(
            "API Key",
            type="password",
            placeholder=f"已保存：{secrets.mask_key(None if local else settings.llm_api_key)}",
            key="set_key",
        )
        candidate = settings.replace(
            llm_base_url=url.strip(), llm_model=model.strip(), llm_api_key=key.strip() or settings.llm_api_key
        )
    else:
        candidate = settings.replace(
            llm_base_url=LOCAL_BASE_URL, llm_model=config.Settings().llm_model, llm_api_key="local"
        )
        st.caption(f"本地服务：{LOCAL_BASE_URL}")
    a, b = st.columns(2)
    if a.button("测试连接", key="set_test"):
        models, err = S.attempt(check_endpoint, candidate)
        if err:
            st.error(V.md_text(err))
        else:
            names = "、".join((models or [])[:3]) or "（未列出）"
            st.success(f"连接正常，可用模型：{V.md_text(names)}")
    if b.button("保存设置", key="set_save"):
        if choice == "OpenAI 兼容接口" and not candidate.llm_base_url.startswith(("http://", "https://")):
            st.error("接口地址应以 http:// 或 https:// 开头。")
            return
        _, err = S.attempt(
            secrets.save_provider, settings.data_dir, base_url=candidate.llm_base_url, model=candidate.llm_model
        )
        if not err and choice == "OpenAI 兼容接口" and st.session_state.get("set_key"):
            _, err = S.attempt(secrets.save_api_key, settings.data_dir, st.session_state["set_key"])
        if err:
            st.error(V.md_text(err))
        else:
            config.get_settings.cache_clear()
            S.flash("success", "设置已保存（API Key 已加密保存，不以明文落盘）。")
            st.rerun()


def sidebar(ws: Workspace, settings: Settings) -> None:
    st.sidebar.title("文稿助手")
    st.sidebar.caption("讲话稿 · 公文 起草助手（本地运行）")
    if st.sidebar.button("新建项目", icon=":material/add:", type="primary", width="stretch", key="new_project"):
        st.session_state[S.PROJECT] = None
        forget_form(None)
        S.go_to("任务")
        st.rerun()
    projects, err = S.attempt(ws.list_projects)
    if err:
        st.sidebar.error(V.md_text(err))
        projects = []
    if projects:
        current = st.session_state.get(S.PROJECT)
        st.sidebar.markdown("**我的文稿**")
        for p in projects:
            st.sidebar.button(
                V.md_text(f"{V.short_name(p.name)}（{p.genre or '未定'} · {p.versions} 稿）"),
                help=V.md_text(p.name),
                key=f"{OPEN}{p.id}",
                type="secondary" if p.id == current else "tertiary",
                icon=":material/description:",
                width="stretch",
                on_click=st.session_state.__setitem__,
                args=(S.PROJECT, p.id),
            )
    else:
        st.sidebar.info("还没有项目。在右侧粘贴领导交代或填写任务书即可开始。")
    with st.sidebar.expander("模型设置", icon=":material/settings:"):
        settings_panel(settings)


def load_project(ws: Workspace) -> Project | None:
    if S.PROJECT not in st.session_state:  # a fresh session (refresh or restart): reopen the newest project
        recent, _ = S.attempt(ws.list_projects)
        st.session_state[S.PROJECT] = recent[0].id if recent else None
    pid = st.session_state[S.PROJECT]
    if pid is None:
        return None
    project, err = S.attempt(ws.load, pid)
    if err:
        st.error(V.md_text(err))
        st.session_state[S.PROJECT] = None
    return project


def sign_in(ws: Workspace, settings: Settings) -> Workspace:
    """Team mode: the writer named by the sign-in proxy's header, else the sign-in notice and nothing more."""
    if not settings.team:
        return ws
    writer = team.signed_in_writer(settings, st.context.headers)
    if writer is None:
        st.title("文稿助手")
        st.warning(team.SIGN_IN_REQUIRED)
        st.stop()
    team.set_acting_writer(writer)  # documents this writer adds to the shared 范文库 carry their name
    st.sidebar.caption(V.md_text(f"已登录：{writer}"))
    return ws.for_writer(writer)


def main() -> None:
    settings, err = S.attempt(S.current_settings)
    if err or settings is None:
        st.error(V.md_text(err or S.GENERIC_ERROR))
        st.stop()
    ws, err = S.attempt(S.get_workspace, settings)
    if err or ws is None:
        st.error(V.md_text(err or S.GENERIC_ERROR))
        st.stop()
    ws = sign_in(ws, settings)
    S.await_generation()  # a generation stopped by the click that started this run saves its text first
    project = load_project(ws)
    sidebar(ws, settings)
    if S.PENDING_STEP in st.session_state:
        st.session_state[S.STEP] = st.session_state.pop(S.PENDING_STEP)
    st.session_state.setdefault(S.STEP, S.STEPS[0] if project is None or project.outline is None else "正文")
    st.title(V.md_text(project.name) if project else "新建文稿")
    if project and project.brief:
        b = project.brief
        st.caption(V.md_text(f"{b.genre} · 目标约 {b.length} 字 · {b.mode.label} · 已有 {len(project.versions)} 稿"))
    step = st.segmented_control("步骤", S.STEPS, key=S.STEP, required=True, label_visibility="collapsed")
    for kind, message in st.session_state.pop(S.FLASH, []):
        getattr(st, kind)(V.md_text(message))
    if step == "任务":
        page_task(ws, project)
    elif step == "范文":
        page_corpus(ws, project, settings)
    elif step == "提纲":
        page_outline(ws, project, settings)
    elif step == "正文":
        page_draft(ws, project, settings)
    elif step == "审阅":
        page_review(ws, project, settings)
    elif step == "修改":
        page_revise(ws, project, settings)
    else:
        page_export(ws, project)


main()
