"""Turn result rows into report.md and chart.png. Pure formatting: rows in, text/bytes out."""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence
from typing import Any

__all__ = ["METRICS", "SYSTEM_LABELS", "means", "render_report", "render_chart", "cjk_font"]

log = logging.getLogger(__name__)

# (row key, Chinese label, ASCII label for the chart fallback, higher is better)
METRICS: tuple[tuple[str, str, str, bool], ...] = (
    ("principles_mean", "五气均分(1-10)", "principles (1-10)", True),
    ("stances_mean", "三情均分(1-10)", "stances (1-10)", True),
    ("length_score", "篇幅得分(0-100)", "length score", True),
    ("adherence", "提纲符合度", "outline adherence", True),
    ("coverage", "要点覆盖率", "key-point coverage", True),
    ("grounding", "引文支撑率", "citation grounding", True),
    ("violations", "体例问题数", "check findings", False),
    ("calls", "调用次数", "calls", False),
    ("tokens_in", "输入词元", "tokens in", False),
    ("tokens_out", "输出词元", "tokens out", False),
    ("seconds", "耗时(秒)", "seconds", False),
)
CRITERIA_KEYS = ("通天气", "接地气", "聚人气", "溢才气", "显霸气", "动之以情", "晓之以理", "孚之以威")
SYSTEM_LABELS = {"urgent": "急稿流程", "slow": "急稿+慢稿一轮", "baseline": "一次成稿基线"}
CHART_METRICS = (
    "principles_mean",
    "stances_mean",
    "length_score",
    "adherence",
    "coverage",
    "grounding",
    "violations",
    "seconds",
)
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


