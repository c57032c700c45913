"""Concurrent 急稿 from several writers on one OpenAI-compatible endpoint (issue 18's team figures).

N writers (default 4) start one 急稿 each at the same moment, through the pipeline entry that
``drafting draft --mode urgent`` uses (``brief_from_request`` in 急稿 mode, then ``run_draft`` without
the model's review), each with its own writer name on every request (team mode: the ``user`` field and
the X-Drafting-Writer header, so the serving engine's log shows whose request is whose). Records per
writer the latency, the time to the first body character, characters and calls; overall the wall time
and the throughput in characters per second of wall time. Prints the table and writes
docs/benchmarks/team-concurrency-<date>.md with the machine and the endpoint described.

    python -m evals.bench_team [--writers 4] [--out FILE]        (make bench-team WRITERS=4)

Run it against an engine that serves requests in parallel (llama.cpp's ``llama-server --parallel 4``,
vLLM); the local llama-cpp-python server answers one request at a time, so there the writers queue.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from drafting.config import Settings, get_settings
from drafting.corpus.store import Store, open_store
from drafting.domain import RevisionMode
from drafting.errors import DraftingError
from drafting.events import EventKind, ProgressEvent
from drafting.llm.client import get_chat_model
from drafting.secrets import effective_settings
from drafting.writing.brief import brief_from_request
from drafting.writing.pipeline import run_draft
from evals.runinfo import git_commit, machine

__all__ = ["WriterRun", "Summary", "summarize", "table", "report", "bench", "machine_facts", "main"]

# Four different briefs (cycled): writers in one office draft different things, and identical prompts
# would flatter an engine's prefix cache.
REQUESTS = (
    "为县长起草在全县安全生产工作会议上的讲话，约800字",
    "为区长起草在全区老旧小区改造推进会上的讲话，约800字",
    "为局长起草在全局优化营商环境工作会议上的讲话，约800字",
    "为镇党委书记起草在全镇防汛工作部署会上的讲话，约800字",
)


@dataclass(frozen=True)
class WriterRun:
    """One writer's 急稿: seconds from the common start, characters written, or the error met."""

    writer: str
    request: str
    seconds: float
    first_char_s: float = float("nan")
    chars: int = 0
    calls: int = 0
    tokens_out: int = 0
    error: str = ""

    @property
    def rate(self) -> float:
        """This writer's own characters per second of their own wait."""
        return self.chars / self.seconds if self.seconds > 0 and not self.error else 0.0


@dataclass(frozen=True)
class Summary:
    writers: int
    finished: int
    wall_seconds: float
    total_chars: int
    throughput: float  # characters of all finished drafts per second of wall time
    latency_mean: float
    latency_max: float
    first_char_mean: float


def summarize(runs: Sequence[WriterRun], wall_seconds: float) -> Summary:
    """The overall figures; a failed writer's characters do not count, its failure is reported."""
    done = [r for r in runs if not r.error]
    total = sum(r.chars for r in done)
    firsts = [r.first_char_s for r in done if r.first_char_s == r.first_char_s]  # drop NaN
    return Summary(
        writers=len(runs),
        finished=len(done),
        wall_seconds=wall_seconds,
        total_chars=total,
        throughput=total / wall_seconds if wall_seconds > 0 else 0.0,
        latency_mean=statistics.fmean(r.seconds for r in done) if done else float("nan"),
        latency_max=max((r.seconds for r in done), default=float("nan")),
        first_char_mean=statistics.fmean(firsts) if firsts else float("nan"),
    )


def table(runs: Sequence[WriterRun], summary: Summary) -> str:
    """Per-writer rows and the overall line, as a Markdown table (also printed as it is)."""
    lines = [
        "| 撰稿人 | 任务 | 延迟（秒） | 首字（秒） | 字数 | 字/秒（本人） | 调用 | 输出 token | 结果 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.writer} | {r.request} | {r.seconds:.1f} | {r.first_char_s:.1f} | {r.chars} | {r.rate:.1f} | "
            f"{r.calls} | {r.tokens_out} | {('失败：' + r.error) if r.error else '完成'} |"
        )
    lines.append(
        f"| **合计** | {summary.finished}/{summary.writers} 篇完成 | 墙钟 {summary.wall_seconds:.1f} | "
        f"均值 {summary.first_char_mean:.1f} | {summary.total_chars} | **{summary.throughput:.1f}**（总吞吐） | | | "
        f"延迟均值 {summary.latency_mean:.1f}，最长 {summary.latency_max:.1f} |"
    )
    return "\n".join(lines)


def _read(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine_facts() -> str:
    """CPU model and cores, memory, GPUs (where nvidia-smi answers), platform and load at the start."""
    memory_kb = _read("/proc/meminfo", "MemTotal").split()
    memory = f"{int(memory_kb[0]) / 1024 / 1024:.0f} GiB 内存" if memory_kb else "内存未知"
    cpu = _read("/proc/cpuinfo", "model name") or "CPU 型号未知"
    try:
        gpus = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        gpus = ""
    gpu = "；".join(g.strip() for g in gpus.splitlines() if g.strip()) or "本机无 GPU（或 nvidia-smi 不可用）"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}，可用 {cores} 核，{memory}；{gpu}；{machine()}"


