#!/usr/bin/env python3
"""Fake Anthropic, Gemini and Azure OpenAI upstreams for the e2e suite (stdlib only).

    python3 providers.py PORT        # listens on 127.0.0.1:PORT

Paths (each answers in that provider's documented wire format, modelled on the fixtures in
gateway/src/providers/{anthropic,gemini,azure}/fixtures/):

  POST /anthropic/v1/messages                                    x-api-key, anthropic-version
  POST /gemini/v1beta/models/{model}:generateContent             x-goog-api-key
  POST /gemini/v1beta/models/{model}:streamGenerateContent?alt=sse
  POST /azure/openai/deployments/{dep}/chat/completions?api-version=...   api-key
  GET  /health                      200
  GET  /requests                    {"anthropic": n, "gemini": n, "azure": n} requests seen
  GET  /last/{provider}             the last request: {"path", "headers", "body"}

The text reply is ECHO_PREFIX + the last user message's text. When the request offers tools
(and the last user turn is not a tool result) the reply is a call of the first tool with
arguments {"location": "Paris", "echo": <last user text>}.

Markers in the last user text force errors: `[fake:429]`, `[fake:529]`, `[fake:400]`,
`[fake:content_filter]` (Azure only), `[fake:stream_error]` (Anthropic streams: an `error`
event after the first text delta; Gemini streams: a `{"error":{...}}` event, 503 UNAVAILABLE,
after the first piece), or scoped to one provider: `[fake:anthropic:529]`,
`[fake:gemini:429]`, `[fake:azure:429]` (ignored by the others).
Markers that keep the text answer but end it differently: `[fake:length]` (Anthropic
`max_tokens`, Gemini `MAX_TOKENS`, Azure `length`) and `[fake:refusal]` (Anthropic `refusal`,
Gemini `SAFETY`, Azure `content_filter`).
Keys expected: FAKE_ANTHROPIC_KEY, FAKE_GEMINI_KEY, FAKE_AZURE_KEY below.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FAKE_ANTHROPIC_KEY = "sk-ant-e2e-fake"
FAKE_GEMINI_KEY = "gemini-e2e-fake"
FAKE_AZURE_KEY = "azure-e2e-fake"
ECHO_PREFIX = "Echo: "
MARKER_RE = re.compile(r"\[fake:(?:(anthropic|gemini|azure):)?(\w+)\]")

_lock = threading.Lock()
_counts = {"anthropic": 0, "gemini": 0, "azure": 0}
_last: dict[str, dict] = {}


def marker(provider: str, text: str) -> str | None:
    for scope, code in MARKER_RE.findall(text):
        if not scope or scope == provider:
            return code
    return None


def words(text: str) -> list[str]:
    """Splits text into pieces that concatenate back to it (for stream deltas)."""
    parts = re.findall(r"\S+\s*|\s+", text)
    return parts or [text]


def tokens(text: str) -> int:
    return max(1, len(text.split()))


def text_of(content) -> str:
    """Text of an OpenAI/Anthropic message content (string or list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


# ----------------------------------------------------------------------------- Anthropic

ANTHROPIC_ERRORS = {
    "400": (400, "invalid_request_error", "messages: fake invalid request"),
    "429": (429, "rate_limit_error", "This request would exceed the rate limit for your organization."),
    "529": (529, "overloaded_error", "Overloaded"),
    "500": (500, "api_error", "Internal server error"),
}


def anthropic_error(status: int, kind: str, message: str):
    return status, {"type": "error", "error": {"type": kind, "message": message},
                    "request_id": "req_fake" + uuid.uuid4().hex[:16]}


def anthropic(h: "Handler", body: dict):
    if h.headers.get("x-api-key") != FAKE_ANTHROPIC_KEY:
        return h.send_json(*anthropic_error(401, "authentication_error", "invalid x-api-key"))
    if not h.headers.get("anthropic-version"):
        return h.send_json(*anthropic_error(400, "invalid_request_error", "anthropic-version header is required"))
    msgs = body.get("messages") or []
    last = msgs[-1] if msgs else {}
    last_text = text_of(last.get("content")) if last.get("role") == "user" else ""
    tool_result = isinstance(last.get("content"), list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in last["content"])
    code = marker("anthropic", last_text)
    if code in ANTHROPIC_ERRORS:
        return h.send_json(*anthropic_error(*ANTHROPIC_ERRORS[code]))
    model = body.get("model", "claude")
    msg_id = "msg_fake" + uuid.uuid4().hex[:20]
    in_tok = tokens(last_text) + 3
    tools = body.get("tools") or []
    if tools and not tool_result:
        name = tools[0]["name"]
        args = {"location": "Paris", "echo": last_text}
        blocks = [{"type": "tool_use", "id": "toolu_fake" + uuid.uuid4().hex[:16], "name": name, "input": args}]
        stop, out_tok = "tool_use", 12
    else:
        reply = ECHO_PREFIX + last_text
        blocks = [{"type": "text", "text": reply}]
        stop = {"length": "max_tokens", "refusal": "refusal"}.get(code, "end_turn")
        out_tok = tokens(reply)
    if code == "stream_error" and body.get("stream"):
        # Like fixtures/stream_overloaded.sse: a 200 stream that breaks off with an error event.
        return h.send_sse([
            "event: message_start\ndata: " + json.dumps({"type": "message_start", "message": {
                "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": in_tok, "output_tokens": 1}}}) + "\n\n",
            "event: content_block_start\ndata: " + json.dumps({"type": "content_block_start", "index": 0,
                                                               "content_block": {"type": "text", "text": ""}}) + "\n\n",
            "event: content_block_delta\ndata: " + json.dumps({"type": "content_block_delta", "index": 0,
                                                               "delta": {"type": "text_delta", "text": "Once upon"}}) + "\n\n",
            'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n',
        ])
    if not body.get("stream"):
        return h.send_json(200, {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": blocks,
            "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": in_tok, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": out_tok},
        })
    events = [("message_start", {"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": in_tok, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": 1}}})]
    for i, block in enumerate(blocks):
        if block["type"] == "text":
            events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "text", "text": ""}}))
            events.append(("ping", {"type": "ping"}))
            for piece in words(block["text"]):
                events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "text_delta", "text": piece}}))
        else:
            events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": {
                "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}))
            events.append(("ping", {"type": "ping"}))
            js = json.dumps(block["input"])
            cut = [0, 0, len(js) // 3, 2 * len(js) // 3, len(js)]  # starts with an empty fragment
            for a, b in zip(cut, cut[1:]):
                events.append(("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {
                    "type": "input_json_delta", "partial_json": js[a:b]}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop, "stop_sequence": None},
                                     "usage": {"output_tokens": out_tok}}))
    events.append(("message_stop", {"type": "message_stop"}))
    h.send_sse([f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events])


