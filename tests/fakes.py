"""A routed fake chat model: answers by what the prompt asks for, streams, and records every call."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

Answer = str | BaseException | Callable[[str], str]


class RoutedFakeChat(BaseChatModel):
    """``routes`` maps a marker found in the last user message to a list of answers used in turn
    (the last one repeats). An answer may be a string, an exception to raise, or a callable."""

    routes: dict[str, list[Any]] = Field(default_factory=dict)
    default: Any = "好。"
    calls: list[dict[str, Any]] = Field(default_factory=list)
    fail_after_chars: int | None = None  # raise mid-stream after this many characters

    @property
    def _llm_type(self) -> str:
        return "routed-fake"

    def _answer(self, messages: list[BaseMessage], **kwargs: Any) -> str:
        prompt = str(messages[-1].content)
        everything = "\n".join(str(m.content) for m in messages)
        self.calls.append({"prompt": prompt, "all": everything, "kwargs": kwargs})
        for marker, answers in self.routes.items():
            if marker in prompt:
                used = sum(1 for c in self.calls[:-1] if marker in c["prompt"])
                answer = answers[min(used, len(answers) - 1)]
                break
        else:
            answer = self.default
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return str(answer(everything))
        return str(answer)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._answer(messages, **kwargs)))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._answer(messages, **kwargs)
        for i in range(0, len(text), 8):
            if self.fail_after_chars is not None and i >= self.fail_after_chars:
                raise TimeoutError("fake timeout mid-stream")
            yield ChatGenerationChunk(message=AIMessageChunk(content=text[i : i + 8]))


def outline_json(headings: list[str], refs: list[int] | None = None) -> str:
    return json.dumps(
        {
            "title": "在全县安全生产工作会议上的讲话",
            "sections": [
                {
                    "heading": h,
                    "purpose": f"讲清{h}",
                    "points": [f"{h}第一点", f"{h}第二点"],
                    "principles": ["通天气", "接地气"],
                    "refs": refs or [1],
                }
                for h in headings
            ],
        },
        ensure_ascii=False,
    )


CRITERIA = ["通天气", "接地气", "聚人气", "溢才气", "显霸气", "动之以情", "晓之以理", "孚之以威"]


def scores_json(evidence: str = "安全生产责任重于泰山", score: int = 7) -> str:
    return json.dumps(
        {
            "scores": [
                {"criterion": c, "score": score, "evidence": evidence, "suggestion": f"加强{c}"} for c in CRITERIA
            ]
        },
        ensure_ascii=False,
    )


def prose(chars: int, seed: str = "安全生产责任重于泰山") -> str:
    """Prose of about ``chars`` Chinese characters, in sentences that do not repeat and hold no digits."""
    tails = ["抓实抓细", "落地见效", "久久为功", "真抓实干", "守土尽责", "全力以赴", "善作善成", "持之以恒"]
    places = ["县城", "乡镇", "村社", "园区", "企业", "学校", "医院", "工地", "码头"]
    out: list[str] = []
    i = 0
    while sum(len(x) for x in out) < chars * 1.1:
        out.append(f"{seed}，{places[i % len(places)]}要{tails[(i // len(places)) % len(tails)]}。")
        i += 1
    text = "".join(out)
    from drafting.domain import count_chars

    while count_chars(text) > chars and "。" in text[:-1]:
        text = text[: text.rstrip("。").rfind("。") + 1]
    return text


BODY_MARKER = "请写出全文正文"
MORE_MARKER = "还写得太短"


def outline_parts(prompt: str) -> list[tuple[str, int]]:
    """(heading, budget) of the numbered parts of the outline a body prompt carries."""
    import re

    return [(h, int(b)) for h, b in re.findall(r"^[一二三四五六七八九十]+、(.+?)（约(\d+)字）$", prompt, re.M)]


def body_answer(prompt: str, *, scale: float = 1.0, cite: str = "[1]", headings: bool = True) -> str:
    """A fake writer for the one-call body: opening, each outline part with prose of its budget, closing."""
    import re

    total = int(re.findall(r"请写出全文正文，约 (\d+) 字", prompt)[-1])
    parts = outline_parts(prompt)
    frame = max(40, (total - sum(b for _, b in parts)) // 2)
    lines = ["同志们：", prose(int(frame * scale), "今天召开这次会议就是要统一思想")]
    for k, (heading, budget) in enumerate(parts):
        if headings:
            lines.append(f"{'一二三四五六七八九十'[k]}、{heading}")
        lines.append(prose(int(budget * scale), f"讲{heading[:6]}就要压实企业主体责任") + (cite if k == 0 else ""))
    lines.append("同志们，" + prose(int(frame * scale), "让我们以更加务实的作风抓好落实"))
    return "\n".join(lines)


def more_answer(prompt: str) -> str:
    """A fake answer to a follow-up for one part: new prose about that part, of the length asked."""
    import re

    heading = re.findall(r"中“(.+?)”这一部分", prompt)[-1]
    more = int(re.findall(r"再写约 (\d+) 字", prompt)[-1])
    return prose(more, f"补充{heading[:6]}的具体措施要落到实处")


def writer_routes(scale: float = 1.0, **overrides: list[Any]) -> dict[str, list[Any]]:
    """Routes answering the drafting calls; ``overrides`` (marker -> answers) come first."""
    routes: dict[str, list[Any]] = dict(overrides)
    routes.setdefault(BODY_MARKER, [lambda p: body_answer(p, scale=scale)])
    routes.setdefault(MORE_MARKER, [more_answer])
    return routes
