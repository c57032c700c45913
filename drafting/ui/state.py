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
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import streamlit as st
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, BaseMessageChunk

from drafting import config, team
from drafting.corpus.store import IndexStore
from drafting.errors import DraftingError, ProviderError
from drafting.llm import client as llm
from drafting.llm.labels import LabelledChatModel
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
    "WatchedChatModel",
    "GenerationStopped",
    "StopOnInterrupt",
    "STOP_KEY",
    "asks_to_stop",
    "Generation",
    "begin_generation",
    "await_generation",
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
FAKE_DELAY_ENV = "DRAFTING_FAKE_LLM_DELAY"  # seconds between the scripted model's pieces (tests of streaming)
GENERIC_ERROR = "操作没有完成：程序出现意外错误，已记录日志。已保存的内容不受影响，请重试或联系维护人员。"


# -- factories ----------------------------------------------------------------------------------
def current_settings() -> config.Settings:
    """Process settings with the writer's stored (encrypted) API key applied."""
    return effective_settings(config.get_settings())


@st.cache_resource(show_spinner=False)
def _workspace(location: str) -> Workspace:
    return Workspace(location)  # a file path, or the team database's URL


def get_workspace(settings: config.Settings) -> Workspace:
    return _workspace(str(settings.workspace_location))


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
    return f"{settings.llm_base_url}|{settings.llm_model}|{digest}|{settings.fake_llm}|{settings.writer}"


@st.cache_resource(show_spinner=False)
def _chat_model(key: str, _settings: config.Settings) -> BaseChatModel:
    if _settings.fake_llm:
        log.warning("%s=1: using the scripted fake chat model", FAKE_LLM_ENV)
        delay = float(os.environ.get(FAKE_DELAY_ENV) or 0)
        if delay:  # streams slowly, so a test can watch a generation and stop it
            return WatchedChatModel(inner=demo_chat_model(), on_piece=lambda _: time.sleep(delay))
        return demo_chat_model()
    return llm.get_chat_model(_settings)


def chat_model(settings: config.Settings) -> BaseChatModel:
    """The writer model for these settings (one per endpoint, model and key, and in team mode per writer:
    its requests name the signed-in writer for the serving engine's logs)."""
    if settings.team:
        settings = settings.replace(writer=team.acting_writer())
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


# -- stopping a generation -------------------------------------------------------------------------
class GenerationStopped(ProviderError):
    """The writer stopped a generation (取消, or left the page while it ran). A ProviderError, so every
    stage keeps what was written so far exactly as it does when the model server fails mid-answer.
    Keeps ProviderError's constructor; the interrupt itself stays with :class:`StopOnInterrupt`."""

    MESSAGE = "已停止生成。"


STOP_KEY = "stop_generation"  # the 取消 button shown while a generation runs
GENERATION = "generation"
STOP_WAIT_S = 60.0


class Generation:
    """A generation running in one script run, seen by the next run of the same session.

    With Streamlit's fast reruns a click during a run (取消, or any other widget) stops the running
    script and starts a new run at once, in another thread; the stopped run may not touch ``st`` any
    more (every call raises again). It saves the partial text, leaves its message here and sets
    ``done``; the new run waits for that before it loads the project (:func:`await_generation`)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.message: tuple[str, str] | None = None

    def finish(self, message: tuple[str, str] | None = None) -> None:
        self.message = message
        self.done.set()


def begin_generation() -> Generation:
    generation = Generation()
    st.session_state[GENERATION] = generation
    return generation


def await_generation(timeout: float = STOP_WAIT_S) -> None:
    """At the top of a run: let a generation stopped by the click that started this run save its
    text first, then show what it says."""
    generation = st.session_state.get(GENERATION)
    if not isinstance(generation, Generation):
        return
    if not generation.done.is_set():
        with st.spinner("正在停止生成，保存已写好的部分……"):
            generation.done.wait(timeout)
    if generation.done.is_set():
        st.session_state.pop(GENERATION, None)
        if generation.message:
            flash(*generation.message)


def asks_to_stop(interrupt: BaseException, stop_key: str = STOP_KEY) -> bool:
    """Whether Streamlit's interrupt means "stop": the session ended (StopException), or the rerun it
    asks for was triggered by the 取消 button. A rerun for any other widget waits for the generation."""
    data = getattr(interrupt, "rerun_data", None)
    if data is None:
        return True
    for widget in getattr(getattr(data, "widget_states", None), "widgets", None) or []:
        if widget.id.endswith(f"-{stop_key}") and getattr(widget, "trigger_value", False):
            return True
    return False


class StopOnInterrupt:
    """A progress callback that draws on the page, and decides what a click during the generation means.

    A click while a script runs makes the next drawing call raise Streamlit's control exception, a
    BaseException that would bypass every handler that saves partial text. 取消 (or the session
    ending) becomes GenerationStopped, kept in :attr:`interrupt`, and the stages keep what was written;
    any other click is held in :attr:`deferred` and the generation goes on. The page re-raises either
    once the result is saved, so Streamlit's rerun happens with the writer's latest clicks."""

    def __init__(self, update: Callable[..., None], stop_key: str = STOP_KEY) -> None:
        self.update = update
        self.stop_key = stop_key
        self.interrupt: BaseException | None = None
        self.deferred: BaseException | None = None

    def __call__(self, *args: Any) -> None:
        if self.interrupt is not None:
            raise GenerationStopped(GenerationStopped.MESSAGE)
        try:
            self.update(*args)
        except (Exception, KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as interrupt:  # noqa: BLE001 - Streamlit's StopException / RerunException
            log.info("generation interrupted by %s (stop: %s)", type(interrupt).__name__, asks_to_stop(interrupt))
            if not asks_to_stop(interrupt, self.stop_key):
                self.deferred = interrupt
                return
            self.interrupt = interrupt
            raise GenerationStopped(GenerationStopped.MESSAGE) from interrupt

    def rerun(self) -> None:
        """Rerun the page: Streamlit's own pending rerun when a click came during the generation."""
        if self.interrupt is not None or self.deferred is not None:
            raise self.interrupt or self.deferred  # type: ignore[misc]
        st.rerun()


class WatchedChatModel(LabelledChatModel):
    """A chat model whose streamed pieces also go to ``on_piece`` (the page's live progress), for stages
    that take no token callback of their own (the outline). Raising there stops the stream."""

    inner: Any
    on_piece: Any = None

    @property
    def _llm_type(self) -> str:
        return f"watched-{self.inner._llm_type}"

    def _pieces(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> Iterator[BaseMessageChunk]:
        # The inner model's public stream, with this run's labels (the prompt template's name), so the inner
        # model's own callbacks see the call as if it were made to it directly.
        config = {"metadata": self.take_labels()}
        for piece in self.inner.stream(messages, config=config, stop=stop, **kwargs):
            if self.on_piece is not None:
                self.on_piece(str(piece.content))
            yield piece
