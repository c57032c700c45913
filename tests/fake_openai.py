"""A fault-injecting fake OpenAI-compatible server on 127.0.0.1 (threaded http.server, SSE streaming).

It answers generically, never by prompt wording: a request that asks for JSON (``response_format``
json_object, or "JSON" in the prompt) gets a valid outline (with review scores alongside); any other
request gets plausible Chinese prose, different for every call. ``fault`` decides how it misbehaves:

ok, rate_limit_once (429 + Retry-After, then ok), error_500, hang, trickle, drop_once, drop_always,
empty, broken_json, surrogate_split (an emoji split across two stream events, plus NUL and BEL).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CRITERIA = ["通天气", "接地气", "聚人气", "溢才气", "显霸气", "动之以情", "晓之以理", "孚之以威"]
_PLACES = ["县城", "乡镇", "村社", "园区", "企业", "学校", "医院", "工地", "码头", "社区", "矿山", "景区"]
_ACTS = ["压紧压实责任", "排查整治隐患", "完善应急预案", "加强宣传教育", "严格执法检查", "健全长效机制"]
_TAILS = ["抓实抓细", "落地见效", "久久为功", "真抓实干", "守土尽责", "善作善成", "持之以恒"]


def prose(call: int, chars: int = 220) -> str:
    """Chinese prose whose sentences differ from one call to the next (the draft drops repeats)."""
    out: list[str] = []
    i = call * 7
    while sum(len(s) for s in out) < chars:
        place = _PLACES[i % len(_PLACES)]
        act = _ACTS[(i // len(_PLACES)) % len(_ACTS)]
        tail = _TAILS[(i // (len(_PLACES) * len(_ACTS))) % len(_TAILS)]
        out.append(f"{place}要{act}，{tail}。")
        i += 1
    return "".join(out)


def outline_and_scores() -> str:
    return json.dumps(
        {
            "title": "在全县安全生产工作会议上的讲话",
            "sections": [
                {"heading": h, "purpose": f"讲清{h}", "points": [f"{h}要点"], "principles": ["接地气"], "refs": []}
                for h in ("提高思想认识", "压实各方责任")
            ],
            "scores": [
                {"criterion": c, "score": 7, "evidence": "压紧压实责任", "suggestion": "再具体些"} for c in CRITERIA
            ],
            "comments": [],
        },
        ensure_ascii=False,
    )


class FakeOpenAI:
    """Start with ``FakeOpenAI(fault)``; ``base_url`` for DRAFTING_LLM_BASE_URL; ``requests`` records every request."""

    def __init__(self, fault: str = "ok") -> None:
        self.fault = fault
        self.requests: list[dict[str, Any]] = []
        self.chat_calls = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the log
                return

            def do_GET(self) -> None:  # noqa: N802
                server._record("GET", self.path, {}, {k.lower(): v for k, v in self.headers.items()})
                self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    body = {}
                n = server._record("POST", self.path, body, {k.lower(): v for k, v in self.headers.items()})
                server._answer(self, body, n)

            def _json(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a client that hung up mid-answer is part of the test, not an error

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _record(self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        with self._lock:
            self.requests.append({"method": method, "path": path, "body": body, "headers": headers})
            if path.endswith("/chat/completions"):
                self.chat_calls += 1
            return self.chat_calls

    @staticmethod
    def wants_json(body: dict[str, Any]) -> bool:
        if (body.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
            return True
        text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        return "JSON" in text or "json" in text

    def _text_for(self, body: dict[str, Any], n: int) -> str:
        if self.fault == "empty":
            return ""
        if self.wants_json(body):
            return (
                '{"title": "讲话", "sections": [{"heading": ' if self.fault == "broken_json" else outline_and_scores()
            )
        return prose(n)

    def _answer(self, h: BaseHTTPRequestHandler, body: dict[str, Any], n: int) -> None:
        fault = self.fault
        if fault == "rate_limit_once" and n == 1:
            h._json(429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"Retry-After": "0"})  # type: ignore[attr-defined]
            return
        if fault == "error_500":
            h._json(500, {"error": {"message": "internal error", "type": "server_error"}})  # type: ignore[attr-defined]
            return
        if fault == "hang":
            self._stop.wait(30)
            return
        text = self._text_for(body, n)
        if not body.get("stream"):
            payload = {
                "id": f"c{n}",
                "object": "chat.completion",
                "created": 0,
                "model": "fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
            h._json(200, payload)  # type: ignore[attr-defined]
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        pieces = [text[i : i + 12] for i in range(0, len(text), 12)]
        if fault == "surrogate_split" and not self.wants_json(body):
            pieces = [pieces[0], "\ud83d", "\ude00", "\x00\x07", *pieces[1:]]
        try:
            self._event(h, {"role": "assistant", "content": ""}, None)
            for i, piece in enumerate(pieces):
                if fault == "trickle" and self._stop.wait(0.3):
                    return
                self._event(h, {"content": piece}, None)
                if (fault == "drop_always" or (fault == "drop_once" and n == 1)) and i == 1:
                    h.wfile.flush()
                    h.connection.shutdown(2)  # close mid-answer, without the last chunk
                    return
            if fault == "trickle":
                while not self._stop.wait(0.3):
                    self._event(h, {"content": "。"}, None)
                return
            self._event(h, {}, "stop")
            self._chunk(h, b"data: [DONE]\n\n")
            self._chunk(h, b"")
        except (BrokenPipeError, ConnectionResetError, OSError):
            return

    def _event(self, h: BaseHTTPRequestHandler, delta: dict[str, Any], finish: str | None) -> None:
        event = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        # ensure_ascii: a lone surrogate travels as a \\ud83d escape, as a real server would send it.
        self._chunk(h, f"data: {json.dumps(event)}\n\n".encode())

    @staticmethod
    def _chunk(h: BaseHTTPRequestHandler, data: bytes) -> None:
        h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        h.wfile.flush()


if __name__ == "__main__":  # manual probing: python -m tests.fake_openai FAULT
    import sys

    with FakeOpenAI(sys.argv[1] if len(sys.argv) > 1 else "ok") as fake:
        print(fake.base_url, flush=True)
        while True:
            time.sleep(3600)
