"""Reference passages for prompts: numbering, token-budgeted packing, supplied material, overlap scores.

Passages are data, not instructions: they are fenced and labelled so the model treats
any imperative inside them ("忽略以上要求……") as quoted text.
"""

from __future__ import annotations

import re

from .domain import Passage

__all__ = [
    "format_references",
    "bigrams",
    "overlap",
    "material_passages",
    "rank_for_section",
    "neutralise",
]

_SPACE = re.compile(r"\s+")
# Lines in a reference that try to steer the model; they are kept as text but defused.
_STEER = re.compile(
    r"(忽略|无视|不要理会|忘记)(以上|上面|前面|之前|所有)?(的)?(要求|指令|提示|设定)|ignore (all|previous|the above)",
    re.I,
)


def neutralise(text: str) -> str:
    """Mark instruction-like sentences in reference text as quoted material."""
    return _STEER.sub(lambda m: f"〔引文：{m.group(0)}〕", text)


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
    from .calls import count_tokens

    if not passages:
        return "（无）"
    wanted = numbers or list(range(1, len(passages) + 1))
    out: list[str] = []
    used = 0
    for n in wanted:
        if not 1 <= n <= len(passages):
            continue
        p = passages[n - 1]
        source = "写作者提供的材料" if p.origin == "material" else f"《{p.title}》"
        where = f" {p.section}" if p.section else ""
        body = neutralise(_SPACE.sub("", p.text)[:excerpt_chars])
        block = f"[{n}] 来源：{source}{where}\n「{body}」"
        cost = count_tokens(block)
        if used + cost > budget_tokens and out:
            break
        out.append(block)
        used += cost
    return "\n".join(out)


def material_passages(material: list[str], *, max_chars: int = 500) -> list[Passage]:
    """Turn pasted or attached material into passages (first-priority references)."""
    from .chunking import chunk_document

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
