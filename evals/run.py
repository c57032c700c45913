"""Run systems × cases, score every draft, and save the results with the configuration that made them.

    python -m evals.run [--cases FILE] [--split tune|holdout|all] [--limit N]
                        [--systems urgent,slow,baseline,previous] [--previous REV] [--judge] [--out evals/results]

Writes ``<out>/<timestamp>/``: report.md, results.jsonl (one row per system × case, with the
defects found and the text they point at), config.json (settings minus secrets, git commit, prompt
versions, scorer thresholds, the command to reproduce), drafts/ (JSON and text of every draft; a
revision system's draft before its round as ``*__before.txt``), passages/ (per case, the sources its
defects were counted against) and chart.png. results.jsonl and report.md
are rewritten after every system × case, so an interrupted run keeps what it finished. A failure on
one case is recorded in its row's ``error`` and the run goes on.

Every draft of a case is checked against the same brief and the same passages: the pipeline's
retrieval for that brief on the eval index, plus all the material, whichever system wrote it.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drafting.config import get_settings
from drafting.domain import Brief, Costs, Draft, Passage
from drafting.errors import DraftingError

from . import scorers
from .casefile import Case, load_cases, select_split
from .previous import PreviousPipeline
from .report import render_chart, render_report
from .runinfo import build_meta, new_run_dir
from .systems import ORDER, SYSTEMS, CaseContext, SystemOutput

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
]

log = logging.getLogger("evals")

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_CASES = EVALS_DIR / "cases" / "briefs.yaml"
USABLE_CASES = EVALS_DIR / "cases" / "usable.yaml"
DEFAULT_OUT = EVALS_DIR / "results"
DEFAULT_SYSTEMS = "urgent,slow,baseline"


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
    if judge is not None:
        judge_costs = Costs()
        try:
            row.update(scorers.judge_scores(draft, judge, costs=judge_costs))
        except DraftingError as err:
            row["judge_error"] = str(err)
        row["judge_seconds"] = judge_costs.seconds
    return row


def _draft_text(draft: Draft) -> str:
    refs = [f"[{c.n}] 《{c.passage.title}》{c.passage.section}" for c in draft.citations]
    return "\n".join([draft.title, "", draft.body_text, *([""] + ["参考：", *refs] if refs else [])]) + "\n"


def _write_outputs(out_dir: Path, rows: list[dict[str, Any]], systems: Sequence[str], meta: dict[str, Any]) -> None:
    (out_dir / "results.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    (out_dir / "report.md").write_text(render_report(rows, systems, meta), encoding="utf-8")


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
) -> list[dict[str, Any]]:
    """Run every system on every case into ``out_dir``; returns the result rows.

    A system that raises is tried again ``retries`` times after ``retry_wait`` seconds (a shared
    local server may restart or drop a connection); after that the failure is recorded.
    ``previous`` is the earlier commit the ``previous`` system runs.
    """
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown systems: {unknown} (known: {list(SYSTEMS)})")
    systems = [s for s in ORDER if s in systems]
    drafts_dir = out_dir / "drafts"
    drafts_dir.mkdir(parents=True, exist_ok=True)
    passages_dir = out_dir / "passages"
    passages_dir.mkdir(exist_ok=True)
    rows: list[dict[str, Any]] = []
    total = len(cases) * len(systems)
    done = 0
    for case in cases:
        ctx = CaseContext(
            llm=llm,
            store=store,
            context_tokens=context_tokens,
            request=case.request,
            material_files=case.material_files,
            previous=previous,
            case_id=case.id,
        )
        passages = case_passages(case.brief, store)
        (passages_dir / f"{case.id}.json").write_text(
            json.dumps([p.model_dump(mode="json") for p in passages], ensure_ascii=False, indent=1), encoding="utf-8"
        )
        for system in systems:
            done += 1
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
                rows.append({**base, "error": error, "wall_seconds": _since(started)})
                _write_outputs(out_dir, rows, systems, meta)
                continue
            stem = f"{case.id}__{system}"
            (drafts_dir / f"{stem}.json").write_text(output.draft.model_dump_json(indent=1), encoding="utf-8")
            (drafts_dir / f"{stem}.txt").write_text(_draft_text(output.draft), encoding="utf-8")
            if output.before is not None:
                (drafts_dir / f"{stem}__before.txt").write_text(_draft_text(output.before), encoding="utf-8")
            scored = score_output(output, judge, case=case, passages=passages)
            row = {**base, **scored, "error": "", "wall_seconds": _since(started)}
            rows.append(row)
            log.info(
                "[%d/%d] %s / %s: %d字 篇幅%.0f 缺陷%s 待补%d 文种%s (%.0fs)",
                done,
                total,
                case.id,
                system,
                row["chars"],
                row["length_score"],
                row["defects_total"],
                row["placeholders"],
                row["draft_genre"],
                row["wall_seconds"],
            )
            _write_outputs(out_dir, rows, systems, meta)
    _write_outputs(out_dir, rows, systems, meta)
    (out_dir / "chart.png").write_bytes(render_chart(rows, systems))
    return rows


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 1)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m evals.run", description="文稿质量评测：各系统 × 各用例")
    p.add_argument("--limit", type=int, default=0, help="只跑前 N 个用例（在 --split 筛选之后）")
    p.add_argument("--systems", default=DEFAULT_SYSTEMS, help=f"逗号分隔，可选：{','.join(ORDER)}")
    p.add_argument("--cases", type=Path, default=DEFAULT_CASES, help="用例 YAML 文件或目录")
    p.add_argument("--split", choices=["all", "tune", "holdout"], default="all", help="只跑某一组用例")
    p.add_argument("--only", default="", help="逗号分隔的用例 id，只跑这些")
    p.add_argument("--previous", default="HEAD^", help="previous 系统所用的早先提交（默认 HEAD^，即当前提交的上一个）")
    p.add_argument("--judge", action="store_true", help="另请评审模型给五气三情打分（默认不打分）")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="结果根目录")
    p.add_argument("--retries", type=int, default=1, help="某篇失败后重试的次数（每次先等 60 秒）")
    p.add_argument("--no-judge", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for old commands
    p.add_argument(
        "--data-dir", type=Path, default=None, help="评测专用索引所在目录（默认：<数据目录>/evals，与日常范文库分开）"
    )
    return p.parse_args(argv)


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
    if args.limit:
        cases = cases[: args.limit]
    previous = None
    if "previous" in systems:
        try:
            previous = PreviousPipeline(args.previous, settings)
        except ValueError as exc:
            log.error("%s", exc)
            return 2
    # The eval index holds the bundled corpus only, so results do not depend on the user's own library.
    eval_settings = settings.replace(data_dir=args.data_dir or settings.data_dir / "evals")
    log.info("building the eval index under %s", eval_settings.index_dir)
    store = open_store(eval_settings)
    report = ingest_bundled_corpus(store)
    log.info("index ready: %s", report.summary)
    out_dir = new_run_dir(args.out)
    meta = build_meta(settings, args.cases, cases, [s for s in ORDER if s in systems])
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
        )
    finally:
        if previous is not None:
            previous.close()
    log.info("done: %s", out_dir / "report.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
