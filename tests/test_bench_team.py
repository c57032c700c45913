"""evals/bench_team.py: the figures it aggregates and the report it writes, with the scripted fake model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import evals.bench_team as bt
from drafting import config
from drafting.testing import ScriptedChatModel


def test_summary_counts_finished_drafts_and_reports_failures() -> None:
    runs = [
        bt.WriterRun("writer1", "讲话甲", seconds=8.0, first_char_s=2.0, chars=1000, calls=2, tokens_out=700),
        bt.WriterRun("writer2", "讲话乙", seconds=10.0, first_char_s=4.0, chars=2000, calls=3, tokens_out=1400),
        bt.WriterRun("writer3", "讲话丙", seconds=3.0, chars=0, error="模型服务返回错误（HTTP 500）。"),
    ]
    summary = bt.summarize(runs, wall_seconds=12.0)
    assert (summary.writers, summary.finished, summary.total_chars) == (3, 2, 3000)
    assert summary.throughput == pytest.approx(250.0)  # 3000 字 / 12 s of wall time
    assert summary.latency_mean == pytest.approx(9.0) and summary.latency_max == 10.0
    assert summary.first_char_mean == pytest.approx(3.0)
    assert runs[0].rate == pytest.approx(125.0) and runs[2].rate == 0.0
    text = bt.table(runs, summary)
    rows = text.splitlines()
    assert len(rows) == 2 + 3 + 1
    assert "| writer2 | 讲话乙 | 10.0 | 4.0 | 2000 | 200.0 | 3 | 1400 | 完成 |" in rows
    assert "失败：模型服务返回错误（HTTP 500）。" in rows[4]
    assert "2/3 篇完成" in rows[-1] and "**250.0**" in rows[-1] and "墙钟 12.0" in rows[-1]


def test_summary_of_nothing_finished_is_not_a_crash() -> None:
    summary = bt.summarize([bt.WriterRun("writer1", "x", 1.0, error="断开")], wall_seconds=1.0)
    assert summary.finished == 0 and summary.throughput == 0.0 and math.isnan(summary.latency_mean)


def test_bench_runs_each_writer_concurrently_with_their_own_name() -> None:
    built: list[config.Settings] = []

    def make_llm(settings: config.Settings) -> ScriptedChatModel:
        built.append(settings)
        return ScriptedChatModel()

    runs, summary = bt.bench(config.Settings(), writers=3, make_llm=make_llm)
    assert [s.writer for s in built] == ["writer1", "writer2", "writer3"] and all(s.team for s in built)
    assert [r.writer for r in runs] == ["writer1", "writer2", "writer3"]
    assert [r.request for r in runs] == list(bt.REQUESTS[:3])  # different briefs
    assert all(not r.error and r.chars > 0 and r.calls >= 1 for r in runs), runs
    assert summary.finished == 3 and summary.total_chars == sum(r.chars for r in runs)
    assert summary.wall_seconds >= max(r.seconds for r in runs) > 0
    assert summary.throughput == pytest.approx(summary.total_chars / summary.wall_seconds)


def test_main_writes_the_report_with_the_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[str] = []

    def fake_model(settings: config.Settings) -> ScriptedChatModel:
        seen.append(settings.writer)
        return ScriptedChatModel()

    monkeypatch.setattr(bt, "bench", _bench_with(fake_model))
    out = tmp_path / "team-concurrency.md"
    assert bt.main(["--writers", "2", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert seen == ["writer1", "writer2"]
    assert text.startswith("# 团队模式并发急稿：2 位撰稿人同时起草")
    assert "可用" in text and "核" in text and "GiB 内存" in text  # the machine, described
    assert config.Settings().llm_base_url in text and "python -m evals.bench_team --writers 2" in text
    assert "| writer1 |" in text and "| writer2 |" in text and "2/2 篇完成" in text


def _bench_with(make_llm):  # type: ignore[no-untyped-def]
    real = bt.bench

    def bench(settings: config.Settings, **kwargs):  # type: ignore[no-untyped-def]
        return real(settings, **{**kwargs, "make_llm": make_llm})

    return bench
