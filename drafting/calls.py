"""Calling a chat model: streaming, cost accounting, error translation, JSON repair and retry.

Stages call ``complete`` / ``complete_structured`` with the model they were given,
so tests inject LangChain fake chat models here.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import json_repair
from pydantic import BaseModel, ValidationError

from .config import get_settings
from .domain import Costs
from .errors import DraftingError, ModelOutputError
from .llm import ensure_tiktoken_offline, translate_error
from .prompts import load_prompt

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["complete", "complete_structured", "count_tokens", "extract_json", "Messages"]

log = logging.getLogger(__name__)
Messages = Sequence[tuple[str, str]]
T = TypeVar("T", bound=BaseModel)


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
    costs: Costs | None = None,
    on_token: Callable[[str], None] | None = None,
    max_tokens: int | None = None,
    json_mode: bool = False,
) -> str:
    """Stream a completion and return its text.

    On failure a ProviderError is raised whose ``partial`` attribute holds the text
    received so far, so the caller can keep it.
    """
    runnable: Any = llm
    kwargs: dict[str, Any] = {}
    if max_tokens:
        # Sent as the classic ``max_tokens`` field: langchain-openai now sends
        # ``max_completion_tokens``, which llama.cpp's server ignores (answers ran on unbounded).
        kwargs["extra_body"] = {"max_tokens": max_tokens}
    if json_mode and get_settings().llm_json_mode:
        kwargs["response_format"] = {"type": "json_object"}
    if kwargs:
        runnable = llm.bind(**kwargs)
    started = time.perf_counter()
    parts: list[str] = []
    usage: dict[str, int] | None = None
    try:
        for chunk in runnable.stream(list(messages)):
            piece = chunk.content if isinstance(chunk.content, str) else ""
            if piece:
                parts.append(piece)
                if on_token:
                    on_token(piece)
            meta = getattr(chunk, "usage_metadata", None)
            if meta:
                usage = dict(meta)
    except ValueError as exc:
        if "No generation chunks" not in str(exc):
            raise translate_error(exc) from exc
        # An empty answer: LangChain refuses to build a message from zero chunks.
    except Exception as exc:  # noqa: BLE001 - every provider failure becomes a ProviderError
        if type(exc).__name__ == "LengthFinishReasonError":
            # The answer hit max_tokens in JSON mode; keep what came (JSON repair can finish it).
            log.warning("stage %s: answer cut at the token limit", stage)
            text = "".join(parts)
            _record(costs, stage, messages, text, usage, started)
            return text
        err = translate_error(exc)
        err.partial = "".join(parts)  # type: ignore[attr-defined]
        _record(costs, stage, messages, "".join(parts), usage, started)
        raise err from exc
    text = "".join(parts)
    _record(costs, stage, messages, text, usage, started)
    return text


def _record(
    costs: Costs | None, stage: str, messages: Messages, text: str, usage: dict[str, int] | None, started: float
) -> None:
    if costs is None:
        return
    if usage and usage.get("input_tokens"):
        tin, tout = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    else:
        tin = sum(count_tokens(m[1]) for m in messages)
        tout = count_tokens(text)
    costs.add(stage, tin, tout, round(time.perf_counter() - started, 3))


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
    costs: Costs | None = None,
    retries: int = 1,
    max_tokens: int | None = None,
    coerce: Callable[[Any], Any] | None = None,
) -> T:
    """Ask for JSON matching ``schema``; repair broken JSON, and retry with the error shown to the model."""
    history = list(messages)
    last_error = ""
    for attempt in range(retries + 1):
        text = complete(llm, history, stage=stage, costs=costs, max_tokens=max_tokens, json_mode=True)
        try:
            data = extract_json(text)
            if coerce is not None:
                data = coerce(data)
            return schema.model_validate(data)
        except (ValueError, ValidationError, TypeError) as exc:
            last_error = str(exc)[:500]
            log.warning("stage %s: unusable JSON on attempt %d: %s", stage, attempt + 1, last_error)
            fix = load_prompt("repair.json").render(error=last_error)
            history = [*messages, ("assistant", text[:2000] or "（空）"), *fix]
    raise ModelOutputError(f"模型多次返回无法解析的结果（{stage}）：{last_error[:120]}")


def safe_partial(err: DraftingError) -> str:
    return str(getattr(err, "partial", "") or "")
