"""Calling a chat model: streaming, cost accounting, error translation, JSON repair and retry.

Stages call ``complete`` / ``complete_structured`` with the model they were given,
so tests inject LangChain fake chat models here.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import json_repair
from pydantic import BaseModel, ValidationError

from drafting.classified import check_outgoing
from drafting.config import Settings
from drafting.domain import Costs, StageCost
from drafting.errors import DraftingError, DroppedStreamError, EmptyAnswerError, ModelOutputError, ProviderError
from drafting.llm.client import (
    carried_settings,
    deadline_error,
    ensure_tiktoken_offline,
    is_dropped_stream,
    is_length_cut,
    settings_of,
    translate_error,
)
from drafting.llm.prompts import Prompt, load_prompt
from drafting.textclean import xml_safe

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "complete",
    "complete_structured",
    "CostLog",
    "collect_costs",
    "costs_so_far",
    "joins_costs",
    "count_tokens",
    "extract_json",
    "Messages",
    "PROMPT_KEY",
    "VALUES_KEY",
]

log = logging.getLogger(__name__)
Messages = Sequence[tuple[str, str]]
T = TypeVar("T", bound=BaseModel)
P = ParamSpec("P")
R = TypeVar("R")
# Run-metadata keys naming the prompt template of a call and its rendered variables. LangChain hands
# a run's metadata to the model's callbacks (``run_manager.metadata``) and to tracers, never to the
# provider's request; so a fake model can tell the stages apart without reading prompt wording.
PROMPT_KEY = "drafting_prompt"
VALUES_KEY = "drafting_prompt_values"


class CostLog:
    """The model calls of one run (or one stage), per stage, recorded by :func:`complete` as they
    happen. Only the orchestrator holds it; what it hands on is a frozen :meth:`snapshot`."""

    def __init__(self) -> None:
        self._stages: dict[str, StageCost] = {}

    def add(self, stage: str, tokens_in: int, tokens_out: int, seconds: float) -> None:
        one = StageCost(stage=stage, calls=1, tokens_in=tokens_in, tokens_out=tokens_out, seconds=seconds)
        have = self._stages.get(stage)
        self._stages[stage] = one if have is None else Costs(stages=(have,)).plus(Costs(stages=(one,))).stages[0]

    def snapshot(self) -> Costs:
        return Costs(stages=tuple(self._stages.values()))


# The cost logs open in this context, outermost first: every call is recorded in each of them.
_LOGS: ContextVar[tuple[CostLog, ...]] = ContextVar("drafting_cost_logs", default=())


@contextmanager
def collect_costs() -> Iterator[CostLog]:
    """Collect the costs of the model calls made inside the block (also into any enclosing block's log)."""
    new = CostLog()
    token = _LOGS.set((*_LOGS.get(), new))
    try:
        yield new
    finally:
        _LOGS.reset(token)


def joins_costs(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` inside the caller's cost log, or inside a new one when the caller has none open (so that
    a stage called on its own still knows what its calls cost)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if _LOGS.get():
            return fn(*args, **kwargs)
        with collect_costs():
            return fn(*args, **kwargs)

    return wrapper


def costs_so_far() -> Costs:
    """A frozen copy of the innermost open cost log (no costs outside any block)."""
    logs = _LOGS.get()
    return logs[-1].snapshot() if logs else Costs()


@lru_cache(maxsize=1)
def _encoding() -> Any:
    ensure_tiktoken_offline()
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """Token estimate with tiktoken's cl100k (the local model's own tokenizer differs a little)."""
    return len(_encoding().encode(text, disallowed_special=()))


def complete(
    llm: BaseChatModel,
    messages: Messages,
    *,
    stage: str,
    on_token: Callable[[str], None] | None = None,
    max_tokens: int | None = None,
    json_mode: bool = False,
    settings: Settings | None = None,
    stop: Callable[[str], bool] | None = None,
) -> str:
    """Stream a completion and return its text.

    ``stop`` sees each streamed piece; when it returns True the stream is closed there (the server
    stops generating when the client goes away) and the text so far is the answer.

    ``settings`` (the deadline, JSON mode, the endpoint named in error messages) default to those
    the model was built with (:func:`drafting.llm.client.settings_of`), not to the process's.
    On failure a ProviderError is raised whose ``partial`` holds the text received so far,
    so the caller can keep it.
    """
    # The 涉密 backstop: refuse marked text here, before any byte is sent, whatever path built the prompt;
    # judged against the endpoint this model sends to (the process settings for a model without one).
    check_outgoing("\n".join(m[1] for m in messages), stage, settings or carried_settings(llm))
    settings = settings or settings_of(llm)
    runnable: Any = llm
    kwargs: dict[str, Any] = {}
    if max_tokens:
        # Sent as the classic ``max_tokens`` field: langchain-openai now sends
        # ``max_completion_tokens``, which llama.cpp's server ignores (answers ran on unbounded).
        kwargs["extra_body"] = {"max_tokens": max_tokens}
    if json_mode and settings.llm_json_mode:
        kwargs["response_format"] = {"type": "json_object"}
    if kwargs:
        runnable = llm.bind(**kwargs)
    started = time.perf_counter()
    for attempt in (1, 2):
        try:
            text, usage = _stream_once(runnable, messages, stage, on_token, started, settings, stop)
        except _Dropped as dropped:
            if attempt == 1:
                # A stream closed mid-answer is retried once from the start; then it is reported as such.
                log.warning("stage %s: stream dropped after %d characters; retrying once", stage, len(dropped.text))
                continue
            translated = translate_error(dropped.exc, settings)
            _record(stage, messages, dropped.text, None, started)
            raise DroppedStreamError(str(translated), partial=dropped.text) from dropped.exc
        except ProviderError as err:
            _record(stage, messages, err.partial, None, started)
            raise
        break
    _record(stage, messages, text, usage, started)
    # A follow-up ("go on", after an assistant turn) may add nothing; a first answer may not be empty.
    followup = any(role == "assistant" for role, _ in messages)
    if not json_mode and not followup and _meaningful(text) < MIN_ANSWER_CHARS:
        raise EmptyAnswerError(
            f"模型服务返回了空的回答（{stage}），没有生成可用的文字，这一稿没有保存为新版本。", partial=text
        )
    return text


MIN_ANSWER_CHARS = 4  # fewer letters/digits/汉字 than this ("好的。") is an empty answer, not a paragraph


def _meaningful(text: str) -> int:
    return sum(1 for ch in text if ch.isalnum())


class _Dropped(Exception):
    def __init__(self, exc: BaseException, text: str) -> None:
        super().__init__(str(exc))
        self.exc = exc
        self.text = text


def _run_config(messages: Messages, stage: str) -> dict[str, Any]:
    """The LangChain run config labelling a call with its prompt template (see PROMPT_KEY)."""
    if not isinstance(messages, Prompt):
        return {"run_name": stage}
    return {
        "run_name": messages.name,
        "tags": [f"prompt:{messages.name}"],
        "metadata": {PROMPT_KEY: messages.name, VALUES_KEY: dict(messages.values)},
    }


def _stream_once(
    runnable: Any,
    messages: Messages,
    stage: str,
    on_token: Callable[[str], None] | None,
    started: float,
    settings: Settings,
    stop: Callable[[str], bool] | None = None,
) -> tuple[str, dict[str, int] | None]:
    """One streamed call: (clean text, usage). Raises _Dropped for a stream cut mid-answer."""
    parts: list[str] = []
    usage: dict[str, int] | None = None
    try:
        stream = runnable.stream(list(messages), config=_run_config(messages, stage))
        for chunk in stream:
            piece = chunk.content if isinstance(chunk.content, str) else ""
            if piece:
                parts.append(piece)
                if on_token:
                    on_token(xml_safe(piece))
                if stop is not None and stop(piece):
                    # Closing the generator closes the HTTP response: the server stops writing.
                    stream.close()
                    log.info("stage %s: stream stopped by the caller after %d characters", stage, len("".join(parts)))
                    break
            meta = getattr(chunk, "usage_metadata", None)
            if meta:
                usage = dict(meta)
            if time.perf_counter() - started > settings.llm_deadline:
                # The transport enforces the deadline per request; this catches retries adding up.
                raise deadline_error(settings)
    except ValueError as exc:
        # An empty answer: LangChain refuses to build a message from zero chunks. It raises a bare
        # ValueError (langchain_core has no type for it), so its text is the only way to tell.
        if "No generation chunks" not in str(exc):
            raise _provider_error(exc, parts, settings) from exc
    except Exception as exc:  # noqa: BLE001 - every provider failure becomes a ProviderError
        if is_length_cut(exc):
            # The answer hit max_tokens in JSON mode; keep what came (JSON repair can finish it).
            log.warning("stage %s: answer cut at the token limit", stage)
            return xml_safe("".join(parts)), usage
        if is_dropped_stream(exc):
            raise _Dropped(exc, xml_safe("".join(parts))) from exc
        raise _provider_error(exc, parts, settings) from exc
    return xml_safe("".join(parts)), usage


def _provider_error(exc: BaseException, parts: list[str], settings: Settings) -> DraftingError:
    return translate_error(exc, settings, partial=xml_safe("".join(parts)))


def _record(stage: str, messages: Messages, text: str, usage: dict[str, int] | None, started: float) -> None:
    """Record the call in every open cost log (:func:`collect_costs`)."""
    logs = _LOGS.get()
    if not logs:
        return
    if usage and usage.get("input_tokens"):
        tin, tout = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    else:
        tin = sum(count_tokens(m[1]) for m in messages)
        tout = count_tokens(text)
    seconds = round(time.perf_counter() - started, 3)
    for cost_log in logs:
        cost_log.add(stage, tin, tout, seconds)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """Parse JSON from a model answer: code fences, leading chatter and broken syntax are tolerated."""
    if not text or not text.strip():
        raise ValueError("empty answer")
    m = _FENCE.search(text)
    body = m.group(1) if m else text
    starts = [i for i in (body.find("{"), body.find("[")) if i >= 0]
    if starts:
        body = body[min(starts) :]
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        repaired = json_repair.loads(body)
        if repaired in ("", None, [], {}):
            raise ValueError("no JSON object found") from None
        return repaired


def complete_structured(
    llm: BaseChatModel,
    messages: Messages,
    schema: type[T],
    *,
    stage: str,
    retries: int = 1,
    max_tokens: int | None = None,
    coerce: Callable[[Any], Any] | None = None,
    settings: Settings | None = None,
) -> T:
    """Ask for JSON matching ``schema``; repair broken JSON, and retry with the error shown to the model."""
    history: Messages = messages
    last_error = ""
    for attempt in range(retries + 1):
        text = complete(llm, history, stage=stage, max_tokens=max_tokens, json_mode=True, settings=settings)
        try:
            data = extract_json(text)
            if coerce is not None:
                data = coerce(data)
            return schema.model_validate(data)
        except (ValueError, ValidationError, TypeError) as exc:
            last_error = str(exc)[:500]
            log.warning("stage %s: unusable JSON on attempt %d: %s", stage, attempt + 1, last_error)
            fix = load_prompt("repair.json").render(error=last_error)
            history = fix.after([*messages, ("assistant", text[:2000] or "（空）")])
    raise ModelOutputError(f"模型多次返回无法解析的结果（{stage}）：{last_error[:120]}")


def safe_partial(err: DraftingError) -> str:
    """The text streamed before ``err`` (empty for errors that are not provider failures)."""
    return err.partial if isinstance(err, ProviderError) else ""