# ----------------------------------------------------------------------------- Gemini

GEMINI_ERRORS = {
    "400": (400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: fake invalid argument\n"),
    "429": (429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details."),
    "529": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    "500": (500, "INTERNAL", "An internal error has occurred."),
}


def gemini_error(status: int, kind: str, message: str):
    return status, {"error": {"code": status, "message": message, "status": kind}}


def gemini(h: "Handler", model_action: str, query: dict, body: dict):
    if h.headers.get("x-goog-api-key") != FAKE_GEMINI_KEY:
        status, err = gemini_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
        err["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                    "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]
        return h.send_json(status, err)
    model, _, action = model_action.partition(":")
    if action not in ("generateContent", "streamGenerateContent"):
        return h.send_json(*gemini_error(404, "NOT_FOUND", f"unknown method {action}"))
    contents = body.get("contents") or []
    last = contents[-1] if contents else {}
    parts = last.get("parts") or []
    last_text = "".join(p.get("text", "") for p in parts) if last.get("role", "user") == "user" else ""
    tool_result = any("functionResponse" in p for p in parts)
    code = marker("gemini", last_text)
    if code in GEMINI_ERRORS:
        return h.send_json(*gemini_error(*GEMINI_ERRORS[code]))
    decls = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    in_tok = tokens(last_text) + 3
    if decls and not tool_result:
        out_parts = [{"functionCall": {"name": decls[0]["name"], "args": {"location": "Paris", "echo": last_text}}}]
        out_tok = 12
        pieces = [out_parts]
    else:
        reply = ECHO_PREFIX + last_text
        out_tok = tokens(reply)
        pieces = [[{"text": p}] for p in words(reply)]
    resp_id = "fake" + uuid.uuid4().hex[:16]

    finish = {"length": "MAX_TOKENS", "refusal": "SAFETY"}.get(code, "STOP")

    def chunk(ps, final: bool, out: int):
        cand = {"content": {"parts": ps, "role": "model"}, "index": 0}
        if final:
            cand["finishReason"] = finish
        return {"candidates": [cand],
                "usageMetadata": {"promptTokenCount": in_tok, "candidatesTokenCount": out,
                                  "totalTokenCount": in_tok + out},
                "modelVersion": model, "responseId": resp_id}

    if action == "generateContent":
        merged = [p for ps in pieces for p in ps]
        if "text" in merged[0]:
            merged = [{"text": "".join(p["text"] for p in merged)}]
        return h.send_json(200, chunk(merged, True, out_tok))
    if query.get("alt") != ["sse"]:
        return h.send_json(*gemini_error(400, "INVALID_ARGUMENT", "this fake streams only with alt=sse"))
    n = len(pieces)
    if code == "stream_error":
        # A 200 stream that breaks off after the first piece with a Google error object.
        err = gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")[1]
        return h.send_sse([f"data: {json.dumps(chunk(pieces[0], False, 1))}\r\n\r\n",
                           f"data: {json.dumps(err)}\r\n\r\n"])
    h.send_sse([f"data: {json.dumps(chunk(ps, i == n - 1, max(1, out_tok * (i + 1) // n)))}\r\n\r\n"
                for i, ps in enumerate(pieces)])


# ----------------------------------------------------------------------------- Azure

SAFE = {"filtered": False, "severity": "safe"}
PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": {
    "hate": SAFE, "jailbreak": {"filtered": False, "detected": False}, "self_harm": SAFE,
    "sexual": SAFE, "violence": SAFE}}]
