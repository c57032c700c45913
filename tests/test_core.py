"""Config, prompts, brief parsing and the model-call helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from drafting import config
from drafting.cnnum import cn_num
from drafting.domain import Brief, RevisionMode, count_chars
from drafting.errors import BriefError, ConfigError, ModelOutputError, PromptError, ProviderError
from drafting.llm.calls import collect_costs, complete, complete_structured, count_tokens, extract_json
from drafting.llm.prompts import PROMPTS_DIR, list_prompts, load_prompt
from drafting.writing.brief import brief_from_request, load_brief, validate_brief
from drafting.writing.text import brief_summary
from tests.fakes import REPAIR_STAGE, RoutedFakeChat


def test_settings_from_env_and_file(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('llm_model = "deepseek-chat"\ncontext_tokens = 65536\n', encoding="utf-8")
    s = config.load_settings({"DRAFTING_SETTINGS": str(f), "DRAFTING_LLM_BASE_URL": "https://api.example.com/v1"})
    assert s.llm_model == "deepseek-chat"
    assert s.context_tokens == 65536
    assert s.llm_base_url == "https://api.example.com/v1"
    assert not s.is_local
    assert config.load_settings({}).is_local


def test_settings_reject_unknown_key_and_bad_value(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('modle = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="未知配置项"):
        config.load_settings({"DRAFTING_SETTINGS": str(f)})
    with pytest.raises(ConfigError, match="context_tokens"):
        config.load_settings({"DRAFTING_CONTEXT_TOKENS": "many"})


def test_api_key_not_in_repr() -> None:
    s = config.load_settings({"DRAFTING_LLM_API_KEY": "sk-secret-123"})
    assert "sk-secret-123" not in repr(s)


def test_every_prompt_renders_with_its_variables() -> None:
    names = list_prompts()
    assert {"outline.default", "draft.section", "draft.opening", "review.scores", "revise.section"} <= set(names)
    for name in names:
        tpl = load_prompt(name)
        messages = tpl.render(**{v: f"<{v}>" for v in tpl.variables})
        assert messages[-1][0] == "user"
        joined = "".join(m[1] for m in messages)
        assert "$" not in joined.replace("$$", ""), name
        for v in tpl.variables:
            assert f"<{v}>" in joined


def test_prompt_variable_mismatch_fails() -> None:
    tpl = load_prompt("draft.section")
    with pytest.raises(PromptError, match="缺少"):
        tpl.render(speaker="县长")
    with pytest.raises(PromptError, match="多余"):
        tpl.render(**{v: "x" for v in tpl.variables}, surprise="x")
    with pytest.raises(PromptError):
        load_prompt("nonexistent.prompt")
    assert (PROMPTS_DIR / "repair.json.v1.txt").is_file()


def test_brief_from_request_reads_the_instruction() -> None:
    b = brief_from_request("为县长起草在全县安全生产工作会议上的讲话，约1500字")
    assert b.length == 1500
    assert b.genre == "讲话稿"
    assert b.speaker == "县长"
    assert b.occasion == "在全县安全生产工作会议上"
    assert b.title == "在全县安全生产工作会议上的讲话"
    r = brief_from_request("请起草一份关于申请老旧小区改造资金的请示，800字左右")
    assert r.genre == "请示" and r.length == 800


def test_empty_brief_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BriefError, match="任务为空"):
        brief_from_request("   ")
    with pytest.raises(BriefError, match="任务为空"):
        validate_brief({"genre": "讲话稿"})
    with pytest.raises(BriefError, match="不支持的文种"):
        validate_brief({"title": "x", "genre": "诗歌"})
    empty = tmp_path / "b.yaml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(BriefError, match="为空"):
        load_brief(empty)
    broken = tmp_path / "c.yaml"
    broken.write_text("title: [unclosed", encoding="utf-8")
    with pytest.raises(BriefError, match="格式错误"):
        load_brief(broken)


def test_load_brief_yaml(tmp_path: Path) -> None:
    p = tmp_path / "brief.yaml"
    p.write_text(
        "title: 在全市教育工作会议上的讲话\ngenre: 讲话稿\nspeaker: 副市长\nlength: 1200字\n"
        "key_points: |\n  办好人民满意的教育\n  落实双减\nmode: 慢稿\n",
        encoding="utf-8",
    )
    b = load_brief(p)
    assert b.length == 1200 and b.mode is RevisionMode.SLOW
    assert b.key_points == ["办好人民满意的教育", "落实双减"]
    assert "必须讲到的要点：办好人民满意的教育；落实双减" in brief_summary(b)


def test_cn_num_and_count_chars() -> None:
    assert [cn_num(i) for i in (1, 9, 10, 11, 20, 23)] == ["一", "九", "十", "十一", "二十", "二十三"]
    assert count_chars("一、抓好2026年工作，OK！") == 6


def test_count_tokens_offline() -> None:
    assert 5 < count_tokens("同志们，今天召开全县安全生产工作会议") < 40


def test_extract_json_tolerates_fences_chatter_and_breakage() -> None:
    assert extract_json('好的，结果如下：\n```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('{"a": [1, 2,], "b": "x"') == {"a": [1, 2], "b": "x"}
    with pytest.raises(ValueError):
        extract_json("")


def test_complete_records_costs_and_streams() -> None:
    llm = RoutedFakeChat(default="第一句。第二句。")
    seen: list[str] = []
    with collect_costs() as log:
        text = complete(llm, [("user", "写两句")], stage="draft", on_token=seen.append)
    assert text == "第一句。第二句。"
    assert "".join(seen) == text
    costs = log.snapshot()
    assert costs.calls == 1 and costs.tokens_out > 0 and costs.stages[0].stage == "draft"


def test_complete_timeout_becomes_provider_error_with_partial() -> None:
    llm = RoutedFakeChat(default="一二三四五六七八九十" * 5, fail_after_chars=16)
    with pytest.raises(ProviderError, match="超时") as info:
        complete(llm, [("user", "x")], stage="draft")
    assert info.value.partial == ("一二三四五六七八九十" * 5)[:16]


def test_complete_structured_repairs_then_retries_then_fails() -> None:
    from pydantic import BaseModel

    class Thing(BaseModel):
        name: str

    llm = RoutedFakeChat(routes={"给我": ["不是 JSON 的回答"], REPAIR_STAGE: ['{"name": "好"}']})
    got = complete_structured(llm, [("user", "给我一个对象")], Thing, stage="t")
    assert got.name == "好"
    assert len(llm.calls) == 2 and "不是 JSON 的回答" in llm.calls[1]["all"]
    assert llm.calls[0]["kwargs"].get("response_format") == {"type": "json_object"}
    complete(llm, [("user", "给我")], stage="t", max_tokens=77)
    assert llm.calls[-1]["kwargs"]["extra_body"] == {"max_tokens": 77}

    bad = RoutedFakeChat(default="")
    with pytest.raises(ModelOutputError, match="无法解析"):
        complete_structured(bad, [("user", "给我")], Thing, stage="t", retries=1)
    assert len(bad.calls) == 2


def test_brief_query_text() -> None:
    b = Brief(title="在全县安全生产工作会议上的讲话", key_points=["压实责任"])
    assert "压实责任" in b.query_text()


def test_check_endpoint_down_busy_and_refusing_key() -> None:
    import http.server
    import socket
    import threading

    from drafting.llm.client import check_endpoint

    down = config.load_settings({"DRAFTING_LLM_BASE_URL": "http://127.0.0.1:9/v1"})
    with pytest.raises(ProviderError, match="无法连接"):
        check_endpoint(down, timeout=2)

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts, never answers: a server busy generating
    busy = config.load_settings({"DRAFTING_LLM_BASE_URL": f"http://127.0.0.1:{silent.getsockname()[1]}/v1"})
    assert check_endpoint(busy, timeout=0.5) == []
    silent.close()

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        bad_key = config.load_settings({"DRAFTING_LLM_BASE_URL": f"http://127.0.0.1:{server.server_port}/v1"})
        with pytest.raises(ProviderError, match="API Key"):
            check_endpoint(bad_key, timeout=2)
    finally:
        server.shutdown()
        server.server_close()


def test_answer_cut_at_token_limit_keeps_the_text() -> None:
    import openai
    from openai.types.chat import ChatCompletion

    completion = ChatCompletion(id="c", choices=[], created=0, model="m", object="chat.completion")

    class Cut(RoutedFakeChat):
        def _stream(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
            yield from super()._stream(messages, stop, run_manager, **kwargs)
            raise openai.LengthFinishReasonError(completion=completion)  # the provider's own type

    from pydantic import BaseModel

    class Thing(BaseModel):
        name: str

    llm = Cut(default='{"name": "截断前的内容')
    with collect_costs() as log:
        assert complete(llm, [("user", "x")], stage="t") == '{"name": "截断前的内容'
    assert log.snapshot().calls == 1
    assert complete_structured(llm, [("user", "x")], Thing, stage="t").name == "截断前的内容"
