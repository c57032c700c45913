"""急稿 speed against raw generation of the same characters on the same server, in one run.

For each target length: (a) one plain streaming request ("write about N characters") records
characters and seconds, giving the server's raw characters per second; (b) the 急稿 pipeline
(retrieval -> outline at once -> one-call draft -> follow-ups -> gate) records the time to the
outline, the time to the first body character, total time, calls, tokens and length. The ratio
is 急稿 wall time / (急稿 characters / raw characters per second): 1.0 means 急稿 costs no more
than writing its own characters.

    python -m evals.bench_draft [--lengths 800,1500,3000] [--out docs/benchmarks/draft-speed.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from drafting.checks.gate import count_defects, find_defects
from drafting.config import get_settings
from drafting.corpus.store import open_store
from drafting.domain import count_chars
from drafting.events import ProgressEvent
from drafting.llm.calls import complete
from drafting.llm.client import get_chat_model
from drafting.llm.prompts import load_prompt
from drafting.writing.brief import brief_from_request
from drafting.writing.pipeline import run_draft
from evals.scorers import length_score

REQUESTS = {
    800: "为区长起草在全区老旧小区改造推进会上的讲话，约{n}字",
    1500: "为县长起草在全县安全生产工作会议上的讲话，约{n}字",
    3000: "为市长起草在全市优化营商环境大会上的讲话，约{n}字",
}


def raw_generation(llm, n: int) -> tuple[int, float]:
    """One plain streaming request for about ``n`` characters: (characters, seconds)."""
    messages = load_prompt("bench.raw").render(n=n)
    started = time.perf_counter()
    text = complete(llm, messages, stage="raw", max_tokens=int(n * 1.2))
    return count_chars(text), time.perf_counter() - started


def urgent(llm, store, request: str) -> dict[str, float | int]:
    brief = brief_from_request(request)
    marks: dict[str, float] = {}
    started = time.perf_counter()

    def on_event(event: ProgressEvent) -> None:
        kind = str(event.kind)
        if kind in ("outline", "token") and kind not in marks:
            marks[kind] = time.perf_counter() - started

    run = run_draft(brief, store=store, llm=llm, with_review=False, on_event=on_event)
    total = time.perf_counter() - started
    text = "\n".join([run.draft.title, run.draft.body_text])
    defects = count_defects(find_defects(text, brief=brief, passages=run.passages))
    return {
        "chars": run.draft.char_count,
        "target": brief.length,
        "seconds": total,
        "outline_s": marks.get("outline", float("nan")),
        "first_char_s": marks.get("token", float("nan")) - marks.get("outline", 0.0),
        "calls": run.costs.calls,
        "tokens_in": run.costs.tokens_in,
        "tokens_out": run.costs.tokens_out,
        "length_score": length_score(run.draft.char_count, brief.length),
        "defects": sum(defects.values()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description="急稿与裸生成的速度对比")
    ap.add_argument("--lengths", default="800,1500,3000")
    ap.add_argument("--out", default="docs/benchmarks/draft-speed.md")
    args = ap.parse_args()
    settings = get_settings()
    llm = get_chat_model(settings)
    store = open_store(settings)
    rows = []
    for n in (int(x) for x in args.lengths.split(",")):
        raw_chars, raw_s = raw_generation(llm, n)
        cps = raw_chars / raw_s if raw_s else float("nan")
        u = urgent(llm, store, REQUESTS.get(n, REQUESTS[1500]).format(n=n))
        ratio = u["seconds"] / (u["chars"] / cps) if u["chars"] and cps else float("nan")
        rows.append((n, raw_chars, raw_s, cps, u, ratio))
        print(
            f"{n}: raw {raw_chars}字/{raw_s:.1f}s ({cps:.1f}字/s); 急稿 {u['chars']}字/{u['seconds']:.1f}s, ratio {ratio:.2f}"
        )
    lines = [
        "# 急稿速度：与同一服务上的裸生成对比",
        "",
        f"- 机器：{platform.machine()}，{os.cpu_count()} 核；模型：{settings.llm_model}（{settings.llm_base_url}）",
        f"- 命令：`python -m evals.bench_draft --lengths {args.lengths}`；测于 {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        "| 目标字数 | 裸生成 字/秒 | 急稿字数 | 篇幅得分 | 提纲出现(秒) | 提纲后首字(秒) | 急稿总耗时(秒) | 调用 | 输入/输出 token | 缺陷 | 耗时比 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, _rc, _rs, cps, u, ratio in rows:
        lines.append(
            f"| {n} | {cps:.1f} | {u['chars']} | {u['length_score']:.0f} | {u['outline_s']:.1f} | {u['first_char_s']:.1f} | "
            f"{u['seconds']:.1f} | {u['calls']} | {u['tokens_in']}/{u['tokens_out']} | {u['defects']} | {ratio:.2f} |"
        )
    lines.append("")
    lines.append("耗时比 = 急稿总耗时 ÷（急稿字数 ÷ 裸生成字/秒）。")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
