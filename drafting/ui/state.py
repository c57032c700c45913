"""Session-state keys, cached factories and error handling for the Streamlit page.

The factories are the page's only way to get a workspace, a store and a model; tests patch the
seams under them (``drafting.llm.get_chat_model``, ``drafting.llm.get_embeddings``).

``DRAFTING_FAKE_LLM=1`` (tests and quick local runs only) makes :func:`chat_model` return
:class:`ScriptedChatModel`, a deterministic offline stand-in that answers every prompt of the
pipeline in the right shape, so the whole workflow runs without a model server.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from drafting import config
from drafting.corpus.store import IndexStore
from drafting.errors import DraftingError, ProviderError
from drafting.llm import client as llm
from drafting.secrets import effective_settings
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
FAKE_LLM_ENV = "DRAFTING_FAKE_LLM"
FAKE_DELAY_ENV = "DRAFTING_FAKE_LLM_DELAY"  # seconds between the scripted model's pieces (tests of streaming)
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
    return f"{settings.llm_base_url}|{settings.llm_model}|{digest}|{os.environ.get(FAKE_LLM_ENV, '')}"


@st.cache_resource(show_spinner=False)
def _chat_model(key: str, _settings: config.Settings) -> BaseChatModel:
    if os.environ.get(FAKE_LLM_ENV) == "1":
        log.warning("%s=1: using the scripted fake chat model", FAKE_LLM_ENV)
        return ScriptedChatModel()
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


# -- stopping a generation -------------------------------------------------------------------------
class GenerationStopped(ProviderError):
    """The writer stopped a generation (取消, or left the page while it ran). A ProviderError, so every
    stage keeps what was written so far exactly as it does when the model server fails mid-answer."""

    def __init__(self, interrupt: BaseException) -> None:
        super().__init__("已停止生成。")
        self.interrupt = interrupt


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
            raise GenerationStopped(self.interrupt)
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
            raise GenerationStopped(interrupt) from interrupt

    def rerun(self) -> None:
        """Rerun the page: Streamlit's own pending rerun when a click came during the generation."""
        if self.interrupt is not None or self.deferred is not None:
            raise self.interrupt or self.deferred  # type: ignore[misc]
        st.rerun()


