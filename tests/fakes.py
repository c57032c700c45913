"""Test fakes over drafting.testing's FakeChatModel: answers chosen by the prompt template that made
the call (its stage, e.g. ``draft.body``), never by prompt wording; every call is recorded."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field

from drafting.testing import Answer, FakeChatModel, FakeRequest

# The stages (prompt template names) the pipeline calls the model with.
OUTLINE_STAGE = "outline.default"
BODY_STAGE = "draft.body"
MORE_STAGE = "draft.more"
SCORES_STAGE = "review.scores"
COMMENTS_STAGE = "revise.comments"
REWRITE_STAGE = "revise.section"
REPAIR_STAGE = "repair.json"
_STAGE = re.compile(r"[a-z_]+\.[a-z_]+")


class RoutedFakeChat(FakeChatModel):
    """``routes`` maps a stage (prompt template name) to answers used in turn (the last one repeats);
    a stage without a route gets ``default``. An answer may be a string, an exception to raise, or a
    callable given the :class:`FakeRequest` (a str: the whole prompt, plus ``stage`` and ``values``).

    A route key that is not a stage name is matched as text in the last message: for messages a
    test builds itself (no template), and for tests written before stage routing."""

    routes: dict[str, list[Any]] = Field(default_factory=dict)
    default: Any = "好。"
    repeat_last: bool = True
    calls: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "routed-fake"

    def choose(self, request: FakeRequest) -> Answer:
        self.calls.append(
            {"prompt": request.prompt, "all": str(request), "kwargs": dict(request.kwargs), "stage": request.stage}
        )
        key = request.stage if request.stage in self.routes else None
        if key is None:
            key = next((m for m in self.routes if not _STAGE.fullmatch(m) and m in request.prompt), None)
        if key is None:
            return self.default  # type: ignore[no-any-return]
        answers = self.routes[key]
        used = self._served.get(key, 0)
        self._served[key] = used + 1
        return answers[min(used, len(answers) - 1)]  # type: ignore[no-any-return]


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


BODY_MARKER = BODY_STAGE  # the names tests used when routes were prompt wording
MORE_MARKER = MORE_STAGE


def _values(prompt: str) -> dict[str, str]:
    return dict(prompt.values) if isinstance(prompt, FakeRequest) else {}


def outline_parts(prompt: str) -> list[tuple[str, int]]:
    """(heading, budget) of the numbered parts of the outline a body prompt carries (as the writer
    stage renders the outline: ``一、标题（约N字）``)."""
    text = _values(prompt).get("outline", prompt)
    return [(h, int(b)) for h, b in re.findall(r"^[一二三四五六七八九十]+、(.+?)（约(\d+)字）$", text, re.M)]


def body_answer(prompt: str, *, scale: float = 1.0, cite: str = "[1]", headings: bool = True) -> str:
    """A fake writer for the one-call body: opening, each outline part with prose of its budget, closing."""
    parts = outline_parts(prompt)
    total = int(_values(prompt).get("length", 0) or 0)
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
    values = _values(prompt)
    heading = values.get("heading", "这一部分")
    more = int(values.get("more", 120))
    return prose(more, f"补充{heading[:6]}的具体措施要落到实处")


def writer_routes(scale: float = 1.0, **overrides: list[Any]) -> dict[str, list[Any]]:
    """Routes answering the drafting calls; ``overrides`` (stage -> answers) come first."""
    routes: dict[str, list[Any]] = dict(overrides)
    routes.setdefault(BODY_MARKER, [lambda p: body_answer(p, scale=scale)])
    routes.setdefault(MORE_MARKER, [more_answer])
    return routes