def report(runs: Sequence[WriterRun], summary: Summary, *, settings: Settings, facts: str, command: str) -> str:
    return "\n".join(
        [
            f"# 团队模式并发急稿：{summary.writers} 位撰稿人同时起草",
            "",
            f"- 测于 {datetime.now():%Y-%m-%d %H:%M}，提交 {git_commit() or '未知'}；命令：`{command}`",
            f"- 模型服务：{settings.llm_base_url}，模型 {settings.llm_model}，上下文预算 {settings.context_tokens} token",
            f"- 运行本脚本的机器：{facts}（模型服务在别的机器上时，这里描述的不是它，请另行注明）",
            "- 每位撰稿人走 `drafting draft --mode urgent` 的同一条流程（不含模型评分），同时开始；"
            "请求带各自的撰稿人名（`user` 字段和 X-Drafting-Writer 请求头）。",
            "",
            table(runs, summary),
            "",
            "延迟 = 从共同的开始时刻到这篇急稿写完；首字 = 到第一个正文字出现；总吞吐 = 全部完成稿的字数 ÷ 墙钟时间。",
            "只能一次答一个请求的服务（本地默认的 llama-cpp-python）上，各人排队，总吞吐约等于单路速度，最后一位的延迟约为单篇的 N 倍。",
            "",
        ]
    )


def run_writer(
    writer: str, request: str, settings: Settings, store: Store | None, llm: BaseChatModel, start: float
) -> WriterRun:
    """One writer's 急稿, as ``drafting draft --request … --mode urgent`` runs it."""
    first: list[float] = []

    def on_event(event: ProgressEvent) -> None:
        if event.kind is EventKind.TOKEN and not first:
            first.append(time.perf_counter() - start)

    brief = brief_from_request(request, mode=RevisionMode.URGENT)
    try:
        run = run_draft(
            brief, store=store, llm=llm, with_review=False, context_tokens=settings.context_tokens, on_event=on_event
        )
    except DraftingError as err:
        return WriterRun(writer, request, time.perf_counter() - start, error=str(err)[:120])
    except Exception as exc:  # noqa: BLE001 - one writer's crash must not lose the others' figures
        return WriterRun(writer, request, time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}"[:120])
    return WriterRun(
        writer,
        request,
        time.perf_counter() - start,
        first_char_s=first[0] if first else float("nan"),
        chars=run.draft.char_count,
        calls=run.costs.calls,
        tokens_out=run.costs.tokens_out,
    )


def bench(
    settings: Settings,
    *,
    writers: int = 4,
    store: Store | None = None,
    make_llm: Callable[[Settings], BaseChatModel] = get_chat_model,
    requests: Sequence[str] = REQUESTS,
) -> tuple[list[WriterRun], Summary]:
    """Start ``writers`` 急稿 together (one thread each, one model each carrying its writer); wait for all."""
    names = [f"writer{i + 1}" for i in range(writers)]
    models = [make_llm(settings.replace(team=True, writer=name)) for name in names]
    started: list[float] = []
    # Everyone starts at one moment, after the models are built: the last thread to arrive starts the clock.
    gate = threading.Barrier(writers, action=lambda: started.append(time.perf_counter()))

    def one(i: int) -> WriterRun:
        gate.wait()
        return run_writer(names[i], requests[i % len(requests)], settings, store, models[i], started[0])

    with ThreadPoolExecutor(max_workers=writers) as pool:
        runs = list(pool.map(one, range(writers)))
    return runs, summarize(runs, time.perf_counter() - started[0])


def _store(settings: Settings) -> Store | None:
    if settings.chroma_host or settings.team_db_url or settings.index_dir.exists():
        return open_store(settings)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="团队模式：多位撰稿人同时起草急稿的吞吐和各人延迟")
    ap.add_argument("--writers", type=int, default=4, help="同时起草的撰稿人数（默认 4）")
    ap.add_argument("--out", default="", help="报告文件（默认 docs/benchmarks/team-concurrency-<日期>.md）")
    args = ap.parse_args(argv)
    if args.writers < 1:
        ap.error("--writers 至少为 1")
    settings = effective_settings(get_settings())
    facts = machine_facts()
    runs, summary = bench(settings, writers=args.writers, store=_store(settings))
    out = Path(args.out or f"docs/benchmarks/team-concurrency-{datetime.now():%Y%m%d}.md")
    command = f"python -m evals.bench_team --writers {args.writers}"
    text = report(runs, summary, settings=settings, facts=facts, command=command)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(table(runs, summary))
    print(f"[完成] 报告：{out}")
    return 0 if summary.finished == summary.writers else 1


if __name__ == "__main__":
    raise SystemExit(main())
