"""Command line: the same jobs as the app, for scripts.

Exit codes (README, 命令行 → 退出码): 0 done; 1 a check found problems (check-docx, lint) or no file
could be ingested; 2 bad input or settings; 3 the model service failed (what was written is saved,
the message names the project and the resume command); 4 refused: a 密级 marking; 5 an unexpected
internal error (no traceback unless -v); 130 interrupted.

drafting ingest PATH...            drafting search "查询" -k 5 [--json]
drafting draft BRIEF.yaml | --request "…" [--material FILE...] --mode urgent|slow --out x.docx [--json x.json]
drafting review DRAFT.json         drafting revise DRAFT.json --mode slow [--comments c.yaml] --out v2.json
drafting check-docx FILE.docx      drafting lint FILE --genre 请示 [--strict]
drafting export PROJECT --kind 定稿|送审稿 --out x.docx [--force]
drafting import-edited PROJECT edited.docx
drafting facts PROJECT [--confirm N | --set N 新值] [--json]   (the facts ledger)
drafting index-corpus              (index the bundled 范文 if missing or stale)
drafting team-up [--app-port 8501] [--chroma-port 8000]   (a team stack on this machine, for trying team mode)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from drafting.checks.facts import placeholders_in
from drafting.config import get_settings
from drafting.domain import (
    Brief,
    Comment,
    CommentOrigin,
    CommentStatus,
    Draft,
    Passage,
    Review,
    RevisionMode,
    SectionKind,
    Version,
)
from drafting.errors import BriefError, ClassifiedError, DraftingError, ExportError, ModelOutputError, ProviderError
from drafting.events import OutlineReady, PassagesChosen, ProgressEvent, ReviewReady, SectionWritten

__all__ = ["main"]

log = logging.getLogger("drafting")

EXIT_OK, EXIT_FOUND, EXIT_INPUT, EXIT_MODEL, EXIT_CLASSIFIED, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 130


def _err(msg: str) -> None:
    print(f"错误：{msg}", file=sys.stderr)


def _info(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _write_atomic(path: Path, data: bytes) -> None:
    """Outputs appear whole or not at all (a unique temporary name: parallel runs do not collide)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def resume_command(project_id: str, out: str | None = None) -> str:
    """The exact command that goes on with a saved project (same data directory)."""
    prefix = ""
    if os.environ.get("DRAFTING_DATA_DIR"):
        prefix = f"DRAFTING_DATA_DIR={shlex.quote(os.environ['DRAFTING_DATA_DIR'])} "
    tail = f" --out {shlex.quote(out)}" if out else ""
    return f"{prefix}{_program()} resume {project_id}{tail}"


def _program() -> str:
    """How this command was started: `python -m drafting`, a path to the script, or plain `drafting`."""
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0.endswith("__main__.py") or not argv0:
        return f"{shlex.quote(sys.executable)} -m drafting"
    if os.path.basename(argv0) == "drafting" and os.sep in argv0:
        return shlex.quote(argv0)
    return "drafting"


def _model_failure(err: DraftingError, project_id: str | None, out: str | None, *, resumable: bool = True) -> int:
    """Report a failed model call: what failed, which project holds the work, how to go on."""
    _err(str(err))
    if project_id and resumable:
        _info(f"已写好的部分保存在项目 {project_id}。继续写完：{resume_command(project_id, out)}")
    elif project_id:
        _info(f"项目 {project_id} 中已保存的稿子没有受影响。")
    return EXIT_MODEL


def _store() -> Any:
    from drafting.corpus.store import open_store
    from drafting.workspace import current_writer

    settings = get_settings()
    return open_store(settings, writer=current_writer(settings)) if settings.team else open_store(settings)


def _store_if_any() -> Any:
    """The 范文库 for drafting, or None when this data directory has never had one (nothing to retrieve)."""
    settings = get_settings()
    if not settings.chroma_host and not settings.team_db_url and not settings.index_dir.exists():
        _info("[检索] 范文库为空（尚未导入范文），只按任务和素材起草。")
        return None
    return _store()


def cmd_ingest(args: argparse.Namespace) -> int:
    from drafting.corpus.ingest import ingest_paths

    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        _err(f"找不到：{'、'.join(missing)}")
        return 2
    report = ingest_paths(paths, _store(), on_progress=lambda i, n, name: _info(f"[{i}/{n}] {name}"))
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(report.summary)
        for path, reason in report.failed:
            print(f"  跳过 {path}：{reason}")
    return 0 if not report.failed or report.added or report.replaced or report.unchanged else 1


