"""Command line for the writer's control over the document: 定稿 / 送审稿 exports (lint before a
定稿), a leader's edited .docx read back as the next version, locked sentences.

drafting export PROJECT --kind 定稿|送审稿 --out x.docx [--force] [--version N]
drafting import-edited PROJECT edited.docx [--json] [--no-lock]
drafting lock PROJECT "句子" | drafting unlock PROJECT "句子" | drafting locks PROJECT
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drafting.config import get_settings
from drafting.domain import CheckFinding, Comment, Draft
from drafting.errors import DraftingError

__all__ = ["add_commands", "export_to", "print_findings", "SEVERITY"]

SEVERITY = {"error": "错误", "warning": "警告", "info": "提示"}


def _info(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def print_findings(findings: Sequence[CheckFinding], *, header: str = "", out: Any = None) -> None:
    """Errors first, each as "[错误] 位置：说明"."""
    stream = out or sys.stderr
    if header and findings:
        print(header, file=stream)
    order = list(SEVERITY)
    for f in sorted(findings, key=lambda f: order.index(f.severity) if f.severity in order else 3):
        where = f"{f.position}：" if f.position else ""
        print(f"[{SEVERITY.get(f.severity, f.severity)}] {where}{f.message}（{f.rule}）", file=stream)


def export_to(
    draft: Draft, out: Path, *, kind: str = "定稿", force: bool = False, comments: Sequence[Comment] = ()
) -> None:
    """Write ``draft`` to ``out`` (.docx, or .md as Markdown); a 定稿 is linted first and its findings shown."""
    from drafting.docx.export import ExportKind, export_docx, export_markdown, preflight

    if out.suffix.lower() == ".md":
        _write_atomic(out, export_markdown(draft).encode("utf-8"))
        _info(f"[导出] {out}")
        return
    export_kind = ExportKind.of(kind)
    if export_kind is ExportKind.FINAL:
        check = preflight(draft)
        print_findings(check.findings, header=f"[体例检查] {len(check.findings)}条：")
        for note in check.notes:
            _info(f"[版式说明] {note}")
        if force and check.placeholders:
            _info("[强制导出] 以下待补内容在文档中以黄色突出显示：")
            for i, p in enumerate(check.placeholders, 1):
                _info(f"  {i}. {p}")
    _write_atomic(out, export_docx(draft, kind=export_kind, force=force, comments=comments))
    _info(f"[导出] {export_kind.value} {out}")


def _workspace() -> Any:
    from drafting.workspace import open_workspace

    return open_workspace(get_settings())


def _source(project: str, version: int | None) -> tuple[Draft, list[Comment]]:
    """A project id in the workspace, or a JSON file written by ``draft --json`` / ``revise --out``."""
    path = Path(project)
    if path.suffix.lower() == ".json" and path.is_file():
        from drafting.cli import _load_payload

        _, _, draft, _ = _load_payload(path)
        return draft, []  # the file's comments concern the version before it
    ws = _workspace()
    p = ws.load(project)
    if not p.versions and p.working is None:
        raise DraftingError("这个项目还没有稿子，无法导出。")
    if version is None:
        chosen = p.versions[-1] if p.versions else None
    else:
        chosen = next((v for v in p.versions if v.number == version), None)
        if chosen is None:
            raise DraftingError(f"项目里没有第{version}稿（现有：{'、'.join(str(v.number) for v in p.versions)}）。")
    if chosen is None:
        return p.working, []
    return chosen.draft, ws.comments(project, version=chosen.number)


def cmd_export(args: argparse.Namespace) -> int:
    draft, comments = _source(args.project, args.version)
    export_to(draft, Path(args.out), kind=args.kind or "定稿", force=args.force, comments=comments)
    return 0


def _cut(text: str, n: int = 30) -> str:
    return text if len(text) <= n else text[:n] + "……"


def cmd_import_edited(args: argparse.Namespace) -> int:
    from drafting.docx.roundtrip import import_edited

    path = Path(args.file)
    if not path.is_file():
        raise DraftingError(f"找不到文件：{path}")
    result = import_edited(_workspace(), args.project, path.read_bytes(), name=path.name, lock_edits=not args.no_lock)
    if args.json:
        print(result.model_dump_json(indent=2, exclude={"version": {"draft"}}))
        return 0
    v = result.version
    print(f"[导入] 第{v.number}稿（与第{result.base}稿比较）：{v.note}")
    for note in result.notes:
        print(f"  说明：{note}")
    for ch in result.changes:
        if ch.kind == "修改":
            print(f"  修改 第{ch.new_index + 1}段：“{_cut(ch.old)}” → “{_cut(ch.new)}”")
        elif ch.kind == "新增":
            print(f"  新增 第{ch.new_index + 1}段：“{_cut(ch.new)}”")
        else:
            print(f"  删除 原第{ch.old_index + 1}段：“{_cut(ch.old)}”")
    for c in result.comments:
        target = f"针对“{_cut(c.quote)}”" if c.quote else "针对全文"
        print(f"  批注（{c.author}，{target}）：{c.text}")
    if result.comments:
        print("  以上批注已作为待处理意见，供下一轮慢稿采纳或驳回。")
    if result.locked:
        print(f"  已锁定领导改写或新增的{len(result.locked)}段，之后的修改一字不改（drafting unlock 可解除）。")
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    ws = _workspace()
    if args.command == "lock":
        stored = ws.lock(args.project, args.text)
        print(f"已锁定：“{stored}”")
    elif args.command == "unlock":
        if not ws.unlock(args.project, args.text):
            raise DraftingError(f"没有锁定过这句话：“{args.text.strip()}”")
        print(f"已解除锁定：“{args.text.strip()}”")
    else:
        locks = ws.load(args.project).locks
        print("\n".join(f"{i}. {t}" for i, t in enumerate(locks, 1)) if locks else "这个项目没有锁定的句子。")
    return 0


def add_commands(sub: Any) -> None:
    s = sub.add_parser("export", help="导出定稿或送审稿（.docx）")
    s.add_argument("project", help="项目编号（见 drafting projects），或 draft/revise 写出的 JSON")
    s.add_argument("--kind", choices=["定稿", "送审稿"], default="定稿")
    s.add_argument("--out", required=True, help="导出 .docx（或 .md）")
    s.add_argument("--force", action="store_true", help="有待补内容也导出定稿（待补处黄色突出显示）")
    s.add_argument("--version", type=int, help="导出第几稿（默认最新）")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("import-edited", help="导入领导在Word/WPS中修改过的稿子，作为下一稿")
    s.add_argument("project", help="项目编号（见 drafting projects）")
    s.add_argument("file", help="修改后的 .docx")
    s.add_argument("--json", action="store_true", help="以 JSON 输出比较结果和批注")
    s.add_argument("--no-lock", action="store_true", help="不锁定领导改写、新增的段落")
    s.set_defaults(func=cmd_import_edited)

    for name, help_text in (("lock", "锁定一句或一段（之后的修改一字不改）"), ("unlock", "解除锁定")):
        s = sub.add_parser(name, help=help_text)
        s.add_argument("project", help="项目编号")
        s.add_argument("text", help="句子或段落原文")
        s.set_defaults(func=cmd_lock)
    s = sub.add_parser("locks", help="列出项目里锁定的句子")
    s.add_argument("project", help="项目编号")
    s.set_defaults(func=cmd_lock)
