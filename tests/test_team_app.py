"""Team mode in the app (AppTest): no signed-in writer, no data; a signed-in writer sees only their own projects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from drafting import config, team
from drafting.llm import client as llm
from drafting.ui.state import ScriptedChatModel
from drafting.workspace import Workspace

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def team_app(monkeypatch: pytest.MonkeyPatch, fake_embeddings: object) -> Iterator[Workspace]:
    monkeypatch.setenv("DRAFTING_TEAM", "1")
    monkeypatch.setattr(llm, "get_chat_model", lambda settings=None, **_: ScriptedChatModel())
    monkeypatch.setattr(llm, "get_embeddings", lambda: fake_embeddings)
    config.get_settings.cache_clear()
    st.cache_resource.clear()
    ws = Workspace(config.get_settings().workspace_path)
    ws.for_writer("张三").create_project(name="张三的防汛讲话")
    ws.for_writer("李四").create_project(name="李四的招商报告")
    yield ws
    st.cache_resource.clear()


def _signed_in(monkeypatch: pytest.MonkeyPatch, headers: dict[str, str]) -> None:
    real = team.signed_in_writer
    monkeypatch.setattr(team, "signed_in_writer", lambda settings, _headers: real(settings, headers))


def _everything(at: AppTest) -> str:
    elements = (*at.markdown, *at.caption, *at.warning, *at.error, *at.info, *at.title, *at.sidebar.button)
    return "\n".join(str(getattr(e, "label", None) or getattr(e, "value", "")) for e in elements)


def test_no_sign_in_shows_the_notice_and_no_data(team_app: Workspace) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    shown = _everything(at)
    assert "请先登录" in shown
    assert "防汛讲话" not in shown and "招商报告" not in shown
    assert not at.sidebar.button and not at.text_area  # no project list, no brief form


def test_signed_in_writer_sees_only_their_projects(team_app: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    _signed_in(monkeypatch, {"X-Forwarded-User": "%E5%BC%A0%E4%B8%89"})  # 张三
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    shown = _everything(at)
    assert "已登录：张三" in shown
    assert "张三的防汛讲话" in shown and "李四的招商报告" not in shown