CHOICE_FILTER = {"hate": SAFE, "self_harm": SAFE, "sexual": SAFE, "violence": SAFE}


def azure(h: "Handler", deployment: str, query: dict, body: dict):
    if h.headers.get("api-key") != FAKE_AZURE_KEY:
        return h.send_json(401, {"error": {"code": "401", "message":
                                           "Access denied due to invalid subscription key or wrong API endpoint."}})
    if not query.get("api-version"):
        return h.send_json(404, {"error": {"code": "404", "message": "Resource not found"}})
    msgs = body.get("messages") or []
    last = msgs[-1] if msgs else {}
    last_text = text_of(last.get("content")) if last.get("role") == "user" else ""
    code = marker("azure", last_text)
    if code == "content_filter":
        return h.send_json(400, {"error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
            "type": None, "param": "prompt", "code": "content_filter", "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
                **CHOICE_FILTER, "jailbreak": {"filtered": False, "detected": False},
                "violence": {"filtered": True, "severity": "medium"}}}}})
    if code == "429":
        return h.send_json(429, {"error": {"code": "429", "message":
                                           "Requests to the ChatCompletions_Create Operation have exceeded token rate limit."}})
    if code == "400":
        return h.send_json(400, {"error": {"message": "Invalid value for 'messages': fake invalid request.",
                                           "type": "invalid_request_error", "param": "messages", "code": None}})
    if code in ("529", "500"):
        return h.send_json(500, {"error": {"code": "InternalServerError", "message": "The server had an error."}})
    cid = "chatcmpl-fake" + uuid.uuid4().hex[:16]
    created = int(time.time())
    in_tok = tokens(last_text) + 3
    tools = body.get("tools") or []
    if tools and last.get("role") != "tool":
        call = {"id": "call_fake" + uuid.uuid4().hex[:16], "type": "function", "function": {
            "name": tools[0]["function"]["name"],
            "arguments": json.dumps({"location": "Paris", "echo": last_text})}}
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}
        finish, out_tok = "tool_calls", 12
    else:
        reply = ECHO_PREFIX + last_text
        message = {"role": "assistant", "content": reply, "refusal": None, "annotations": []}
        finish = {"length": "length", "refusal": "content_filter"}.get(code, "stop")
        out_tok = tokens(reply)
    usage = {"prompt_tokens": in_tok, "completion_tokens": out_tok, "total_tokens": in_tok + out_tok,
             "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0}}
    model = "gpt-4o-mini-2024-07-18"
    if not body.get("stream"):
        return h.send_json(200, {
            "id": cid, "object": "chat.completion", "created": created, "model": model,
            "system_fingerprint": "fp_fake", "prompt_filter_results": PROMPT_FILTER,
            "choices": [{"index": 0, "finish_reason": finish, "logprobs": None, "message": message,
                         "content_filter_results": CHOICE_FILTER}],
            "usage": usage})

    def chunk(delta, finish_reason=None, filters=None):
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": "fp_fake", "usage": None,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None,
                             "content_filter_results": filters if filters is not None else CHOICE_FILTER}]}

    events = [{"choices": [], "created": 0, "id": "", "model": "", "object": "",
               "prompt_filter_results": PROMPT_FILTER, "usage": None},
              chunk({"role": "assistant", "content": "", "refusal": None}, filters={})]
    if "tool_calls" in message:
        call = message["tool_calls"][0]
        args = call["function"]["arguments"]
        mid = len(args) // 2
        events.append(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function", "function": {
            "name": call["function"]["name"], "arguments": ""}}]}))
        for piece in (args[:mid], args[mid:]):
            events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    else:
        events.extend(chunk({"content": p}) for p in words(message["content"]))
    events.append(chunk({}, finish, filters={}))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                       "system_fingerprint": "fp_fake", "choices": [], "usage": usage})
    h.send_sse([f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"])


# ----------------------------------------------------------------------------- server

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-providers/1"

    def log_message(self, fmt, *args):  # one line per request on stderr
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def send_json(self, status: int, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_sse(self, events: list[str]):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for ev in events:
            data = ev.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/health":
            return self.send_json(200, {"status": "ok"})
        if path == "/requests":
            with _lock:
                return self.send_json(200, dict(_counts))
        if path.startswith("/last/"):
            with _lock:
                last = _last.get(path[len("/last/"):])
            return self.send_json(200 if last else 404, last or {"error": "no request yet"})
        self.send_json(404, {"error": "not found"})

    def do_POST(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self.send_json(400, {"error": {"message": "body is not JSON"}})
        routes = [
            ("anthropic", re.fullmatch(r"/anthropic/v1/messages", url.path)),
            ("gemini", re.fullmatch(r"/gemini/v1beta/models/([^/]+)", url.path)),
            ("azure", re.fullmatch(r"/azure/openai/deployments/([\w.-]+)/chat/completions", url.path)),
        ]
        for provider, m in routes:
            if m:
                with _lock:
                    _counts[provider] += 1
                    _last[provider] = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                       "body": body}
                if provider == "anthropic":
                    return anthropic(self, body)
                if provider == "gemini":
                    return gemini(self, m.group(1), query, body)
                return azure(self, m.group(1), query, body)
        self.send_json(404, {"error": {"message": f"no fake at {url.path}"}})


def main():
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    sys.stderr.write(f"fake providers on 127.0.0.1:{port}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
