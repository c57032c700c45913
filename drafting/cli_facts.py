"""Command line for the facts ledger (drafting.checks.ledger): list a project's facts with their sources,
confirm them, correct them or fill a 〔待补〕.

drafting facts PROJECT [--json]
drafting facts PROJECT --confirm N [N ...] | --set N 新值 | --unconfirm N
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from drafting.checks.ledger import Ledger, build_ledger, confirm, correct, project_ledger, unconfirm
from drafting.config import get_settings
from drafting.domain import Draft
from drafting.errors import DraftingError

__all__ = ["add_commands", "fact_entries", "ledger_hint", "ledger_lines"]


def ledger_lines(ledger: Ledger) -> list[str]:
    """The ledger as the CLI prints it: one line per fact, then where it is used."""
    head = f"[事实表] 第{ledger.version}稿：共{len(ledger.entries)}项，待核实{ledger.to_check}项"
    if not ledger.entries:
        return [head + "（稿中没有数字、日期、人名、地名、单位名或待补内容）"]
    lines = [head]
    for e in ledger.entries:
        times = f"{e.count}处，" if e.count > 1 else ""
        lines.append(f"{e.n:>3}. [{e.status_label}] {e.kind_label}“{e.text}”（{times}{e.where}）出处：{e.source}")
        lines.append(f"      “{e.context}”")
    lines.append(
        "确认：drafting facts 项目编号 --confirm 编号；改正或填写待补：drafting facts 项目编号 --set 编号 新值"
    )
    return lines


def fact_entries(draft: Draft) -> list[dict[str, Any]]:
    """The ledger's entries of a draft, as JSON (for ``draft --json``)."""
    return [e.model_dump(mode="json") for e in build_ledger(draft).entries]


def ledger_hint(draft: Draft, project_id: str) -> str:
    """One line after drafting: how many facts there are to check, and the command that lists them."""
    ledger = build_ledger(draft)
    if not ledger.entries:
        return "[事实表] 稿中没有数字、日期、人名、地名、单位名或待补内容。"
    return (
        f"[事实表] 共{len(ledger.entries)}项，待核实{ledger.to_check}项（数字、日期、人名、地名、单位、待补）："
        f"drafting facts {project_id} 查看出处、确认或改正"
    )


def _number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DraftingError(f"编号应是事实表里的序号（数字），而不是“{value}”。") from None


def cmd_facts(args: argparse.Namespace) -> int:
    from drafting.workspace import open_workspace

    ws = open_workspace(get_settings())
    done: dict[str, Any] = {}
    messages: list[str] = []
    if args.set:
        result = correct(ws, args.project, _number(args.set[0]), args.set[1])
        done = {"set": result.model_dump(mode="json", exclude={"version": {"draft"}})}
        messages.append(
            f"[改正] 第{result.version.number}稿：“{result.entry.text}”改为“{result.value}”，共{result.count}处；已确认。"
        )
        messages += [f"  锁定的句子随之更新：“{lk}”" for lk in result.locks]
    elif args.confirm:
        entries = confirm(ws, args.project, [_number(n) for n in args.confirm])
        done = {"confirmed": [e.model_dump(mode="json") for e in entries]}
        messages += [f"[确认] 第{e.n}项 {e.kind_label}“{e.text}”" for e in entries]
    elif args.unconfirm:
        entry = unconfirm(ws, args.project, _number(args.unconfirm))
        done = {"unconfirmed": entry.model_dump(mode="json")}
        messages.append(f"[取消确认] 第{entry.n}项 {entry.kind_label}“{entry.text}”")
    ledger = project_ledger(ws, args.project)
    if args.json:
        print(json.dumps({**done, "ledger": ledger.model_dump(mode="json")}, ensure_ascii=False, indent=2))
        return 0
    print("\n".join([*messages, *ledger_lines(ledger)]))
    return 0


def add_commands(sub: Any) -> None:
    s = sub.add_parser("facts", help="事实表：稿中的数字、日期、人名、地名、单位及其出处，确认或改正")
    s.add_argument("project", help="项目编号（见 drafting projects）")
    group = s.add_mutually_exclusive_group()
    group.add_argument("--confirm", nargs="+", metavar="N", help="确认第 N 项（可多项）")
    group.add_argument("--set", nargs=2, metavar=("N", "新值"), help="把第 N 项改为新值（全文每处都改），或填写待补")
    group.add_argument("--unconfirm", metavar="N", help="取消对第 N 项的确认")
    s.add_argument("--json", action="store_true", help="以 JSON 输出")
    s.set_defaults(func=cmd_facts)