def cmd_index_corpus(args: argparse.Namespace) -> int:
    from drafting.corpus.ingest import ingest_bundled_corpus

    started = time.perf_counter()
    report = ingest_bundled_corpus(_store())
    _info(f"[corpus] 范文库：{report.summary}（{time.perf_counter() - started:.1f} 秒）")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from drafting.corpus.retrieve import retrieve

    hits = retrieve(args.query, _store(), k=args.k, genre=args.genre, year=args.year, method=args.method)
    if args.json:
        print(json.dumps([h.model_dump(mode="json") for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("没有找到相关范文。")
    for i, h in enumerate(hits, 1):
        print(f"[{i}] 《{h.title}》 {h.section}  （{h.genre} {h.date}，得分 {h.score:.3f}）")
        print("    " + h.text.replace("\n", " ")[:160])
    return 0


def _read_material(paths: list[str]) -> list[str]:
    from drafting.classified import check_text
    from drafting.corpus.ingest import read_document
    from drafting.secrets import effective_settings

    settings = effective_settings(get_settings())
    texts = []
    for p in paths:
        text, _ = read_document(Path(p))
        check_text(text, f"素材文件 {p} ", settings)  # names the file before anything is sent
        texts.append(text)
    return texts


def _brief_from_args(args: argparse.Namespace) -> Brief:
    from drafting.writing.brief import brief_from_request, load_brief, mode_of

    material = _read_material(args.material or [])
    mode = mode_of(args.mode) if args.mode else None
    if args.brief:
        brief = load_brief(Path(args.brief))
        updates: dict[str, Any] = {}
        if material:
            updates["material"] = [*brief.material, *material]
        if mode:
            updates["mode"] = mode
        return brief.model_copy(update=updates) if updates else brief
    if args.request is not None:
        return brief_from_request(args.request, material=material, mode=mode)
    raise BriefError('请给出任务书文件（BRIEF.yaml）或 --request "领导的要求"。')


def _payload(
    brief: Brief, passages: list[Passage], draft: Draft, review: Review | None, versions: list[Version]
) -> dict[str, Any]:
    from drafting.cli_facts import fact_entries

    return {
        "brief": brief.model_dump(mode="json"),
        "outline": draft.outline.model_dump(mode="json"),
        "draft": draft.model_dump(mode="json", exclude={"brief", "outline"}),
        "text": draft.body_text,
        "chars": draft.char_count,
        "genre_note": brief.genre_note,
        "placeholders": placeholders_in([draft.body_text]),
        "facts": fact_entries(draft),  # the facts ledger (drafting facts), as the CLI and the page show it
        "citations": [
            {
                "n": c.n,
                "title": c.passage.title,
                "section": c.passage.section,
                "source": c.passage.source,
                "origin": c.passage.origin,
                "text": c.passage.text,
            }
            for c in draft.citations
        ],
        "passages": [p.model_dump(mode="json") for p in passages],
        "review": review.model_dump(mode="json") if review else None,
        "principles": _principles_payload(draft),
        "versions": [v.model_dump(mode="json", exclude={"draft"}) for v in versions],
        "costs": {
            "calls": draft.costs.calls,
            "tokens_in": draft.costs.tokens_in,
            "tokens_out": draft.costs.tokens_out,
            "seconds": draft.costs.seconds,
            "stages": [s.model_dump() for s in draft.costs.stages],
        },
    }


def _load_payload(path: Path) -> tuple[Brief, list[Passage], Draft, list[Version]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        brief = Brief.model_validate(data["brief"])
        from drafting.domain import Outline

        outline = Outline.model_validate(data["outline"])
        draft = Draft.model_validate({**data["draft"], "brief": data["brief"], "outline": data["outline"]})
        draft = draft.model_copy(update={"outline": outline, "brief": brief})
        passages = [Passage.model_validate(p) for p in data.get("passages", [])]
        versions = [
            Version.model_validate({**v, "draft": draft.model_dump(mode="json")}) for v in data.get("versions", [])
        ]
    except (OSError, ValueError, KeyError) as exc:
        raise DraftingError(f"读不了稿件文件 {path}：{exc}") from exc
    return brief, passages, draft, versions


def _llm() -> Any:
    """The writer model, with the same stored API key and settings the app uses."""
    from drafting.llm.client import check_endpoint, get_chat_model
    from drafting.secrets import effective_settings

    settings = effective_settings(get_settings())
    if settings.team:
        from drafting.workspace import current_writer

        # Every request names the writer, so the team's serving engine can attribute it in its logs.
        settings = settings.replace(writer=current_writer(settings))
    check_endpoint(settings)
    return get_chat_model(settings)


def _guard(brief: Brief, comments: list[Comment] | None = None) -> None:
    """Refuse marked text before the first request (even the endpoint health check) is made."""
    from drafting.classified import check_brief, check_comments
    from drafting.secrets import effective_settings

    settings = effective_settings(get_settings())
    check_brief(brief, settings)
    if comments:
        check_comments(comments, settings)


def _progress(event: ProgressEvent) -> None:
    if isinstance(event, PassagesChosen):
        _info(f"[检索] 找到参考段落 {len(event.passages)} 条")
    elif isinstance(event, OutlineReady):
        from drafting.writing.outline import outline_to_text

        _info("[提纲]\n" + outline_to_text(event.outline))
    elif isinstance(event, SectionWritten):
        last = event.draft.sections[-1]
        _info(f"[正文] 已写完“{last.heading or SectionKind(last.kind).label}”，累计 {event.draft.char_count} 字")
    elif isinstance(event, ReviewReady):
        scores = "，".join(f"{s.criterion.value}{s.score}" for s in event.review.scores)
        _info(f"[审阅] {scores or '评分失败'}；自动检查 {len(event.review.checks)} 条")


def _export(draft: Draft, out: Path | None, args: argparse.Namespace | None = None) -> bool:
    """Write the .docx/.md; False (with the reason printed) when it could not be written.

    定稿 unless the command asked otherwise (``--kind``); a first draft with 〔待补〕 gaps goes out as
    a 送审稿, where every gap is a Word comment to fill in. ``--force`` exports a 定稿 despite gaps."""
    if out is None:
        return True
    from drafting.cli_export import export_to
    from drafting.docx.export import PlaceholderError

    kind = getattr(args, "kind", None)
    if kind is None and getattr(args, "force", False):
        kind = "定稿"  # --force asks for a 定稿 despite the gaps
    if kind is None:
        gaps = placeholders_in([draft.body_text])
        kind = "送审稿" if gaps else "定稿"
        if gaps:
            _info(
                f"[导出] 稿中还有 {len(gaps)} 处〔待补〕，先导出为送审稿（每处待补都有批注）；补齐后用 drafting export 导出定稿。"
            )
    try:
        export_to(draft, out, kind=kind, force=bool(getattr(args, "force", False)))
    except PlaceholderError as err:
        _err(str(err))
        return False
    except (ExportError, OSError, ValueError) as exc:
        _err(f"导出 {out} 失败：{exc}")
        return False
    return True


def _write_json(path: Path, payload: dict[str, Any]) -> bool:
    try:
        _write_atomic(path, json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8"))
    except (OSError, ValueError) as exc:
        _err(f"写入 {path} 失败：{exc}")
        return False
    _info(f"[导出] {path}")
    return True


def _usable(draft: Draft) -> bool:
    """A draft with headings only (no body text) is not a draft."""
    return any(s.text.strip() for s in draft.sections)


def cmd_draft(args: argparse.Namespace) -> int:
    from drafting.workspace import open_workspace
    from drafting.writing.pipeline import run_draft

    brief = _brief_from_args(args)  # bad brief: fail before touching the model
    _guard(brief)  # marked text: refuse before any byte is sent
    if brief.genre_note:
        _info(f"[文种] {brief.genre_note}")
    llm = _llm()
    settings = get_settings()
    workspace = open_workspace(settings)
    project_id = workspace.create_project(brief)
    try:
        run = run_draft(
            brief,
            store=_store_if_any(),
            llm=llm,
            workspace=workspace,
            project_id=project_id,
            # 急稿 is done when the text is: the model's scoring (slow on a local model) runs only when
            # asked for; 慢稿 scores by default. The deterministic checks run either way.
            with_review=not args.no_review and (args.review or brief.mode is RevisionMode.SLOW),
            context_tokens=settings.context_tokens,
            on_event=_progress,
        )
    except (ProviderError, ModelOutputError) as err:
        return _model_failure(err, project_id, args.out)
    except KeyboardInterrupt:
        _err("已中断。")
        _info(f"写完的部分保存在项目 {project_id}。继续写完：{resume_command(project_id, args.out)}")
        return EXIT_INTERRUPTED
    return _deliver(args, brief, run, llm, workspace)


def _deliver(args: argparse.Namespace, brief: Brief, run: Any, llm: Any, workspace: Any) -> int:
    """Slow round, then the JSON and the .docx, each written on its own (one failing keeps the other)."""
    from drafting.writing.pipeline import run_revision

    draft, review = run.draft, run.review
    if not _usable(draft):
        _err(f"模型没有写出正文（只有标题），未导出。项目 {run.project_id}")
        return EXIT_MODEL
    gaps = placeholders_in([draft.body_text])
    if gaps:
        _info(f"[待补] {len(gaps)} 处需要本单位补充：" + "；".join(gaps))
    _print_principles(draft)
    versions = [Version(number=1, draft=draft, mode=brief.mode, note="初稿")]
    code = EXIT_OK
    if brief.mode is RevisionMode.SLOW:
        _info("[慢稿] 多角度审稿并修改……")
        try:
            # One-shot 慢稿 has no writer at hand: every proposal is taken, and the gate guards the round.
            version = run_revision(workspace, run.project_id or "", llm=llm, mode=RevisionMode.SLOW, accept_all=True)
        except (ProviderError, ModelOutputError) as err:
            _model_failure(err, run.project_id, None, resumable=False)
            _info("慢稿修改没有完成，下面导出第1稿。")
            code = EXIT_MODEL
        else:
            versions.append(version)
            draft = version.draft
    # The first draft's JSON counts the whole run's calls (its review's too); a later version's, its round's.
    shown = draft.model_copy(update={"costs": run.costs}) if draft is run.draft else draft
    payload = {**_payload(brief, run.passages, shown, review, versions), "project": run.project_id}
    if args.json and not _write_json(Path(args.json), payload):
        code = code or EXIT_INPUT
    if not _export(draft, Path(args.out) if args.out else None, args):
        code = code or EXIT_INPUT
    if not args.out and not args.json:
        print(draft.title)
        print(draft.body_text)
    _info(
        f"[完成] {draft.char_count} 字，引用 {len(draft.citations)} 处，调用模型 {run.costs.calls} 次，用时 {run.costs.seconds} 秒；项目 {run.project_id}"
    )
    from drafting.cli_facts import ledger_hint

    _info(ledger_hint(draft, run.project_id or ""))
    return code


def cmd_projects(args: argparse.Namespace) -> int:
    from drafting.workspace import open_workspace

    projects = open_workspace(get_settings()).list_projects()
    if not projects:
        print("工作区里还没有文稿项目。")
    for p in projects:
        owner = f"  （{p.owner}）" if p.owner else ""
        print(f"{p.id}  {p.updated[:16]}  {p.genre or '-'}  {p.versions}稿  {p.name}{owner}")
    return 0


def cmd_share(args: argparse.Namespace) -> int:
    """Team mode: share a project with a named colleague (or stop sharing it)."""
    from drafting.workspace import open_workspace

    settings = get_settings()
    if not settings.team:
        _err("共享只在团队模式下可用（DRAFTING_TEAM=1）。")
        return 2
    workspace = open_workspace(settings)
    if args.remove:
        done = workspace.unshare(args.project, args.colleague)
        print(f"已取消与 {args.colleague} 的共享。" if done else f"项目没有与 {args.colleague} 共享。")
    else:
        workspace.share(args.project, args.colleague)
        print(f"已与 {args.colleague} 共享；现在共享给：{'、'.join(workspace.shared_with(args.project))}")
    return 0


def cmd_team_up(args: argparse.Namespace) -> int:
    """PostgreSQL, Chroma, the bundled 范文 and the app in team mode on this machine, until Ctrl-C."""
    from drafting.team_stack import run_team_stack

    settings = get_settings()
    chroma_port = args.chroma_port or settings.chroma_port
    return run_team_stack(settings, chroma_port=chroma_port, app_port=args.app_port, say=lambda m: print(m, flush=True))


def cmd_resume(args: argparse.Namespace) -> int:
    from drafting.workspace import open_workspace
    from drafting.writing.pipeline import resume_draft, run_draft

    settings = get_settings()
    workspace = open_workspace(settings)
    project = workspace.load(args.project)
    if project.brief is not None:
        _guard(project.brief)
    llm = _llm()
    try:
        if project.outline is None and project.brief is not None and not project.versions:
            # The run stopped before its outline was saved: start it again on the saved brief.
            run = run_draft(
                project.brief,
                store=_store_if_any(),
                llm=llm,
                workspace=workspace,
                project_id=args.project,
                passages=project.passages or None,
                context_tokens=settings.context_tokens,
                on_event=_progress,
            )
        else:
            run = resume_draft(
                workspace, args.project, llm=llm, context_tokens=settings.context_tokens, on_event=_progress
            )
    except (ProviderError, ModelOutputError) as err:
        return _model_failure(err, args.project, args.out)
    if not _usable(run.draft):
        _err(f"模型没有写出正文（只有标题），未导出。项目 {args.project}")
        return EXIT_MODEL
    code = EXIT_OK if _export(run.draft, Path(args.out) if args.out else None, args) else EXIT_INPUT
    if not args.out:
        print(run.draft.body_text)
    _info(f"[完成] {run.draft.char_count} 字，项目 {args.project}")
    return code


def cmd_review(args: argparse.Namespace) -> int:
    from drafting.writing.review import review

    brief, _, draft, _ = _load_payload(Path(args.draft))
    _guard(brief)
    result = review(draft, brief, _llm())
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    for s in result.scores:
        print(f"{s.criterion.value}：{s.score}/10  依据：“{s.evidence[:40]}”  建议：{s.suggestion}")
    for c in result.checks:
        print(f"[{c.severity}] {c.rule} {c.position} {c.message}")
    _print_evidence(result)
    return 0


def _print_evidence(result: Review) -> None:
    """Per principle, the body sentences that carry it (found without the model)."""
    from drafting.writing.banks import load_banks

    for problem in load_banks().problems:
        _info(f"[名句库/提法库] {problem}")
    if not result.evidence:
        return
    print("五气依据（自动摘引正文句子，不含标题）：")
    for name, sentences in result.evidence.items():
        if not sentences:
            print(f"  {name}：未找到")
            continue
        print(f"  {name}：")
        for sentence in sentences:
            print(f"    · {sentence}")


# ---- five principles: per part, principles, bank entries offered and used (issue 12) -------------


def _principles_payload(draft: Draft) -> dict[str, Any] | None:
    from drafting.writing.principles import principles_report
    from drafting.writing.review import principle_evidence

    try:
        return principles_report(draft, principle_evidence(draft))
    except (DraftingError, ValueError) as exc:  # a bad office bank never stops the export
        log.warning("principles report failed: %s", exc)
        return None


def _print_principles(draft: Draft) -> None:
    """Per outline part: the principles assigned, the bank entries offered and the ones the draft used;
    then the evidence per principle and the 接地气/显霸气 checks (all without the model)."""
    report = _principles_payload(draft)
    if report is None:
        return
    lines = ["[五气] 各部分承担的五气、提供的名句和提法、稿中用到的："]
    for part in report["parts"]:
        name = part["heading"] if part["kind"] == "body" else ("开头" if part["kind"] == "opening" else "结尾")
        lines.append(f"  {name}（{'、'.join(part['principles']) or '—'}）")
        offered = [f"名句“{c['text']}”（{c['citation']}）" for c in part["offered"]["classics"]]
        offered += [f"提法“{f['text']}”（{f['source']}）" for f in part["offered"]["formulations"]]
        if offered:
            lines.append("    提供：" + "；".join(offered))
        used = [f"名句“{c['text']}”（{c['citation']}）" for c in part["used"]["classics"]]
        used += [f"提法“{f['text']}”（{f['source']}）" for f in part["used"]["formulations"]]
        if used:
            lines.append("    用到：" + "；".join(used))
    lines.append("  五气依据（自动摘引正文句子，不含标题）：")
    for name, sentences in report["evidence"].items():
        lines.append(f"    {name}：" + (sentences[0] if sentences else "未找到"))
        lines.extend(f"      {s}" for s in sentences[1:3])
    for finding in report["checks"]:
        lines.append(f"  [提示] {finding['message']}")
    _info("\n".join(lines))


def _load_comments(path: Path) -> list[Comment]:
    from drafting.writing.revise import WRITER

    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if isinstance(raw, dict):
        raw = raw.get("comments", [])
    out = []
    for i, c in enumerate(raw):
        if isinstance(c, str):
            c = {"text": c}
        out.append(
            Comment(
                id=str(c.get("id") or f"w{i + 1}"),
                author=str(c.get("author") or WRITER),
                text=str(c["text"]),
                paragraph=int(c.get("paragraph", 0)) - 1 if c.get("paragraph") else -1,
                quote=str(c.get("quote") or ""),
                status=CommentStatus(c.get("status", "accepted")),
                origin=CommentOrigin(c["origin"]) if c.get("origin") in {o.value for o in CommentOrigin} else None,
            )
        )
    return out


def _save_proposals(path: Path, proposals: list[Comment]) -> bool:
    """Proposals as a comments file the writer edits (status: accepted / rejected) and passes back."""
    from drafting.checks.revise_checks import origin_of

    rows = [
        {
            "id": c.id,
            "author": c.author,
            "origin": origin_of(c).value,
            "text": c.text,
            **({"paragraph": c.paragraph + 1} if c.paragraph >= 0 else {}),
            **({"quote": c.quote} if c.quote else {}),
            **({"note": c.note} if c.note else {}),
            "status": c.status.value,
        }
        for c in proposals
    ]
    try:
        path.write_text(yaml.safe_dump(rows, allow_unicode=True, sort_keys=False), encoding="utf-8")
    except OSError as err:
        _err(f"无法写入 {path}：{err}")
        return False
    return True


def _defects_line(version: Version) -> str:
    from drafting.checks.revise_checks import count_label

    kinds = [k for k in version.defects_before if version.defects_before[k] or version.defects_after.get(k)]
    if not kinds:
        return "  自动检查：修改前后均未发现问题"
    shown = "，".join(f"{count_label(k)} {version.defects_before[k]}→{version.defects_after.get(k, 0)}" for k in kinds)
    before, after = sum(version.defects_before.values()), sum(version.defects_after.values())
    return f"  自动检查（修改前→修改后）：共 {before}→{after} 处；{shown}"


def _round_lines(version: Version) -> list[str]:
    """横到边/纵到底 before and after, and what was not applied: the round's report as lines."""
    report = version.report
    if report is None:
        return []
    was, now = version.number - 1, version.number
    lines = [f"  横到边（任务要点，第{was}稿 → 第{now}稿）："]
    lines += [f"    {p.point}：{p.before} → {p.after}" for p in report.points]
    with_before = sum(1 for p in report.principles if p.before)
    with_after = sum(1 for p in report.principles if p.after)
    lines.append(f"  五气有据（第{was}稿 → 第{now}稿）：{with_before}/5 → {with_after}/5")
    lines += [f"    {p.principle}：{len(p.before)} 句 → {len(p.after)} 句" for p in report.principles]
    lines += [f"  重写：{r}" for r in report.retried]
    lines += [f"  未采用的意见（{c.author}）：{c.text}——{c.note}" for c in report.not_applied]
    return lines


def _revise_target(arg: str, workspace: Any) -> tuple[str, int | None, list[Version]]:
    """The project and version a revise runs on: a draft JSON (written by draft/revise) names its
    project; one that does not (or whose project is gone) becomes a new project; else ``arg`` is a
    project id. Returns the project id, the version to revise (None: the newest) and earlier versions."""
    from drafting.errors import WorkspaceError

    path = Path(arg)
    if not path.is_file():
        try:
            workspace.load(arg)
        except WorkspaceError as err:
            raise DraftingError(f"找不到稿件文件或项目：{arg}") from err
        return arg, None, []
    brief, passages, draft, versions = _load_payload(path)
    pid = str(json.loads(path.read_text(encoding="utf-8")).get("project") or "")
    try:
        saved = workspace.load(pid).versions if pid else []
    except WorkspaceError:
        saved = []
    match = next((v for v in saved if v.number == draft.version and v.draft.body_text == draft.body_text), None)
    if match is not None:
        return pid, match.number, versions
    _guard(brief)  # marked text is refused before it is stored
    pid = workspace.create_project(brief)
    workspace.save_brief(pid, brief)
    workspace.save_passages(pid, passages)
    workspace.save_outline(pid, draft.outline)
    workspace.add_version(pid, Version(number=draft.version, draft=draft, mode=brief.mode, note=f"从 {path.name} 载入"))
    workspace.save_working(pid, draft)
    _info(f"[项目] {path.name} 没有对应的项目，已建项目 {pid}")
    return pid, draft.version, versions


def cmd_revise(args: argparse.Namespace) -> int:
    """One revision round through the pipeline (comments, the version and its report are saved)."""
    from drafting.checks.revise_checks import rank_comments
    from drafting.workspace import open_workspace
    from drafting.writing.brief import mode_of
    from drafting.writing.pipeline import run_proposals, run_revision

    workspace = open_workspace(get_settings())
    comments = _load_comments(Path(args.comments)) if args.comments else None
    pid, base, versions = _revise_target(args.draft, workspace)
    mode = mode_of(args.mode)
    brief = workspace.load(pid).brief
    if brief is not None:
        _guard(brief, comments)
    for text in (x.strip() for x in args.lock):
        if text:
            workspace.lock(pid, text)
    llm = _llm()
    if mode is RevisionMode.SLOW and comments is None and not args.accept_all:
        # 慢稿 first proposes; the writer decides which proposals to take (nothing is applied now).
        proposals = run_proposals(workspace, pid, llm=llm, base=base)
        path = Path(args.out).with_suffix(".comments.yaml")
        if not _save_proposals(path, proposals):
            return EXIT_INPUT
        _info(f"[慢稿] 修改意见 {len(proposals)} 条（尚未采纳，稿子未改动；领导批注排在最前）→ {path}")
        for i, c in enumerate(proposals, 1):
            where = f"第{c.paragraph + 1}段" if c.paragraph >= 0 else "全文"
            quoted = f"“{c.quote[:30]}”" if c.quote else ""
            note = f"（{c.note}）" if c.note else ""
            print(f"{i}. [{c.author}] {where}{quoted}：{c.text}{note}")
        _info(
            f"把要采纳的意见 status 改为 accepted 后运行：drafting revise {args.draft} --comments {path} --out {args.out}；"
            "或加 --accept-all 全部采纳。"
        )
        return EXIT_OK
    # A comments file is the writer's decision: the reviewers are not asked again.
    version = run_revision(
        workspace,
        pid,
        llm=llm,
        mode=mode,
        comments=comments,
        accept_all=args.accept_all,
        reviewers=comments is None,
        base=base,
    )
    new = version.draft
    considered = workspace.comments(pid, base if base is not None else version.number - 1)
    payload = _payload(new.brief, workspace.load(pid).passages, new, None, [*versions, version])
    payload["project"] = pid
    payload["diff"] = version.diff
    payload["addressed"] = [c.model_dump(mode="json") for c in version.addressed]
    payload["coverage"] = version.coverage
    payload["comments"] = [c.model_dump(mode="json") for c in rank_comments(considered)]
    payload["defects_before"] = version.defects_before
    payload["defects_after"] = version.defects_after
    payload["report"] = version.report.model_dump(mode="json") if version.report else None
    code = EXIT_OK if _write_json(Path(args.out), payload) else EXIT_INPUT
    if args.docx and not _export(new, Path(args.docx), args):
        code = code or EXIT_INPUT
    _info(
        f"[修改] 第{version.number}稿：采用意见 {len(version.addressed)} 条，{new.char_count} 字 → {args.out}；项目 {pid}"
    )
    _info(_defects_line(version))
    for why in version.kept_parts:
        _info(f"  {why}")
    for line in _round_lines(version):
        _info(line)
    return code


def cmd_check_docx(args: argparse.Namespace) -> int:
    from drafting.docx.check import check_docx, conforms, format_findings

    path = Path(args.file)
    if not path.is_file():
        _err(f"找不到文件：{path}")
        return 2
    findings = check_docx(path)
    print(format_findings(findings))
    return 0 if conforms(findings) else 1


def cmd_lint(args: argparse.Namespace) -> int:
    from drafting.checks.lint import lint_text
    from drafting.corpus.ingest import read_document

    text, _ = read_document(Path(args.file))
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    title = args.title or (lines[0] if lines else "")
    body = lines[1:] if lines and lines[0] == title else lines  # the first line of a file is its title
    findings = lint_text("\n".join(body), args.genre, title=title)
    from drafting.cli_export import print_findings

    print_findings(findings, out=sys.stdout)
    if not findings:
        print("未发现问题。")
    failing = ("error", "warning") if args.strict else ("error",)
    return 1 if any(f.severity in failing for f in findings) else 0


def _kind_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--kind",
        choices=["定稿", "送审稿"],
        default=None,
        help="导出定稿或送审稿（默认：有〔待补〕时送审稿，否则定稿）",
    )
    s.add_argument("--force", action="store_true", help="有待补内容也导出定稿")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="drafting", description="文稿助手：起草讲话稿和公文")
    p.add_argument("-v", "--verbose", action="store_true", help="输出调试日志")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="把范文导入范文库")
    s.add_argument("paths", nargs="+")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("index-corpus", help="索引随附的范文（缺失或过期时）")
    s.set_defaults(func=cmd_index_corpus)

    s = sub.add_parser("search", help="检索范文")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=5)
    s.add_argument("--genre")
    s.add_argument("--year", type=int)
    s.add_argument("--method", choices=["hybrid", "dense", "keyword"], default="hybrid")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("draft", help="起草：检索 → 提纲 → 正文 → 审阅")
    s.add_argument("brief", nargs="?", help="任务书 YAML")
    s.add_argument("--request", help="只粘贴领导的要求")
    s.add_argument("--material", nargs="*", help="写作者提供的材料文件")
    s.add_argument("--mode", choices=["urgent", "slow", "急稿", "慢稿"])
    s.add_argument("--out", help="导出 .docx 或 .md")
    _kind_flags(s)
    s.add_argument("--json", help="把任务、提纲、正文、引用和开销写成 JSON")
    s.add_argument("--no-review", action="store_true", help="不做审阅评分")
    s.add_argument("--review", action="store_true", help="急稿也让模型做五气三情评分（慢稿默认评分）")
    s.set_defaults(func=cmd_draft)

    s = sub.add_parser("projects", help="列出工作区里的文稿项目")
    s.set_defaults(func=cmd_projects)

    s = sub.add_parser("share", help="团队模式：把文稿项目共享给同事（--remove 取消）")
    s.add_argument("project")
    s.add_argument("colleague", help="同事的登录名")
    s.add_argument("--remove", action="store_true")
    s.set_defaults(func=cmd_share)

    s = sub.add_parser(
        "team-up", help="团队模式试用：在本机启动 PostgreSQL、Chroma 服务和团队模式的网页，Ctrl-C 全部停止"
    )
    s.add_argument("--app-port", type=int, default=8501, help="网页端口（默认 8501）")
    s.add_argument(
        "--chroma-port", type=int, default=None, help="Chroma 服务端口（默认 DRAFTING_CHROMA_PORT，即 8000）"
    )
    s.set_defaults(func=cmd_team_up)

    s = sub.add_parser("resume", help="续写中断的稿子（已写完的部分保留）")
    s.add_argument("project", help="项目编号（见 drafting projects）")
    s.add_argument("--out", help="导出 .docx 或 .md")
    _kind_flags(s)
    s.set_defaults(func=cmd_resume)

    s = sub.add_parser("review", help="审阅稿件（五气三情评分和自动检查）")
    s.add_argument("draft", help="draft 命令写出的 JSON")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_review)

    s = sub.add_parser("revise", help="修改稿件，生成下一稿")
    s.add_argument("draft", help="draft/revise 命令写出的 JSON，或项目编号")
    s.add_argument("--mode", choices=["urgent", "slow", "急稿", "慢稿"], default="slow")
    s.add_argument("--comments", help="撰稿人意见 YAML")
    s.add_argument("--lock", action="append", default=[], help="锁定的句子（可多次），修改时一字不改")
    s.add_argument("--accept-all", action="store_true", help="慢稿：全部采纳修改意见（否则只提出意见，由撰稿人定夺）")
    s.add_argument("--out", required=True)
    s.add_argument("--docx", help="同时导出 .docx")
    _kind_flags(s)
    s.set_defaults(func=cmd_revise)

    s = sub.add_parser("check-docx", help="按 GB/T 9704-2012 检查 .docx 版式")
    s.add_argument("file")
    s.set_defaults(func=cmd_check_docx)

    s = sub.add_parser("lint", help="公文文种规范检查")
    s.add_argument("file")
    s.add_argument("--genre", required=True)
    s.add_argument("--title")
    s.add_argument("--strict", action="store_true", help="有警告也返回非零")
    s.set_defaults(func=cmd_lint)

    from drafting.cli_export import add_commands

    add_commands(sub)
    from drafting.cli_facts import add_commands as add_fact_commands

    add_fact_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except ClassifiedError as err:
        _err(str(err))
        return EXIT_CLASSIFIED
    except (ProviderError, ModelOutputError) as err:
        _err(str(err))
        return EXIT_MODEL
    except DraftingError as err:
        _err(str(err))
        return EXIT_INPUT
    except KeyboardInterrupt:
        _err("已中断；已写好的部分保存在工作区（drafting projects 列出项目，drafting resume 项目编号 继续）。")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a user; -v logs it
        log.debug("internal error", exc_info=True)
        _err(f"程序内部错误（{type(exc).__name__}: {exc}）。请加 -v 重新运行查看详细信息，并把输出反馈给维护者。")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