class WatchedChatModel(BaseChatModel):
    """A chat model whose streamed pieces also go to ``on_piece`` (the page's live progress), for stages
    that take no token callback of their own (the outline). Raising there stops the stream."""

    inner: Any
    on_piece: Any = None

    @property
    def _llm_type(self) -> str:
        return f"watched-{self.inner._llm_type}"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(str(c.message.content) for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self.inner._stream(messages, stop=stop, **kwargs):
            if self.on_piece is not None:
                self.on_piece(str(chunk.message.content))
            yield chunk


# -- deterministic fake model (DRAFTING_FAKE_LLM=1) --------------------------------------------
_FAKE_HEADINGS = [
    ("提高政治站位，切实增强做好工作的责任感", ["深刻认识重要意义", "准确把握形势任务"], ["通天气"]),
    ("突出工作重点，扎实推进各项任务落地", ["聚焦群众关切抓整改", "创新方法抓落实"], ["接地气", "显霸气"]),
    ("加强组织领导，确保各项部署落到实处", ["压实各级责任", "强化督查考核"], ["聚人气"]),
    ("坚持久久为功，巩固拓展工作成果", ["完善长效机制", "营造良好氛围"], ["溢才气"]),
    ("强化要素保障，凝聚推动发展的强大合力", ["加强队伍建设", "保障经费投入"], ["聚人气"]),
]
_FAKE_CLAUSES = [
    "要把思想和行动统一到上级决策部署上来，坚持问题导向，拿出过硬措施。",
    "各乡镇、各部门要结合实际，细化任务清单，明确时间节点，一项一项抓落实。",
    "要深入基层一线，倾听群众呼声，把群众满意作为检验工作成效的根本标准。",
    "要敢于担当、善于作为，对看准了的事情雷厉风行、一抓到底。",
    "要加强统筹协调，形成上下联动、齐抓共管的工作格局。",
    "要把责任压实到岗、落实到人，确保各项任务按期完成。",
]
_FAKE_LEADS = ["围绕", "抓好", "推进", "落实", "聚焦", "做实", "深化", "巩固"]


class ScriptedChatModel(BaseChatModel):
    """Answers outline, section, review and comment prompts deterministically; records what it was asked."""

    history: list[str] = Field(default_factory=list)
    fail_on_call: int | None = None  # 1-based call number that breaks mid-stream (connection lost)
    chunk_chars: int = 6
    delay: float = Field(default_factory=lambda: float(os.environ.get(FAKE_DELAY_ENV) or 0))

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def _answer(self, prompt: str) -> str:
        if "请拟一份提纲" in prompt:
            n = int(m.group(1)) if (m := re.search(r"主体分 (\d+) 部分", prompt)) else 3
            sections = [
                {"heading": h, "purpose": f"讲清{p[0]}", "points": p, "principles": pr, "refs": [1]}
                for h, p, pr in _FAKE_HEADINGS[:n]
            ]
            return json.dumps({"title": "", "sections": sections}, ensure_ascii=False)
        if "按上面 8 项标准逐项审阅" in prompt:
            names = ["通天气", "接地气", "聚人气", "溢才气", "显霸气", "动之以情", "晓之以理", "孚之以威"]
            scores = [
                {
                    "criterion": c,
                    "score": 6 + i % 3,
                    "evidence": _FAKE_CLAUSES[i % 6],
                    "suggestion": f"进一步加强{c}的表达。",
                }
                for i, c in enumerate(names)
            ]
            return json.dumps({"scores": scores}, ensure_ascii=False)
        if "条最重要的修改意见" in prompt:
            # One comment per perspective (identical comments on one paragraph are dropped as repeats).
            texts = {
                "基层一线": "这一段要写明基层落实的难点和解决办法。",
                "文字把关": "这一段句子偏长，建议拆成短句，删去套话。",
                "领导视角": "这一段要点明责任单位和牵头领导。",
            }
            said = next((t for k, t in texts.items() if f"你是{k}" in prompt), "这一段要补充具体措施和时间节点。")
            comment = {"paragraph": 2, "quote": "", "comment": said}
            return json.dumps({"comments": [comment]}, ensure_ascii=False)
        if "请写出全文正文" in prompt and "还写得太短" not in prompt:
            # The one-call body: the opening, every outline heading in order with its prose, the closing.
            parts = re.findall(r"^[一二三四五六七八九十]+、(.+?)（约(\d+)字）$", prompt, re.M)
            cite = "[1]" if "【范文片段" in prompt and "（只学写法）】\n（无）" not in prompt else ""
            lines = ["同志们：", "今天召开这次会议，" + self._prose("开好这次会议", 60)]
            for k, (heading, budget) in enumerate(parts):
                text = self._prose(heading.split("，")[0][:8], int(budget))
                lines += [f"{'一二三四五六七八九十'[k]}、{heading}", text[:-1] + cite + "。" if k == 0 else text]
            lines.append("同志们，" + self._prose("会后抓落实", 60))
            return "\n".join(lines)
        asked = re.findall(r"约\s*(\d+)\s*字", prompt)
        budget = int(asked[-1]) if asked else 120
        # Every sentence is new: the pipeline drops sentences a section repeats from earlier ones.
        # The drafting conversation asks for one part per turn; the last request names the part.
        named = re.findall(
            r"(?:接着写第.部分|现在只写)“(?:[一二三四五六七八九十]+、)?(.+?)”|“(.+?)”这一部分还写得太短", prompt
        )
        topic = "".join(named[-1]).split("，")[0] if named else "这项工作"
        if prompt.rfind("最后写全文的结尾") > max(prompt.rfind("接着写第"), prompt.rfind("还写得太短")):
            topic = "会后抓落实"
        out, i = "", len(self.history) * 6
        while len(out) < budget * 0.95:
            lead = _FAKE_LEADS[(i // len(_FAKE_CLAUSES)) % len(_FAKE_LEADS)]
            out += f"{lead}{topic}，{_FAKE_CLAUSES[i % len(_FAKE_CLAUSES)]}"
            i += 1
            if "[1]" not in out and "【范文片段" in prompt and "（无）\n\n现在" not in prompt:
                out = out[:-1] + "[1]。"
        return out

    def _prose(self, topic: str, budget: int) -> str:
        """Sentences that never repeat (the gate drops repeats), about ``budget`` characters."""
        out = ""
        i = len(self.history) * 6 + len(out)
        while len(out) < budget * 0.95:
            lead = _FAKE_LEADS[(i // len(_FAKE_CLAUSES)) % len(_FAKE_LEADS)]
            out += f"{lead}{topic}，{_FAKE_CLAUSES[i % len(_FAKE_CLAUSES)]}"
            i += 1
        return out

    def _prompt(self, messages: list[BaseMessage]) -> str:
        return "\n".join(str(m.content) for m in messages)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(str(c.message.content) for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        prompt = self._prompt(messages)
        self.history.append(prompt)
        text = self._answer(prompt)
        failing = self.fail_on_call is not None and len(self.history) == self.fail_on_call
        for i in range(0, len(text), self.chunk_chars):
            if failing and i >= len(text) // 2:
                raise ConnectionError("fake model: connection lost")
            if self.delay:
                time.sleep(self.delay)
            yield ChatGenerationChunk(message=AIMessageChunk(content=text[i : i + self.chunk_chars]))
