"""Team mode: every model request names its writer (OpenAI ``user`` field and the X-Drafting-Writer header).

A real HTTP server on loopback (tests/fake_openai.py, http.server in a thread) poses as the OpenAI
endpoint and records each request's body and headers; the real client sends to it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
import streamlit as st

from drafting import config, team
from drafting.cli import main
from drafting.llm.calls import complete
from drafting.llm.client import WRITER_HEADER, get_chat_model, settings_of
from tests.fake_openai import FakeOpenAI

HEADER = WRITER_HEADER.lower()  # http.server hands headers over as sent; FakeOpenAI lower-cases the names


def _chat_requests(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["path"].endswith("/chat/completions")]


@pytest.mark.parametrize("streaming", [True, False])
@pytest.mark.parametrize(
    ("writer", "on_the_wire"),
    [("张三", "%E5%BC%A0%E4%B8%89"), ("zhang.san@bgs", "zhang.san@bgs"), ("王 五%", "%E7%8E%8B%20%E4%BA%94%25")],
)
def test_team_requests_name_the_writer(streaming: bool, writer: str, on_the_wire: str) -> None:
    with FakeOpenAI() as fake:
        settings = config.Settings(llm_base_url=fake.base_url, team=True, writer=writer)
        text = complete(get_chat_model(settings, streaming=streaming), [("user", "写一段话")], stage="draft")
        structured = complete(
            get_chat_model(settings, streaming=streaming),
            [("user", "按 JSON 给出提纲")],
            stage="outline",
            json_mode=True,
        )
    assert text and structured
    requests = _chat_requests(fake)
    assert len(requests) == 2
    for request in requests:
        assert request["body"]["user"] == writer
        value = request["headers"][HEADER]
        assert value == on_the_wire and value.isascii()
        assert unquote(value) == writer  # what a log reader decodes


def test_local_mode_adds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI() as fake:
        # A writer name in the settings means nothing outside team mode.
        settings = config.Settings(llm_base_url=fake.base_url, team=False, writer="张三")
        complete(get_chat_model(settings), [("user", "写一段话")], stage="draft")
    (request,) = _chat_requests(fake)
    assert "user" not in request["body"]
    assert HEADER not in request["headers"]


def test_team_mode_without_a_writer_adds_nothing() -> None:
    with FakeOpenAI() as fake:
        complete(
            get_chat_model(config.Settings(llm_base_url=fake.base_url, team=True)), [("user", "写")], stage="draft"
        )
    (request,) = _chat_requests(fake)
    assert "user" not in request["body"] and HEADER not in request["headers"]


def test_cli_draft_in_team_mode_names_drafting_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI() as fake:
        monkeypatch.setenv("DRAFTING_LLM_BASE_URL", fake.base_url)
        monkeypatch.setenv("DRAFTING_TEAM", "1")
        monkeypatch.setenv("DRAFTING_WRITER", "赵六")
        config.get_settings.cache_clear()
        main(["draft", "--request", "为县长起草在全县安全生产工作会议上的讲话，约600字", "--mode", "urgent"])
    requests = _chat_requests(fake)
    assert requests, "the CLI made no chat request"
    assert {r["body"].get("user") for r in requests} == {"赵六"}
    assert {r["headers"].get(HEADER) for r in requests} == {"%E8%B5%B5%E5%85%AD"}


def test_cli_draft_in_local_mode_names_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI() as fake:
        monkeypatch.setenv("DRAFTING_LLM_BASE_URL", fake.base_url)
        monkeypatch.delenv("DRAFTING_TEAM", raising=False)
        monkeypatch.setenv("DRAFTING_WRITER", "赵六")
        config.get_settings.cache_clear()
        main(["draft", "--request", "为县长起草在全县安全生产工作会议上的讲话，约600字", "--mode", "urgent"])
    requests = _chat_requests(fake)
    assert requests
    assert all("user" not in r["body"] and HEADER not in r["headers"] for r in requests)


def test_app_model_carries_the_signed_in_writer() -> None:
    from drafting.ui import state

    st.cache_resource.clear()
    try:
        settings = config.Settings(llm_base_url="http://127.0.0.1:9/v1", team=True, writer="命令行的人")
        with team.acting_as("张三"):
            zhang = state.chat_model(settings)
        with team.acting_as("李四"):
            li = state.chat_model(settings)
        assert settings_of(zhang).writer == "张三" and settings_of(li).writer == "李四"
        assert zhang is not li  # one cached model per writer, never another writer's
        with team.acting_as("张三"):
            assert state.chat_model(settings) is zhang
    finally:
        st.cache_resource.clear()
