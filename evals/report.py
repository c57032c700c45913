"""Turn result rows into report.md and chart.png. Pure formatting: rows in, text/bytes out."""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence
from typing import Any

__all__ = [
    "METRICS",
    "SYSTEM_LABELS",
    "DEFECT_LABELS",
    "means",
    "defect_summary",
    "slow_rounds",
    "render_report",
    "render_chart",
    "cjk_font",
    "evidence_shares",
    "length_min",
    "slow_summary",
]

log = logging.getLogger(__name__)

# (row key, Chinese label, ASCII label for the chart fallback, higher is better)
METRICS: tuple[tuple[str, str, str, bool], ...] = (
    ("defects_total", "缺陷数(每篇)", "defects per draft", False),
    ("placeholders", "待补占位(每篇)", "placeholders", False),
    ("length_score", "篇幅得分(0-100)", "length score", True),
    ("genre_correct", "文种正确率", "genre accuracy", True),
    ("evidence_coverage", "五气有据数(0-5)", "principles with evidence", True),
    ("adherence", "提纲符合度", "outline adherence", True),
    ("coverage", "要点覆盖率", "key-point coverage", True),
    ("grounding", "引文支撑率", "citation grounding", True),
    ("violations", "体例问题数", "check findings", False),
    ("calls", "调用次数", "calls", False),
    ("tokens_in", "输入词元", "tokens in", False),
    ("tokens_out", "输出词元", "tokens out", False),
    ("seconds", "耗时(秒)", "seconds", False),
    ("principles_mean", "五气均分(1-10)", "principles (1-10)", True),
    ("stances_mean", "三情均分(1-10)", "stances (1-10)", True),
)
JUDGE_KEYS = frozenset({"principles_mean", "stances_mean"})
DEFECT_LABELS: dict[str, tuple[str, str]] = {
    "transplanted_fact": ("移植的事实（范文里的数字、人名、地名等）", "transplanted fact"),
    "unsourced_fact": ("无来源的事实", "unsourced fact"),
    "copied_run": ("照抄范文的长句（≥30字）", "copied run"),
    "fragment": ("残句、半截句", "fragment"),
    "repeat": ("重复的标题或句子", "repeat"),
    "leaked": ("泄漏的提示词/提纲/任务书文字", "leaked text"),
    "register": ("语体不当", "register"),
    "numbering": ("标题编号错误", "numbering"),
}
CRITERIA_KEYS = ("通天气", "接地气", "聚人气", "溢才气", "显霸气", "动之以情", "晓之以理", "孚之以威")
SYSTEM_LABELS = {"urgent": "急稿流程", "slow": "急稿+慢稿一轮", "baseline": "一次成稿基线", "previous": "上一版本"}
CHART_METRICS = (
    "length_score",
    "genre_correct",
    "placeholders",
    "coverage",
    "grounding",
    "seconds",
)
# Short names under the chart's bars, so four systems' labels do not run into each other.
CHART_LABELS = {"urgent": "急稿", "slow": "急稿+慢稿", "baseline": "一次成稿", "previous": "上一版本"}
PRINCIPLE_NAMES = ("通天气", "接地气", "聚人气", "溢才气", "显霸气")
PRINCIPLE_ASCII = ("policy", "local", "audience", "classics", "firm")
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei")


