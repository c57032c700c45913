"""The facts ledger on the page (正文 step): every figure, date, person, place and organisation of the
newest version with its source and status; the writer confirms a fact, corrects it everywhere, or fills
a 〔待补〕. Widgets -> drafting.ledger -> render; nothing else."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from drafting.checks.ledger import PLACEHOLDER_KIND, FactStatus, Ledger, LedgerEntry, confirm, correct, project_ledger
from drafting.ui import state as S
from drafting.ui import views as V
from drafting.workspace import Project, Workspace

__all__ = ["section_ledger", "ledger_rows"]

LEDGER_PICK = "ledger_pick"


def ledger_rows(ledger: Ledger) -> list[dict[str, object]]:
    """The table as the page shows it (the same columns as ``drafting facts``)."""
    return [
        {
            "编号": e.n,
            "状态": e.status_label,
            "类别": e.kind_label,
            "内容": e.text,
            "出处": e.source,
            "位置": e.where + (f"（{e.count}处）" if e.count > 1 else ""),
            "原句": e.context,
        }
        for e in ledger.entries
    ]


def _label(e: LedgerEntry) -> str:
    return f"{e.n}. [{e.status_label}] {e.kind_label}“{e.text}”"


def _done(message: str) -> None:
    S.flash("success", message)
    st.rerun()


def section_ledger(ws: Workspace, project: Project) -> None:
    """The ledger of the project's newest version, with confirm / correct / fill."""
    if not project.versions:
        return
    ledger, err = S.attempt(project_ledger, ws, project.id)
    st.markdown("#### 事实核对")
    if err or ledger is None:
        st.error(V.md_text(err or S.GENERIC_ERROR))
        return
    if not ledger.entries:
        st.caption("稿中没有数字、日期、人名、地名、单位名或待补内容。")
        return
    st.caption(
        V.md_text(
            f"第{ledger.version}稿共 {len(ledger.entries)} 项，待核实 {ledger.to_check} 项。"
            "确认过或改过的事实，之后的修改一字不改；改正时全文每一处都改，形成新的一稿。"
        )
    )
    st.dataframe(pd.DataFrame(ledger_rows(ledger)), hide_index=True, width="stretch", key=f"ledger_{ledger.version}")
    by_label = {_label(e): e for e in ledger.entries}
    pick = st.selectbox("核对哪一项", list(by_label), key=f"{LEDGER_PICK}_{ledger.version}")
    entry = by_label.get(pick or "")
    if entry is None:
        return
    filling = entry.kind == PLACEHOLDER_KIND
    row = st.container(horizontal=True, vertical_alignment="bottom")
    value = row.text_input(
        "填写" if filling else "改为",
        key=f"ledger_value_{ledger.version}_{entry.n}",
        placeholder="填写内容" if filling else entry.text,
    )
    if row.button("填写" if filling else "改正（全文每处都改）", key="ledger_set", disabled=not (value or "").strip()):
        result, err = S.attempt(correct, ws, project.id, entry.n, value or "", expect=entry.text)
        if err or result is None:
            st.error(V.md_text(err or S.GENERIC_ERROR))
        else:
            _done(
                f"“{result.entry.text}”已改为“{result.value}”，共 {result.count} 处，形成第{result.version.number}稿。"
            )
    if not filling and entry.status is FactStatus.TO_CHECK and row.button("确认无误", key="ledger_confirm"):
        _, err = S.attempt(confirm, ws, project.id, [entry.n])
        if err:
            st.error(V.md_text(err))
        else:
            _done(f"已确认：{entry.kind_label}“{entry.text}”。")
