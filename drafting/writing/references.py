"""Reference passages for prompts: numbering, token-budgeted packing, supplied material, overlap scores.

Passages are data, not instructions. Each prompt's reference list is opened and closed by a fence
carrying a random tag made for that call, and each passage sits in 「」; passage text cannot close
the 「」 (its own 「」 become 『』), cannot forge a reference header (its [n] and 【】 become full-width
［n］ and 〖〗, newlines are removed) and cannot guess the tag. Sentences that try to steer the model
("忽略以上要求……", "ignore the instructions above") are kept as text but marked as quotations.
"""

from __future__ import annotations

import re
import secrets

from drafting.domain import Passage

__all__ = [
    "format_references",
    "bigrams",
    "overlap",
    "material_passages",
    "rank_for_section",
    "neutralise",
    "fence_text",
]

_SPACE = re.compile(r"\s+")
# Sentences in a reference that try to steer the model; they are kept as text but defused.
_ZH_VERB = r"(?:请|你要|你必须|务必|现在)?(?:忽略|忽视|无视|不要理会|不用理会|别理会|不必理会|不要管|不用管|别管|忘记|忘掉|忘了|抛开|撇开|跳过|不再遵守|停止遵守|不要遵守|不必遵守)"
_ZH_WHICH = r"(?:掉)?(?:你|你的|您)?(?:之前|此前|先前|以上|上面|上述|前面|前述|上文|前文|原来|原有|原先|所有|全部|一切|任何|系统|开发者)?(?:的|所有的|全部的)?"
_ZH_WHAT = r"(?:所有|全部|一切)?(?:要求|指令|指示|命令|提示词?|设定|设置|规则|规定|说明|约束|限制|任务|内容|对话|角色)"
_EN = (
    r"\b(?:ignore|disregard|forget|override|bypass|skip|drop)\s+(?:all\s+|any\s+|every\s+)?(?:of\s+)?"
    r"(?:the\s+|your\s+|my\s+|these\s+|those\s+)?(?:previous|prior|above|earlier|preceding|former|foregoing|original|system|existing)?"
    r"\s*(?:instructions?|prompts?|rules|directions|directives|guidelines|context|constraints|messages?|orders)\b"
)
_STEER = re.compile(
    "|".join(
        [
            rf"{_ZH_VERB}\s*{_ZH_WHICH}\s*{_ZH_WHAT}",
            r"(?:从现在(?:开始|起)|接下来)?你(?:现在)?(?:是|扮演|充当|作为)(?:一个|一名|一位)?[^，。,.]{0,12}(?:助手|模型|AI|人工智能|角色|黑客|系统)",
            r"(?:新的|最新|真正的|更新的)(?:系统)?(?:指令|指示|任务|要求)(?:是|如下|为)?",
            r"(?:system\s+prompt|系统提示词?)",
            _EN,
            r"\byou\s+are\s+now\b",
            r"\bnew\s+instructions?\b",
            r"\b(?:instead|from\s+now\s+on),?\s+(?:you\s+)?(?:must|should|will)\b",
        ]
    ),
    re.I,
)
# Characters passage text could use to close its quotation or forge a reference header.
_FENCE_ESCAPES = str.maketrans(
    {"「": "『", "」": "』", "[": "［", "]": "］", "【": "〖", "】": "〗", "〔": "（", "〕": "）"}
)


def neutralise(text: str) -> str:
    """Mark instruction-like sentences in reference text as quoted material."""
    return _STEER.sub(lambda m: f"〔引文：{m.group(0)}〕" if m.group(0).strip() else m.group(0), text)


def fence_text(text: str) -> str:
    """Reference text made unable to close its 「」, forge a [n] header, or break a line."""
    return _SPACE.sub("", text).translate(_FENCE_ESCAPES)


def bigrams(text: str) -> set[str]:
    t = _SPACE.sub("", text)
    return {t[i : i + 2] for i in range(len(t) - 1)}


def overlap(a: str, b: str) -> float:
    """Share of ``a``'s character bigrams found in ``b`` (0..1)."""
    ga = bigrams(a)
    return len(ga & bigrams(b)) / len(ga) if ga else 0.0


def format_references(
    passages: list[Passage],
    *,
    budget_tokens: int = 1200,
    excerpt_chars: int = 400,
    numbers: list[int] | None = None,
) -> str:
    """Number passages as [n] (1-based positions in ``passages``) and pack them within a token budget."""
    from drafting.llm.calls import count_tokens

    if not passages:
        return "（无）"
    wanted = numbers or list(range(1, len(passages) + 1))
    out: list[str] = []
    used = 0
    for n in wanted:
        if not 1 <= n <= len(passages):
            continue
        p = passages[n - 1]
        title = fence_text(p.title).replace("《", "〈").replace("》", "〉")
        source = "写作者提供的材料" if p.origin == "material" else f"《{title}》"
        where = f" {fence_text(p.section)}" if p.section else ""
        body = neutralise(fence_text(p.text)[:excerpt_chars])
        block = f"[{n}] 来源：{source}{where}\n「{body}」"
        cost = count_tokens(block)
        if used + cost > budget_tokens and out:
            break
        out.append(block)
        used += cost
    tag = secrets.token_hex(4)  # new for every call: passage text cannot know it
    return f"〔参考材料开始 {tag}〕\n" + "\n".join(out) + f"\n〔参考材料结束 {tag}〕"


def material_passages(material: list[str], *, max_chars: int = 500) -> list[Passage]:
    """Turn pasted or attached material into passages (first-priority references)."""
    from drafting.corpus.chunking import chunk_document

    passages: list[Passage] = []
    for i, text in enumerate(m for m in material if m.strip()):
        doc_id = f"material-{i + 1}"
        for c in chunk_document(text, doc_id, max_chars=max_chars):
            passages.append(
                Passage(
                    chunk_id=c.chunk_id,
                    doc_id=doc_id,
                    title=f"材料{i + 1}",
                    text=c.text,
                    section_path=c.section_path,
                    origin="material",
                    source="写作者提供",
                )
            )
    return passages


def rank_for_section(query: str, passages: list[Passage], k: int) -> list[int]:
    """1-based numbers of the ``k`` passages that best match a section; material first on ties."""
    scored = sorted(
        range(len(passages)),
        key=lambda i: overlap(query, passages[i].text) + (0.05 if passages[i].origin == "material" else 0.0),
        reverse=True,
    )
    return [i + 1 for i in scored[:k]]
