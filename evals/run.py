"""Run systems × cases, score every draft, and save the results with the configuration that made them.

    python -m evals.run [--cases FILE] [--split tune|holdout|all] [--limit N] [--cases-ids a,b,…]
                        [--systems urgent,slow,baseline,previous] [--slow-limit N] [--previous REV]
                        [--judge] [--out evals/results | --run-dir DIR] [--publish docs/benchmarks]

Writes ``<out>/<timestamp>/`` (or ``--run-dir DIR``): report.md, results.jsonl (one row per system ×
case, with the defects found and the text they point at), config.json (settings minus secrets, git
commit, prompt versions, scorer thresholds, the command to reproduce), drafts/ (JSON and text of every
draft; a revision system's draft before its round as ``*__before.txt``), passages/ (per case, the
sources its defects were counted against) and chart.png.

Resumable: every finished system × case is appended to results.jsonl at once (report.md is rewritten
after each), and running again with the same ``--run-dir`` skips the pairs already finished without
error, so a killed run loses at most the draft it was writing. A failure on one case is recorded in
its row's ``error`` and the run goes on; a rerun tries it again. Progress and an ETA are logged after
every draft.

Order: the cases interleave genres (and splits); every system but ``slow`` runs on every case first,
then the 慢稿 round (``slow``) on the first ``--slow-limit`` cases, reusing each case's urgent draft
(from this run, or from the run folder when resuming), so the expensive rounds come last.

Every draft of a case is checked against the same brief and the same passages: the pipeline's
retrieval for that brief on the eval index, plus all the material, whichever system wrote it; the
five-principle evidence is this checkout's drafting review ``principle_evidence`` on every draft.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drafting.config import get_settings
from drafting.domain import Brief, Draft, Passage
from drafting.errors import DraftingError
from drafting.llm.calls import collect_costs

from . import scorers
from .casefile import Case, load_cases, select_split
from .previous import PreviousPipeline
from .report import render_chart, render_report
from .runinfo import build_meta, new_run_dir
from .systems import ORDER, SYSTEMS, CaseContext, SystemOutput, restore_run

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "Case",
    "load_cases",
    "select_split",
    "case_passages",
    "score_output",
    "run_eval",
    "main",
    "DEFAULT_CASES",
    "DEFAULT_OUT",
    "USABLE_CASES",
    "load_rows",
    "interleave",
    "plan_tasks",
    "eta_seconds",
    "publish",
]

log = logging.getLogger("evals")

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_CASES = EVALS_DIR / "cases" / "briefs.yaml"
USABLE_CASES = EVALS_DIR / "cases" / "usable.yaml"
DEFAULT_OUT = EVALS_DIR / "results"
DEFAULT_SYSTEMS = "urgent,slow,baseline"
RESULTS = "results.jsonl"
# Seconds per draft on the shared 2-core machine (last usable run, idle model server), for the ETA until
# this run has its own figures: urgent ≈120, one-shot ≈100, previous 120–370, one 慢稿 round ≈270.
ETA_PRIOR: dict[str, float] = {"urgent": 120.0, "baseline": 100.0, "previous": 250.0, "slow": 270.0}


def case_passages(brief: Brief, store: Any) -> list[Passage]:
    """The sources every draft of a case is checked against, whichever system wrote it.

    The pipeline's passages for the brief (drafting.pipeline.gather_passages on the eval index),
    the same retrieval before its relevance floor (what a system without the floor, such as an
    earlier commit, hands its model: a figure copied from those is still another unit's), and all
    the material (the pipeline passes the model at most a few material passages; all of it is the
    writer's).
    """
    from drafting.corpus.retrieve import retrieve
    from drafting.writing.pipeline import CORPUS_PASSAGES, gather_passages
    from drafting.writing.references import material_passages

    found: list[Passage] = []
    try:
        found = list(gather_passages(brief, store))
        if store is not None and brief.query_text():
            found += retrieve(brief.query_text(), store, k=CORPUS_PASSAGES)
    except Exception as exc:  # noqa: BLE001 - the material still counts when retrieval fails
        log.warning("retrieval for the defect check failed: %s", exc)
    unique: dict[str, Passage] = {}
    for p in [*found, *material_passages(brief.material)]:
        unique.setdefault(p.chunk_id, p)
    return list(unique.values())


def _draft_metrics(draft: Draft, brief: Brief, passages: Sequence[Passage]) -> dict[str, Any]:
    """The deterministic checks of one draft: defects, placeholders, principle evidence, key points."""
    defects = scorers.find_defects(draft, brief, passages)
    evidence, principles = scorers.principle_coverage(draft)
    return {
        "defects": scorers.defect_counts(defects) if defects is not None else None,
        "defects_total": len(defects) if defects is not None else None,
        "defect_list": defects or [],
        "placeholders": len(scorers.placeholders(draft)),
        "evidence_coverage": evidence,
        "evidence_principles": principles,
        "coverage": scorers.key_point_coverage(draft, brief.key_points),
        "leaked_brief_fields": len(scorers.leaked_brief_fields(draft)),
        "leaked_reference_blocks": len(scorers.leaked_reference_blocks(draft)),
    }


def score_output(
    out: SystemOutput,
    judge: BaseChatModel | None,
    *,
    case: Case | None = None,
    passages: Sequence[Passage] = (),
) -> dict[str, Any]:
    """Every metric for one draft. A judge failure is recorded in ``judge_error``, not raised.

    ``case`` gives the brief the defects are checked against and the expected genre (default: the
    draft's own brief, no expectation); ``passages`` are the case's sources (see case_passages).
    """
    draft = out.draft
    brief = case.brief if case is not None else draft.brief
    grounding, n_cited = scorers.citation_grounding(draft)
    n_violations, rules = scorers.violations(draft)
    row: dict[str, Any] = {
        "chars": draft.char_count,
        "length_score": round(scorers.length_score(draft.char_count, brief.length), 2),
        "adherence": scorers.outline_adherence(out.reference_outline, draft.paragraphs),
        "grounding": grounding,
        "cited_sentences": n_cited,
        "violations": n_violations,
        "violation_rules": rules,
        **scorers.cost_metrics(draft.costs),
        "note": out.note,
        "draft_genre": draft.brief.genre,
        "expect_genre": list(case.expect_genre) if case is not None else [],
        "genre_correct": scorers.genre_correct(draft.brief.genre, case.expect_genre) if case is not None else None,
        **_draft_metrics(draft, brief, passages),
    }
    if out.before is not None:
        before = _draft_metrics(out.before, brief, passages)
        row.update({f"{k}_before": v for k, v in before.items() if k != "defect_list"})
        row["chars_before"] = out.before.char_count
        if row["defects_total"] is not None and before["defects_total"] is not None:
            row["worse"] = row["defects_total"] > before["defects_total"]
        row["leaks_added"] = (row["leaked_brief_fields"] + row["leaked_reference_blocks"]) - (
            before["leaked_brief_fields"] + before["leaked_reference_blocks"]
        )
    if judge is not None:
        with collect_costs() as judge_costs:
            try:
                row.update(scorers.judge_scores(draft, judge))
            except DraftingError as err:
                row["judge_error"] = str(err)
        row["judge_seconds"] = judge_costs.snapshot().seconds
    return row


def _draft_text(draft: Draft) -> str:
    refs = [f"[{c.n}] 《{c.passage.title}》{c.passage.section}" for c in draft.citations]
    return "\n".join([draft.title, "", draft.body_text, *([""] + ["参考：", *refs] if refs else [])]) + "\n"


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a results.jsonl, oldest first; a line cut off by a kill (or any unreadable line) is skipped."""
    rows: list[dict[str, Any]] = []
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "system" in row and "case_id" in row:
            rows.append(row)
    return rows


def _latest(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """One row per (case, system): the last one written (a rerun of a failed pair supersedes its error)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        out[(str(r["case_id"]), str(r["system"]))] = r
    return out


def _ordered(rows: Iterable[dict[str, Any]], case_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Rows in case order (this run's cases first, then any others the folder holds), systems in ORDER."""
    pos = {c: i for i, c in enumerate(case_ids)}
    rank = {s: i for i, s in enumerate(ORDER)}
    return sorted(
        rows,
        key=lambda r: (pos.get(r["case_id"], len(pos)), str(r["case_id"]), rank.get(r["system"], len(rank))),
    )


def interleave(cases: Sequence[Case]) -> list[Case]:
    """Round-robin over genres (the first expected genre, else the brief's), alternating splits within a
    round, so that any prefix (``--limit N``) spans as many genres and both splits as it can."""
    by_genre: dict[str, list[Case]] = {}
    for c in cases:
        by_genre.setdefault(c.expect_genre[0] if c.expect_genre else c.brief.genre, []).append(c)
    out: list[Case] = []
    depth = 0
    while len(out) < len(cases):
        layer = [group[depth] for group in by_genre.values() if depth < len(group)]
        splits = sorted({c.split for c in layer}, key=lambda sp: [c.split for c in layer].index(sp))
        queues = {sp: [c for c in layer if c.split == sp] for sp in splits}
        while any(queues.values()):
            for sp in splits:
                if queues[sp]:
                    out.append(queues[sp].pop(0))
        depth += 1
    return out


def plan_tasks(cases: Sequence[Case], systems: Sequence[str], slow_limit: int | None = None) -> list[tuple[Case, str]]:
    """Every system but ``slow`` on every case (case by case), then ``slow`` on the first ``slow_limit`` cases."""
    ordered = [s for s in ORDER if s in systems]
    tasks = [(c, s) for c in cases for s in ordered if s != "slow"]
    if "slow" in ordered:
        tasks += [(c, "slow") for c in (cases if slow_limit is None else cases[: max(slow_limit, 0)])]
    return tasks


def eta_seconds(remaining: Sequence[str], done: Sequence[dict[str, Any]]) -> float:
    """Seconds left for the remaining systems: each system's mean wall time so far, else ETA_PRIOR."""
    spent: dict[str, list[float]] = {}
    for r in done:
        if r.get("wall_seconds") is not None:
            spent.setdefault(r["system"], []).append(float(r["wall_seconds"]))
    mean = {s: sum(v) / len(v) for s, v in spent.items() if v}
    return sum(mean.get(s, ETA_PRIOR.get(s, 150.0)) for s in remaining)


def _clock(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}小时{minutes % 60:02d}分" if minutes >= 60 else f"{minutes}分"


def _write_outputs(out_dir: Path, rows: list[dict[str, Any]], systems: Sequence[str], meta: dict[str, Any]) -> None:
    (out_dir / "report.md").write_text(render_report(rows, systems, meta), encoding="utf-8")


def _append(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _compact(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def _report_systems(systems: Sequence[str], rows: Iterable[dict[str, Any]]) -> list[str]:
    present = set(systems) | {r["system"] for r in rows}
    return [s for s in ORDER if s in present] + sorted(present - set(ORDER))


def run_eval(
    cases: Sequence[Case],
    systems: Sequence[str],
    *,
    llm: BaseChatModel,
    judge: BaseChatModel | None,
    store: Any,
    out_dir: Path,
    meta: dict[str, Any],
    context_tokens: int = 4096,
    retries: int = 1,
    retry_wait: float = 60.0,
    previous: PreviousPipeline | None = None,
    slow_limit: int | None = None,
) -> list[dict[str, Any]]:
    """Run every system on every case into ``out_dir``; returns the result rows (those already in
    ``out_dir/results.jsonl`` included, one per case × system, in case and system order).

    Pairs already finished without error in ``out_dir`` are skipped (resume). A system that raises is
    tried again ``retries`` times after ``retry_wait`` seconds (a shared local server may restart or drop
    a connection); after that the failure is recorded. ``previous`` is the earlier commit the
    ``previous`` system runs; ``slow_limit`` limits the 慢稿 round to the first N cases (None: all).
    """
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown systems: {unknown} (known: {list(SYSTEMS)})")
    systems = [s for s in ORDER if s in systems]
    drafts_dir = out_dir / "drafts"
    drafts_dir.mkdir(parents=True, exist_ok=True)
    passages_dir = out_dir / "passages"
    passages_dir.mkdir(exist_ok=True)
    results = out_dir / RESULTS
    latest = _latest(load_rows(results))
    case_ids = [c.id for c in cases]
    report_systems = _report_systems(systems, latest.values())

    def rows_now() -> list[dict[str, Any]]:
        return _ordered(latest.values(), case_ids)

    tasks = plan_tasks(cases, systems, slow_limit)
    todo = [(c, s) for c, s in tasks if latest.get((c.id, s), {"error": "todo"}).get("error")]
    if len(todo) < len(tasks):
        log.info("续跑：%s 里已完成 %d 项，跳过；还剩 %d 项", results, len(tasks) - len(todo), len(todo))
    log.info(
        "计划 %d 项（%s），预计 %s（按已测或上次运行的每篇用时）",
        len(todo),
        "、".join(f"{s}×{sum(1 for _, x in todo if x == s)}" for s in systems if any(x == s for _, x in todo)),
        _clock(eta_seconds([s for _, s in todo], list(latest.values()))),
    )
    contexts: dict[str, CaseContext] = {}
    case_sources: dict[str, list[Passage]] = {}
    started_run = time.perf_counter()
    for done, (case, system) in enumerate(todo, start=1):
        ctx = contexts.get(case.id)
        if ctx is None:
            ctx = contexts[case.id] = CaseContext(
                llm=llm,
                store=store,
                context_tokens=context_tokens,
                request=case.request,
                material_files=case.material_files,
                previous=previous,
                case_id=case.id,
            )
            restored = restore_run(drafts_dir, case.id) if (case.id, "urgent") in latest else None
            if restored is not None and not latest[(case.id, "urgent")].get("error"):
                ctx.memo["urgent_run"] = restored
        if case.id not in case_sources:
            case_sources[case.id] = case_passages(case.brief, store)
            (passages_dir / f"{case.id}.json").write_text(
                json.dumps([p.model_dump(mode="json") for p in case_sources[case.id]], ensure_ascii=False, indent=1),
                encoding="utf-8",
            )
        passages = case_sources[case.id]
        total = len(todo)
        base = {
            "system": system,
            "case_id": case.id,
            "split": case.split,
            "genre": case.brief.genre,
            "target": case.brief.length,
        }
        log.info("[%d/%d] %s / %s ...", done, total, case.id, system)
        started = time.perf_counter()
        output, error = None, ""
        for attempt in range(retries + 1):
            try:
                output = SYSTEMS[system](case.brief, ctx)
                break
            except Exception as exc:  # noqa: BLE001 - one failed case must not stop the run
                error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("[%d/%d] %s / %s failed (try %d): %s", done, total, case.id, system, attempt + 1, exc)
                if attempt < retries:
                    time.sleep(retry_wait)
        if output is None:
            row = {**base, "error": error, "wall_seconds": _since(started)}
        else:
            stem = f"{case.id}__{system}"
            (drafts_dir / f"{stem}.json").write_text(output.draft.model_dump_json(indent=1), encoding="utf-8")
            (drafts_dir / f"{stem}.txt").write_text(_draft_text(output.draft), encoding="utf-8")
            if system == "urgent":
                _save_run(drafts_dir, stem, output)
            if output.before is not None:
                (drafts_dir / f"{stem}__before.txt").write_text(_draft_text(output.before), encoding="utf-8")
            try:
                scored = score_output(output, judge, case=case, passages=passages)
            except Exception as exc:  # noqa: BLE001 - a scorer bug must not end a run that spent model time
                log.exception("[%d/%d] %s / %s: scoring failed", done, total, case.id, system)
                scored = {"error": f"评分失败（稿子已存 drafts/{stem}.txt）：{type(exc).__name__}: {exc}"[:500]}
            row = {**base, "error": "", **scored, "wall_seconds": _since(started)}
        _append(results, row)
        latest[(case.id, system)] = row
        left = eta_seconds([s for _, s in todo[done:]], list(latest.values()))
        if row["error"]:
            summary = "失败"
        else:
            summary = "{}字 篇幅{:.0f} 缺陷{} 待补{} 五气有据{} 文种{}".format(
                row["chars"],
                row["length_score"],
                row["defects_total"],
                row["placeholders"],
                row["evidence_coverage"],
                row["draft_genre"],
            )
        log.info(
            "[%d/%d] %s / %s：%s（%.0f秒）｜已用 %s，预计还需 %s",
            done,
            total,
            case.id,
            system,
            summary,
            row["wall_seconds"],
            _clock(time.perf_counter() - started_run),
            _clock(left),
        )
        _write_outputs(out_dir, rows_now(), report_systems, meta)
    rows = rows_now()
    _compact(results, rows)
    _write_outputs(out_dir, rows, report_systems, meta)
    (out_dir / "chart.png").write_bytes(render_chart(rows, report_systems))
    return rows


def _save_run(drafts_dir: Path, stem: str, output: SystemOutput) -> None:
    """What a later 慢稿 round (possibly in a resumed run) needs besides the draft: its outline and passages."""
    data = {
        "outline": output.reference_outline.model_dump(mode="json") if output.reference_outline else None,
        "passages": [p.model_dump(mode="json") for p in output.passages],
    }
    (drafts_dir / f"{stem}.run.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def publish(run_dir: Path, dest: Path, meta: dict[str, Any]) -> Path:
    """Copy the run's report, chart, results and config to ``dest/usable-YYYYMMDD[-n].*``; returns the .md.

    The name is chosen once per run folder (kept in config.json's ``publish_name``), never an existing
    report of another run.
    """
    dest.mkdir(parents=True, exist_ok=True)
    name = str(meta.get("publish_name") or "")
    if not name:
        stem = f"usable-{datetime.now().strftime('%Y%m%d')}"
        name, n = stem, 1
        while (dest / f"{name}.md").exists():
            n += 1
            name = f"{stem}-{n}"
        meta["publish_name"] = name
        (run_dir / "config.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    rows = load_rows(run_dir / RESULTS)
    systems = _report_systems(meta.get("systems") or [], rows)
    md = render_report(_ordered(rows, meta.get("case_ids") or []), systems, meta, chart=f"{name}.png")
    (dest / f"{name}.md").write_text(md, encoding="utf-8")
    shutil.copyfile(run_dir / "chart.png", dest / f"{name}.png")
    shutil.copyfile(run_dir / RESULTS, dest / f"{name}.results.jsonl")
    shutil.copyfile(run_dir / "config.json", dest / f"{name}.config.json")
    return dest / f"{name}.md"


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 1)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m evals.run", description="文稿质量评测：各系统 × 各用例")
    p.add_argument("--limit", type=int, default=0, help="只跑前 N 个用例（在 --split 筛选之后）")
    p.add_argument("--systems", default=DEFAULT_SYSTEMS, help=f"逗号分隔，可选：{','.join(ORDER)}")
    p.add_argument("--cases", type=Path, default=DEFAULT_CASES, help="用例 YAML 文件或目录")
    p.add_argument("--split", choices=["all", "tune", "holdout"], default="all", help="只跑某一组用例")
    p.add_argument(
        "--cases-ids", "--only", dest="only", default="", help="逗号分隔的用例 id，只跑这些（在 --split 筛选之后）"
    )
    p.add_argument(
        "--slow-limit", type=int, default=None, help="慢稿一轮（slow）只跑前 N 个用例，在其余系统都跑完之后（默认全部）"
    )
    p.add_argument(
        "--run-dir", type=Path, default=None, help="结果写进这个目录；再次用同一目录运行时跳过已完成的（续跑）"
    )
    p.add_argument(
        "--publish", type=Path, default=None, help="跑完后把报告、图表、结果复制到此目录（如 docs/benchmarks）"
    )
    p.add_argument("--file-order", action="store_true", help="按用例文件顺序跑（默认按文种、分组交错排序）")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="不调用模型，只用 --run-dir 里已有的结果重写报告和图表（加 --publish 则同时发布）；用于中途停下的运行",
    )
    p.add_argument("--previous", default="HEAD^", help="previous 系统所用的早先提交（默认 HEAD^，即当前提交的上一个）")
    p.add_argument("--judge", action="store_true", help="另请评审模型给五气三情打分（默认不打分）")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="结果根目录")
    p.add_argument("--retries", type=int, default=1, help="某篇失败后重试的次数（每次先等 60 秒）")
    p.add_argument("--no-judge", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for old commands
    p.add_argument(
        "--data-dir", type=Path, default=None, help="评测专用索引所在目录（默认：<数据目录>/evals，与日常范文库分开）"
    )
    return p.parse_args(argv)


def _report_only(run_dir: Path | None, dest: Path | None) -> int:
    """Rewrite report.md and chart.png of a run folder from its results.jsonl (and publish them); no model."""
    if run_dir is None or not (run_dir / RESULTS).is_file():
        log.error("--report-only 需要 --run-dir，且该目录里有 %s", RESULTS)
        return 2
    config = run_dir / "config.json"
    meta: dict[str, Any] = json.loads(config.read_text(encoding="utf-8")) if config.is_file() else {}
    rows = _ordered(_latest(load_rows(run_dir / RESULTS)).values(), meta.get("case_ids") or [])
    systems = _report_systems(meta.get("systems") or [], rows)
    _write_outputs(run_dir, rows, systems, meta)
    (run_dir / "chart.png").write_bytes(render_chart(rows, systems))
    log.info("report: %s（%d 行）", run_dir / "report.md", len(rows))
    if dest is not None:
        if not config.is_file():
            config.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        log.info("published: %s", publish(run_dir, dest, meta))
    return 0


def reproduce_command(argv: Sequence[str], previous_commit: str = "") -> str:
    """The command line of this run, with the previous system's commit pinned (HEAD^ moves)."""
    args = list(argv)
    if previous_commit:
        for i, a in enumerate(args):
            if a.startswith("--previous="):
                args[i] = f"--previous={previous_commit}"
            elif a == "--previous" and i + 1 < len(args):
                args[i + 1] = previous_commit
        if not any(a == "--previous" or a.startswith("--previous=") for a in args):
            args += ["--previous", previous_commit]
    return shlex.join(["python", "-m", "evals.run", *args])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(argv)
    # Progress at INFO from evals and drafting; libraries (httpx logs every request) at WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    for ours in ("evals", "drafting"):
        logging.getLogger(ours).setLevel(logging.INFO)
    if args.report_only:
        return _report_only(args.run_dir, args.publish)
    from drafting.corpus.ingest import ingest_bundled_corpus
    from drafting.corpus.store import open_store
    from drafting.llm.client import get_chat_model, get_judge_model

    settings = get_settings()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        log.error("未知系统：%s（可选：%s）", "、".join(unknown), "、".join(SYSTEMS))
        return 2
    try:
        cases = select_split(load_cases(args.cases), args.split)
    except (OSError, ValueError) as exc:
        log.error("用例文件有误：%s", exc)
        return 2
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        missing = sorted(set(wanted) - {c.id for c in cases})
        if missing:
            log.error("没有这些用例：%s", "、".join(missing))
            return 2
        cases = [c for c in cases if c.id in wanted]
    if not args.file_order:
        cases = interleave(cases)
    if args.limit:
        cases = cases[: args.limit]
    old_meta: dict[str, Any] = {}
    if args.run_dir is not None and (args.run_dir / "config.json").is_file():
        old_meta = json.loads((args.run_dir / "config.json").read_text(encoding="utf-8"))
    previous = None
    if "previous" in systems:
        try:
            previous = PreviousPipeline(args.previous, settings)
        except ValueError as exc:
            log.error("%s", exc)
            return 2
        pinned = str(old_meta.get("previous_commit") or "")
        if pinned and pinned != previous.commit and load_rows(args.run_dir / RESULTS):
            log.error(
                "%s 里的上一版本结果来自提交 %s，这次 --previous 是 %s；续跑请加 --previous %s",
                args.run_dir,
                pinned[:12],
                previous.commit[:12],
                pinned,
            )
            return 2
    # The eval index holds the bundled corpus only, so results do not depend on the user's own library.
    eval_settings = settings.replace(data_dir=args.data_dir or settings.data_dir / "evals")
    log.info("building the eval index under %s", eval_settings.index_dir)
    store = open_store(eval_settings)
    report = ingest_bundled_corpus(store)
    log.info("index ready: %s", report.summary)
    if args.run_dir is not None:
        out_dir = args.run_dir
        out_dir.mkdir(parents=True, exist_ok=True)
    else:
        out_dir = new_run_dir(args.out)
    meta = build_meta(settings, args.cases, cases, [s for s in ORDER if s in systems])
    if old_meta:
        meta["first_started"] = old_meta.get("first_started") or old_meta.get("date", "")
        if old_meta.get("publish_name"):
            meta["publish_name"] = old_meta["publish_name"]
        if old_meta.get("git_commit") and old_meta["git_commit"] != meta["git_commit"]:
            log.warning("续跑：已有结果来自提交 %s，现在是 %s", old_meta["git_commit"], meta["git_commit"])
            meta["earlier_commits"] = sorted({*old_meta.get("earlier_commits", []), old_meta["git_commit"]})
    meta.setdefault("first_started", meta["date"])
    meta["slow_limit"] = args.slow_limit
    meta["run_dir"] = str(out_dir)
    meta["eval_index"] = str(eval_settings.index_dir)
    meta["args"] = {k: str(v) for k, v in vars(args).items()}
    meta["split"] = args.split
    meta["judge"] = bool(args.judge)
    meta["reproduce"] = reproduce_command(argv, previous.commit if previous is not None else "")
    if previous is not None:
        meta["previous_commit"] = previous.commit
    (out_dir / "config.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    log.info("writing results to %s", out_dir)
    try:
        run_eval(
            cases,
            systems,
            llm=get_chat_model(settings),
            judge=get_judge_model(settings) if args.judge else None,
            store=store,
            out_dir=out_dir,
            meta=meta,
            context_tokens=settings.context_tokens,
            retries=args.retries,
            previous=previous,
            slow_limit=args.slow_limit,
        )
    finally:
        if previous is not None:
            previous.close()
    log.info("done: %s", out_dir / "report.md")
    if args.publish is not None:
        log.info("published: %s", publish(out_dir, args.publish, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
