"""Session-state keys, cached factories and error handling for the Streamlit page.

The factories are the page's only way to get a workspace, a store and a model; tests patch the
seams under them (``drafting.llm.get_chat_model``, ``drafting.llm.get_embeddings``).

``DRAFTING_FAKE_LLM=1`` (``Settings.fake_llm``; tests and quick local runs only) makes
:func:`chat_model` return :class:`drafting.testing.ScriptedChatModel`, a deterministic offline
stand-in that answers every stage of the pipeline in the right shape, so the whole workflow runs
without a model server.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
from langchain_core.language_models import BaseChatModel

from drafting import config
from drafting.corpus.store import IndexStore
from drafting.errors import DraftingError
from drafting.llm import client as llm
from drafting.secrets import effective_settings
from drafting.testing import ScriptedChatModel, demo_chat_model  # ScriptedChatModel: re-exported for page tests
from drafting.workspace import Workspace

__all__ = [
    "PROJECT",
    "STEP",
    "PENDING_STEP",
    "FLASH",
    "RESULTS",
    "QUERY",
    "STEPS",
    "FAKE_LLM_ENV",
    "GENERIC_ERROR",
    "current_settings",
    "get_workspace",
    "get_store",
    "chat_model",
    "attempt",
    "flash",
    "go_to",
    "ScriptedChatModel",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Session-state keys.
PROJECT = "project_id"
STEP = "step"
PENDING_STEP = "pending_step"
FLASH = "flash"
RESULTS = "search_results"
QUERY = "search_query"
BRIEF_FORM = "brief_form"

STEPS = ("任务", "范文", "提纲", "正文", "审阅", "修改", "导出")
FAKE_LLM_ENV = "DRAFTING_FAKE_LLM"  # the environment name of Settings.fake_llm
GENERIC_ERROR = "操作没有完成：程序出现意外错误，已记录日志。已保存的内容不受影响，请重试或联系维护人员。"


# -- factories ----------------------------------------------------------------------------------
def current_settings() -> config.Settings:
    """Process settings with the writer's stored (encrypted) API key applied."""
    return effective_settings(config.get_settings())


@st.cache_resource(show_spinner=False)
def _workspace(path: str) -> Workspace:
    return Workspace(Path(path))


def get_workspace(settings: config.Settings) -> Workspace:
    return _workspace(str(settings.workspace_path))


@st.cache_resource(show_spinner="正在打开范文库（首次使用时要建立索引，需要几分钟，只做一次）……")
def _store(index_dir: str, _settings: config.Settings) -> IndexStore:
    from drafting.corpus.ingest import ingest_bundled_corpus
    from drafting.corpus.store import open_store

    store = open_store(_settings, embeddings=llm.get_embeddings())
    if not store.documents():
        report = ingest_bundled_corpus(store)
        log.info("bundled corpus indexed: %s", report.summary)
    return store


def get_store(settings: config.Settings) -> IndexStore:
    """The 范文库, indexing the bundled corpus on first use."""
    return _store(str(settings.index_dir), settings)


def _model_key(settings: config.Settings) -> str:
    digest = hashlib.sha256(settings.llm_api_key.encode()).hexdigest()[:12]
    return f"{settings.llm_base_url}|{settings.llm_model}|{digest}|{settings.fake_llm}"


@st.cache_resource(show_spinner=False)
def _chat_model(key: str, _settings: config.Settings) -> BaseChatModel:
    if _settings.fake_llm:
        log.warning("%s=1: using the scripted fake chat model", FAKE_LLM_ENV)
        return demo_chat_model()
    return llm.get_chat_model(_settings)


def chat_model(settings: config.Settings) -> BaseChatModel:
    """The writer model for these settings (one per endpoint, model and key)."""
    return _chat_model(_model_key(settings), settings)


# -- actions and messages ----------------------------------------------------------------------
def attempt(action: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T | None, str | None]:
    """Run an action; a DraftingError becomes its Chinese message, anything else a logged generic one."""
    try:
        return action(*args, **kwargs), None
    except DraftingError as err:
        log.info("action %s failed: %s", getattr(action, "__name__", action), err)
        return None, str(err)
    except Exception:  # noqa: BLE001 - the page must never show a traceback
        log.exception("unexpected error in %s", getattr(action, "__name__", action))
        return None, GENERIC_ERROR


def flash(kind: str, message: str) -> None:
    """A message shown once at the top of the next run (survives st.rerun)."""
    st.session_state.setdefault(FLASH, []).append((kind, message))


def go_to(step: str) -> None:
    """Switch step on the next run (a widget's own key cannot be changed after it is drawn)."""
    st.session_state[PENDING_STEP] = step