def render_report(rows: Sequence[dict[str, Any]], systems: Sequence[str], meta: dict[str, Any]) -> str:
    """report.md: run facts, per-system means, per-criterion means, per-brief rows, failures, definitions."""
    m = means(rows, systems)
    lines = [
        "# 文稿质量评测报告",
        "",
        f"- 日期：{meta.get('date', '')}",
        f"- 写作模型：{meta.get('writer_model', '')}",
        f"- 评审模型：{meta.get('judge_model', '')}",
        f"- 机器：{meta.get('machine', '')}",
        f"- 用例：{meta.get('cases_file', '')}（{meta.get('n_cases', 0)} 篇）",
        f"- 对比系统：{'、'.join(f'{SYSTEM_LABELS.get(s, s)}（{s}）' for s in systems)}",
        f"- 提示词版本：{meta.get('prompt_versions', '')}",
        "",
        "## 各系统平均值",
        "",
        "| 指标 | " + " | ".join(SYSTEM_LABELS.get(s, s) for s in systems) + " |",
        "|---|" + "---|" * len(systems),
    ]
    for key, label, _, better in METRICS:
        arrow = "↑" if better else "↓"
        lines.append(f"| {label} {arrow} | " + " | ".join(_fmt(m[s][key]) for s in systems) + " |")
    lines.append("| 成功/失败篇数 | " + " | ".join(f"{m[s]['n']}/{m[s]['failed']}" for s in systems) + " |")
    lines += ["", "## 五气三情分项平均（评审模型打分，1-10）", ""]
    lines.append("| 评分项 | " + " | ".join(SYSTEM_LABELS.get(s, s) for s in systems) + " |")
    lines.append("|---|" + "---|" * len(systems))
    for key in CRITERIA_KEYS:
        lines.append(f"| {key} | " + " | ".join(_fmt(m[s][key]) for s in systems) + " |")
    lines += [
        "",
        "## 逐篇结果",
        "",
        "| 用例 | 文种 | 系统 | 字数/目标 | 篇幅得分 | 提纲符合度 | 要点覆盖率 | 引文支撑率 | 体例问题 | 五气 | 三情 | 调用 | 耗时(秒) | 备注 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        note = r.get("error") or r.get("judge_error") or r.get("note") or ""
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    r["case_id"],
                    r.get("genre", ""),
                    SYSTEM_LABELS.get(r["system"], r["system"]),
                    f"{_fmt(r.get('chars'))}/{r.get('target', '')}",
                    _fmt(r.get("length_score"), 1),
                    _fmt(r.get("adherence")),
                    _fmt(r.get("coverage")),
                    _fmt(r.get("grounding")),
                    _fmt(r.get("violations")),
                    _fmt(r.get("principles_mean")),
                    _fmt(r.get("stances_mean")),
                    _fmt(r.get("calls")),
                    _fmt(r.get("seconds"), 1),
                    note[:80],
                )
            )
            + " |"
        )
    failures = [r for r in rows if r.get("error")]
    if failures:
        lines += ["", "## 失败记录", ""]
        lines += [f"- {r['case_id']} / {r['system']}：{_cell(r['error'])}" for r in failures]
    lines += [
        "",
        "## 指标说明",
        "",
        "- 五气/三情：评审模型按“通天气、接地气、聚人气、溢才气、显霸气”和“动之以情、晓之以理、孚之以威”逐项打 1-10 分后取均值（drafting.review.score_draft）。评审模型与写作模型相同时，分数只宜作相对比较。",
        "- 篇幅得分：LongBench-Write 公式，y 为正文汉字数、x 为目标字数；y>x 时 100·max(0, 1−(y/x−1)/3)，否则 100·max(0, 1−(x/y−1)/2)。",
        f"- 提纲符合度：提纲各一级标题在稿中出现（某行与标题的字二元组重合度 ≥ {meta.get('heading_match', 0.6)}）且顺序一致的比例（最长递增子序列 / 标题数）。基线没有自己的提纲，用同一轮急稿流程为同一任务生成的提纲衡量；没有则记 N/A。流程稿的标题直接来自提纲，此项对它们近乎恒为 1。",
        "- 要点覆盖率：任务书要点中被某一段落覆盖（要点字二元组至少一半出现在该段）的比例（drafting.revise.coverage_map）。",
        f"- 引文支撑率：带 [n] 标注的句子中，所引材料包含该句至少 {meta.get('grounding_threshold', 0.2)} 的字二元组的比例；不引用的稿子（基线）记 N/A。",
        "- 体例问题数：自动检查（篇幅、标题层级、重复句、空段/薄段、未核实数字、体例 lint）中严重程度为 error 或 warning 的条数，越少越好。",
        "- 调用次数、词元、耗时：写作模型的开销（不含评审打分）；慢稿一轮的开销包含其急稿初稿。",
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


def render_chart(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> bytes:
    """chart.png: one panel per metric, one bar per system (system means). ASCII labels if no CJK font."""
    from matplotlib.figure import Figure

    m = means(rows, systems)
    font = cjk_font()
    labels = {k: (cn if font else en) for k, cn, en, _ in METRICS}
    names = [SYSTEM_LABELS.get(s, s) if font else s for s in systems]
    colors = ["#3b6ea8", "#d9822b", "#7a7a7a", "#4f9a5b", "#a64d79"]
    with warnings.catch_warnings():
        # A missing glyph must never stop a run that has already spent its model time.
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(3.2 * 4, 3.0 * 2), dpi=110)
        axes = fig.subplots(2, 4)
        for ax, key in zip(axes.flat, CHART_METRICS, strict=False):
            values = [m[s][key] for s in systems]
            heights = [v if v is not None else 0.0 for v in values]
            bars = ax.bar(range(len(systems)), heights, color=colors[: len(systems)])
            for bar, v in zip(bars, values, strict=True):
                ax.annotate(
                    "N/A" if v is None else f"{v:.2f}".rstrip("0").rstrip("."),
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    **({"fontfamily": font} if font else {}),
                )
            ax.set_title(labels[key], fontsize=10, **({"fontfamily": font} if font else {}))
            ax.set_xticks(range(len(systems)))
            ax.set_xticklabels(names, fontsize=8, **({"fontfamily": font} if font else {}))
            ax.margins(y=0.15)
        title = "各系统平均指标（越高越好，体例问题数与耗时越低越好）" if font else "Means per system"
        fig.suptitle(title, fontsize=12, **({"fontfamily": font} if font else {}))
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()