def means(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """Per system, the mean of every metric over the rows where it applies (N/A and failures left out)."""
    out: dict[str, dict[str, float | None]] = {}
    for system in systems:
        mine = [r for r in rows if r["system"] == system and not r.get("error")]
        out[system] = {}
        for key in [m[0] for m in METRICS] + list(CRITERIA_KEYS):
            values = [float(r[key]) for r in mine if r.get(key) is not None]
            out[system][key] = round(sum(values) / len(values), 3) if values else None
        out[system]["n"] = len(mine)
        out[system]["failed"] = sum(1 for r in rows if r["system"] == system and r.get("error"))
    return out


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or value == "":
        return "N/A"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    return str(value)


def _cell(text: Any) -> str:
    return str(text).replace("|", "｜").replace("\n", " ")


def _label(system: str) -> str:
    return SYSTEM_LABELS.get(system, system)


def _ok(rows: Sequence[dict[str, Any]], system: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["system"] == system and not r.get("error")]


def defect_summary(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per system: ``kinds`` {kind: (mean per draft, total)}, ``zero`` drafts without defects, ``n`` drafts counted.

    Only drafts the gate checked count (``defects`` not None); ``n`` is 0 when there was no gate.
    """
    kinds = list(DEFECT_LABELS)
    for r in rows:
        kinds += [k for k in r.get("defects") or {} if k not in kinds]
    out: dict[str, dict[str, Any]] = {}
    for system in systems:
        checked = [r for r in _ok(rows, system) if r.get("defects") is not None]
        n = len(checked)
        totals = {k: sum(int(r["defects"].get(k, 0)) for r in checked) for k in kinds}
        out[system] = {
            "n": n,
            "zero": sum(1 for r in checked if not r.get("defects_total")),
            "kinds": {k: (totals[k] / n if n else None, totals[k]) for k in kinds},
            "total": sum(totals.values()),
        }
    return out


def slow_rounds(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a revision round (they carry ``*_before``), for the before/after table."""
    return [r for r in rows if not r.get("error") and "chars_before" in r]


def evidence_shares(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """Per system and principle: the share of drafts whose deterministic evidence has a body sentence for it.

    Only drafts the evidence was computed on count (``evidence_coverage`` not None); None when none was.
    """
    out: dict[str, dict[str, float | None]] = {}
    for system in systems:
        measured = [r for r in _ok(rows, system) if r.get("evidence_coverage") is not None]
        out[system] = {
            p: (sum(1 for r in measured if p in (r.get("evidence_principles") or [])) / len(measured))
            if measured
            else None
            for p in PRINCIPLE_NAMES
        }
        out[system]["n"] = float(len(measured))
    return out


def length_min(rows: Sequence[dict[str, Any]], system: str) -> float | None:
    values = [float(r["length_score"]) for r in _ok(rows, system) if r.get("length_score") is not None]
    return min(values) if values else None


def slow_summary(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Issue 13's measure over the 慢稿 rounds: rounds counted, version 2 worse than version 1 (more
    defects by the same count), and rounds whose version 2 has leaked brief fields or reference blocks."""
    rounds = slow_rounds(rows)
    judged = [r for r in rounds if r.get("worse") is not None]
    return {
        "rounds": len(rounds),
        "judged": len(judged),
        "worse": sum(1 for r in judged if r["worse"]),
        "fewer": sum(1 for r in judged if (r.get("defects_total") or 0) < (r.get("defects_total_before") or 0)),
        "brief_fields": sum(1 for r in rounds if r.get("leaked_brief_fields")),
        "reference_blocks": sum(1 for r in rounds if r.get("leaked_reference_blocks")),
        "evidence_lost": sum(
            1
            for r in rounds
            if r.get("evidence_coverage") is not None
            and r.get("evidence_coverage_before") is not None
            and r["evidence_coverage"] < r["evidence_coverage_before"]
        ),
    }


def _principle_marks(row: dict[str, Any]) -> str:
    """The per-brief evidence cell: the count, then the first character of each principle found (通接聚溢显)."""
    if row.get("evidence_coverage") is None:
        return "N/A"
    found = row.get("evidence_principles") or []
    return f"{row['evidence_coverage']}（{''.join(p[0] for p in PRINCIPLE_NAMES if p in found) or '无'}）"


def _has_judge(rows: Sequence[dict[str, Any]]) -> bool:
    return any(r.get("principles_mean") is not None for r in rows)


def _defect_lines(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> list[str]:
    d = defect_summary(rows, systems)
    lines = ["", "## 缺陷计数（drafting.gate 确定性检查；每篇均值 / 合计）", ""]
    if not any(d[s]["n"] for s in systems):
        return [*lines, "本次运行时 drafting.gate 不可用，没有计缺陷。"]
    lines += [
        "所有系统的稿子都对照同一份任务书、同一组来源检查：本用例在评测索引上的检索结果（急稿流程交给模型的 gather_passages，加相关度门槛之前的同一检索），再加全部写作者材料；每个用例的来源存在 passages/ 下。",
        "",
        "| 缺陷 | " + " | ".join(_label(s) for s in systems) + " |",
        "|---|" + "---|" * len(systems),
    ]
    kinds = list(next(iter(d.values()))["kinds"])
    for k in kinds:
        cells = []
        for s in systems:
            mean, total = d[s]["kinds"][k]
            cells.append("N/A" if mean is None else f"{_fmt(float(mean))} / {total}")
        lines.append(f"| {DEFECT_LABELS.get(k, (k, k))[0]}（{k}） | " + " | ".join(cells) + " |")
    lines.append(
        "| **合计** | "
        + " | ".join(f"{_fmt(d[s]['total'] / d[s]['n'])} / {d[s]['total']}" if d[s]["n"] else "N/A" for s in systems)
        + " |"
    )
    lines.append("| 零缺陷稿件 | " + " | ".join(f"{d[s]['zero']}/{d[s]['n']}" for s in systems) + " |")
    splits = sorted({str(r.get("split") or "") for r in rows} - {""})
    if len(splits) > 1:
        lines += ["", "按用例分组（每篇缺陷均值 / 篇幅得分均值）：", ""]
        lines.append("| 分组 | " + " | ".join(_label(s) for s in systems) + " |")
        lines.append("|---|" + "---|" * len(systems))
        for split in splits:
            part = [r for r in rows if r.get("split") == split]
            m = means(part, systems)
            lines.append(
                f"| {split} | "
                + " | ".join(f"{_fmt(m[s]['defects_total'])} / {_fmt(m[s]['length_score'], 1)}" for s in systems)
                + " |"
            )
    return lines


def _slow_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    rounds = slow_rounds(rows)
    if not rounds:
        return []
    sm = slow_summary(rows)
    lines = [
        "",
        "## 慢稿一轮：第2稿比第1稿差的次数（议题 13）",
        "",
        f"- 第2稿缺陷多于第1稿（同一确定性计数）：**{sm['worse']}/{sm['judged']}** 轮（目标：0）；缺陷变少：{sm['fewer']} 轮。",
        f"- 第2稿里有任务书字段（“文种：”“篇幅：”等）：**{sm['brief_fields']}/{sm['rounds']}** 轮；"
        f"有参考材料块（“[n] 来源：…”）：**{sm['reference_blocks']}/{sm['rounds']}** 轮（目标：0）。",
        f"- 五气有据数下降：{sm['evidence_lost']}/{sm['rounds']} 轮。",
        "",
        "| 用例 | 缺陷 前→后 | 待补 前→后 | 要点覆盖 前→后 | 五气有据 前→后 | 任务书字段 前→后 | 参考块 前→后 | 字数 前→后 | 变差 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rounds:
        cells = [
            r["case_id"],
            f"{_fmt(r.get('defects_total_before'))}→{_fmt(r.get('defects_total'))}",
            f"{_fmt(r.get('placeholders_before'))}→{_fmt(r.get('placeholders'))}",
            f"{_fmt(r.get('coverage_before'))}→{_fmt(r.get('coverage'))}",
            f"{_fmt(r.get('evidence_coverage_before'))}→{_fmt(r.get('evidence_coverage'))}",
            f"{_fmt(r.get('leaked_brief_fields_before'))}→{_fmt(r.get('leaked_brief_fields'))}",
            f"{_fmt(r.get('leaked_reference_blocks_before'))}→{_fmt(r.get('leaked_reference_blocks'))}",
            f"{r.get('chars_before')}→{r.get('chars')}",
            "N/A" if r.get("worse") is None else ("是" if r["worse"] else "否"),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _evidence_lines(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> list[str]:
    shares = evidence_shares(rows, systems)
    lines = ["", "## 五气有据率（确定性依据：稿中有非标题句承载该“气”的稿件比例）", ""]
    if not any(shares[s]["n"] for s in systems):
        return [*lines, "本次运行时 drafting 的 principle_evidence 不可用，没有计五气依据。"]
    lines += [
        "每个系统的稿子都用本提交的 principle_evidence 判定（上一版本、一次成稿的稿子也一样），标题不算依据。",
        "",
        "| 五气 | " + " | ".join(_label(s) for s in systems) + " |",
        "|---|" + "---|" * len(systems),
    ]
    for p in PRINCIPLE_NAMES:
        cells = []
        for s in systems:
            v = shares[s][p]
            cells.append("N/A" if v is None else f"{v:.0%}（{round(v * shares[s]['n'])}/{int(shares[s]['n'])}）")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return lines


def _detail_lines(rows: Sequence[dict[str, Any]], per_draft: int = 8) -> list[str]:
    found = [r for r in rows if r.get("defect_list")]
    if not found:
        return []
    lines = ["", f"## 缺陷明细（每篇最多列 {per_draft} 条；全部见 results.jsonl 的 defect_list）", ""]
    for r in found:
        lines.append(f"- **{r['case_id']} / {_label(r['system'])}**（{len(r['defect_list'])} 条）")
        for d in r["defect_list"][:per_draft]:
            detail = f"（{_cell(d.get('detail', ''))[:60]}）" if d.get("detail") else ""
            lines.append(f"  - {d['kind']}：「{_cell(d['text'])[:80]}」{detail}")
    return lines


def render_report(
    rows: Sequence[dict[str, Any]], systems: Sequence[str], meta: dict[str, Any], *, chart: str = "chart.png"
) -> str:
    """report.md: run facts, per-system means, defect table, evidence per principle, slow rounds,
    per-brief rows, failures, definitions. ``chart`` is the chart's file name next to the report."""
    m = means(rows, systems)
    genres = {(r.get("expect_genre") or [r.get("genre")])[0] for r in rows} - {None, ""}
    n_cases = len({r["case_id"] for r in rows})
    judge = _has_judge(rows)
    lines = [
        "# 文稿质量评测报告",
        "",
        f"- 日期：{meta.get('date', '')}",
        f"- 写作模型：{meta.get('writer_model', '')}",
        f"- 评审模型：{meta.get('judge_model', '') if meta.get('judge') or judge else '未使用（--judge 未开）'}",
        f"- 机器：{meta.get('machine', '')}",
        f"- 用例：{meta.get('cases_file', '')}（本次选 {meta.get('n_cases', 0)} 篇，分组：{meta.get('split', 'all')}；"
        f"报告含 {n_cases} 篇、{len(genres)} 个文种）",
        f"- 对比系统：{'、'.join(f'{_label(s)}（{s}）' for s in systems)}",
        f"- 代码版本：{meta.get('git_commit', '')}"
        + (f"；上一版本（previous）：{meta['previous_commit']}" if meta.get("previous_commit") else ""),
        f"- 提示词版本：{meta.get('prompt_versions', '')}",
    ]
    if meta.get("slow_limit") is not None:
        lines.append(f"- 慢稿一轮只跑前 {meta['slow_limit']} 篇（--slow-limit），在其余系统跑完之后")
    if meta.get("first_started") and meta.get("first_started") != meta.get("date"):
        lines.append(f"- 续跑：本目录首次开跑于 {meta['first_started']}")
    if meta.get("earlier_commits"):
        lines.append(f"- 注意：部分结果来自更早的提交 {'、'.join(meta['earlier_commits'])}")
    if meta.get("reproduce"):
        at = f"提交 {meta['git_commit']}" if meta.get("git_commit") else "同一提交"
        lines += [
            "",
            f"复现（检出{at}，同一模型服务；同一 --run-dir 再跑一次即续跑，已完成的跳过）：",
            "",
            "```bash",
            str(meta["reproduce"]),
            "```",
        ]
    lines += ["", f"![各系统平均指标]({chart})"]
    lines += [
        "",
        "## 各系统平均值",
        "",
        "| 指标 | " + " | ".join(_label(s) for s in systems) + " |",
        "|---|" + "---|" * len(systems),
    ]
    for key, label, _, better in METRICS:
        if key in JUDGE_KEYS and not judge:
            continue
        arrow = "↑" if better else "↓"
        lines.append(f"| {label} {arrow} | " + " | ".join(_fmt(m[s][key]) for s in systems) + " |")
    lines.append("| 篇幅得分最低 ↑ | " + " | ".join(_fmt(length_min(rows, s), 1) for s in systems) + " |")
    shares = evidence_shares(rows, systems)
    for p in PRINCIPLE_NAMES:
        lines.append(f"| 有据率·{p} ↑ | " + " | ".join(_fmt(shares[s][p]) for s in systems) + " |")
    if "slow" in systems and slow_rounds(rows):
        sm = slow_summary(rows)
        worse = f"{sm['worse']}/{sm['judged']}"
        leaks = f"{sm['brief_fields']}/{sm['rounds']} / {sm['reference_blocks']}/{sm['rounds']}"
        lines.append(
            "| 慢稿第2稿比第1稿差（轮）↓ | " + " | ".join(worse if s == "slow" else "" for s in systems) + " |"
        )
        lines.append(
            "| 慢稿第2稿含任务书字段 / 参考块（轮）↓ | "
            + " | ".join(leaks if s == "slow" else "" for s in systems)
            + " |"
        )
    lines.append("| 成功/失败篇数 | " + " | ".join(f"{m[s]['n']}/{m[s]['failed']}" for s in systems) + " |")
    lines += _defect_lines(rows, systems)
    lines += _evidence_lines(rows, systems)
    lines += _slow_lines(rows)
    if judge:
        lines += ["", "## 五气三情分项平均（评审模型打分，1-10）", ""]
        lines.append("| 评分项 | " + " | ".join(_label(s) for s in systems) + " |")
        lines.append("|---|" + "---|" * len(systems))
        for key in CRITERIA_KEYS:
            lines.append(f"| {key} | " + " | ".join(_fmt(m[s][key]) for s in systems) + " |")
    lines += [
        "",
        "## 逐篇结果",
        "",
        "| 用例 | 分组 | 应为文种 | 系统 | 所用文种 | 字数/目标 | 篇幅得分 | 缺陷 | 待补 | 五气有据 | 要点覆盖率 | 引文支撑率 | 调用 | 耗时(秒) | 备注 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        note = r.get("error") or r.get("judge_error") or r.get("note") or ""
        genre = r.get("draft_genre", "")
        if r.get("genre_correct") is False:
            genre = f"{genre} ✗"
        cells = (
            r["case_id"],
            r.get("split", ""),
            "/".join(r.get("expect_genre") or []) or r.get("genre", ""),
            _label(r["system"]),
            genre,
            f"{_fmt(r.get('chars'))}/{r.get('target', '')}",
            _fmt(r.get("length_score"), 1),
            _fmt(r.get("defects_total")),
            _fmt(r.get("placeholders")),
            _principle_marks(r),
            _fmt(r.get("coverage")),
            _fmt(r.get("grounding")),
            _fmt(r.get("calls")),
            _fmt(r.get("seconds"), 1),
            note[:80],
        )
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    failures = [r for r in rows if r.get("error")]
    if failures:
        lines += ["", "## 失败记录", ""]
        lines += [f"- {r['case_id']} / {r['system']}：{_cell(r['error'])}" for r in failures]
    lines += _detail_lines(rows)
    lines += [
        "",
        "## 指标说明",
        "",
        "- 缺陷数：drafting.gate.find_defects 在“标题 + 正文”上找到的缺陷条数，按类计数：移植事实（范文里的数字、百分比、日期、人名、地名、机构名出现在稿中，却不在任务书、材料里）、无来源事实、照抄范文 30 字以上的长句、残句、重复的标题或句子、泄漏的提示词/提纲/任务书文字、语体不当、标题编号错误。确定性检查，不用模型。",
        f"- 待补占位：稿中“〔待补：…〕”的个数（正则 {meta.get('placeholder_pattern', '〔待补：[^〕]*〕')}）；缺事实时写占位而不是编数字，占位多说明材料不够，不算缺陷。",
        "- 篇幅得分：LongBench-Write 公式，y 为正文汉字数、x 为任务书的目标字数；y>x 时 100·max(0, 1−(y/x−1)/3)，否则 100·max(0, 1−(x/y−1)/2)。",
        "- 文种正确率：系统实际采用的文种（稿子所带任务书的 genre）属于用例 expect_genre 的比例；只给“领导交代”的用例要系统自己判断文种。",
        "- 五气有据数 / 有据率：本提交的 drafting review 模块 principle_evidence（确定性，不用模型；标题不算）在稿中找到至少一句依据的“气”的个数（0-5），有据率是某一“气”有依据的稿件比例；逐篇表里括号中是找到的“气”的首字（通接聚溢显）。每个系统的稿子都用同一份代码判定。",
        f"- 提纲符合度：提纲各一级标题在稿中出现（某行与标题的字二元组重合度 ≥ {meta.get('heading_match', 0.6)}）且顺序一致的比例；基线用同一轮急稿流程的提纲衡量，没有则记 N/A。",
        "- 要点覆盖率：任务书要点中被某一段落覆盖（要点字二元组至少一半出现在该段）的比例（drafting.revise.coverage_map）。",
        f"- 引文支撑率：带 [n] 标注的句子中，所引材料包含该句至少 {meta.get('grounding_threshold', 0.2)} 的字二元组的比例；不引用的稿子记 N/A。",
        "- 体例问题数：自动检查（篇幅、标题层级、重复句、空段/薄段、未核实数字、体例 lint）中严重程度为 error 或 warning 的条数。",
        "- 五气/三情均分：只在 --judge 时由评审模型打 1-10 分（drafting.review.score_draft）；1.5B 评审模型几乎给什么都打 8 分左右，只宜作参考。",
        "- 调用次数、词元、耗时：写作模型的开销（不含评审打分）；慢稿一轮的开销包含其急稿初稿；上一版本的开销取自它自己的 JSON。",
        "- 慢稿前后：同一初稿（第1稿）在一轮修改前后的上述确定性指标；“变差”指第2稿的缺陷总数多于第1稿；任务书字段指以“文种：”“标题：”“篇幅：”等开头（或一行里有两个以上）的行，参考块指“[n] 来源：”。",
        "- 篇幅得分最低：各篇篇幅得分中的最低值（验收要求每篇 ≥ 85）。",
        "",
    ]
    return "\n".join(lines)


def cjk_font() -> str | None:
    """The first installed CJK-capable font family, or None."""
    from matplotlib import font_manager

    for name in CJK_FONTS:
        try:
            font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
        except ValueError:
            continue
        return name
    return None


_COLORS = ["#3b6ea8", "#d9822b", "#7a7a7a", "#4f9a5b", "#a64d79", "#c23b22", "#8c6d31", "#17becf"]


def _evidence_panel(
    ax: Any, rows: Sequence[dict[str, Any]], systems: Sequence[str], names: list[str], font: str | None
) -> None:
    """Grouped bars: per principle, each system's share of drafts with evidence (0-1)."""
    ff = {"fontfamily": font} if font else {}
    shares = evidence_shares(rows, systems)
    width = 0.8 / max(len(systems), 1)
    for i, system in enumerate(systems):
        xs = [j + (i - (len(systems) - 1) / 2) * width for j in range(len(PRINCIPLE_NAMES))]
        heights = [shares[system][p] or 0.0 for p in PRINCIPLE_NAMES]
        ax.bar(xs, heights, width=width, color=_COLORS[i % len(_COLORS)], label=names[i])
    if not any(shares[s]["n"] for s in systems):
        ax.annotate("N/A", (0.5, 0.5), xycoords="axes fraction", ha="center", fontsize=10)
    ax.set_ylim(0, 1.1)
    ax.set_xticks(range(len(PRINCIPLE_NAMES)))
    ax.set_xticklabels(list(PRINCIPLE_NAMES if font else PRINCIPLE_ASCII), fontsize=8, **ff)
    ax.set_title("五气有据率（稿件比例）" if font else "evidence share per principle", fontsize=10, **ff)
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=min(len(systems), 4),
        fontsize=6,
        frameon=False,
        prop={"family": font, "size": 6} if font else None,
    )


def render_chart(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> bytes:
    """chart.png: defects per draft by kind (stacked), then one panel per metric (system means).

    ASCII labels when no CJK font is installed; judge scores get panels only when they were taken.
    """
    from matplotlib.figure import Figure

    m = means(rows, systems)
    d = defect_summary(rows, systems)
    font = cjk_font()
    ff = {"fontfamily": font} if font else {}
    labels = {k: (cn if font else en) for k, cn, en, _ in METRICS}
    names = [CHART_LABELS.get(s, _label(s)) if font else s for s in systems]
    keys = list(CHART_METRICS) + (["principles_mean", "stances_mean"] if _has_judge(rows) else [])
    n_panels = 2 + len(keys)
    cols = 4
    rows_n = (n_panels + cols - 1) // cols
    with warnings.catch_warnings():
        # A missing glyph must never stop a run that has already spent its model time.
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(3.4 * cols, 3.5 * rows_n), dpi=110)
        axes = list(fig.subplots(rows_n, cols).flat)
        ax = axes[0]
        bottom = [0.0] * len(systems)
        for i, kind in enumerate(DEFECT_LABELS):
            heights = [float(d[s]["kinds"].get(kind, (None, 0))[0] or 0.0) for s in systems]
            if not any(heights):
                continue
            label = DEFECT_LABELS[kind][0 if font else 1].split("（")[0]
            ax.bar(range(len(systems)), heights, bottom=bottom, color=_COLORS[i % len(_COLORS)], label=label)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        for x, total in enumerate(bottom):
            has = d[systems[x]]["n"] > 0
            ax.annotate(
                f"{total:.2f}".rstrip("0").rstrip(".") if has else "N/A",
                (x, total),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_title("每篇缺陷数（按类）" if font else "defects per draft", fontsize=10, **ff)
        ax.set_xticks(range(len(systems)))
        ax.set_xticklabels(names, fontsize=8, **ff)
        if ax.get_legend_handles_labels()[0]:
            # Below the panel, so it never hides a bar.
            ax.legend(
                loc="upper center",
                bbox_to_anchor=(0.5, -0.12),
                ncol=2,
                fontsize=6,
                frameon=False,
                prop={"family": font, "size": 6} if font else None,
            )
        ax.margins(y=0.15)
        _evidence_panel(axes[1], rows, systems, names, font)
        for ax, key in zip(axes[2:], keys, strict=False):
            values = [m[s][key] for s in systems]
            heights = [v if v is not None else 0.0 for v in values]
            bars = ax.bar(range(len(systems)), heights, color=_COLORS[: len(systems)])
            for bar, v in zip(bars, values, strict=True):
                ax.annotate(
                    "N/A" if v is None else f"{v:.2f}".rstrip("0").rstrip("."),
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    **ff,
                )
            ax.set_title(labels[key], fontsize=10, **ff)
            ax.set_xticks(range(len(systems)))
            ax.set_xticklabels(names, fontsize=8, **ff)
            ax.margins(y=0.15)
        for ax in axes[n_panels:]:
            ax.set_visible(False)
        title = "各系统平均指标（缺陷、待补、耗时越低越好，其余越高越好）" if font else "Means per system"
        fig.suptitle(title, fontsize=12, **ff)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()
