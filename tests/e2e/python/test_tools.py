"""Tool calls, whole and streamed. Gateway A's mock provider calls every tool it is given
(or only the first with parallel_tool_calls=false); mock-upstream calls the first tool."""

from __future__ import annotations

import json

import pytest

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1},
            },
            "required": ["city", "unit", "days"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a timezone.",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
ASK = [{"role": "user", "content": "What's the weather and the time in Paris?"}]


def assert_weather_args(arguments: str) -> None:
    args = json.loads(arguments)
    assert isinstance(args["city"], str)
    assert args["unit"] in ("celsius", "fahrenheit")
    assert isinstance(args["days"], int) and args["days"] >= 1


def assert_time_args(arguments: str) -> None:
    assert isinstance(json.loads(arguments)["timezone"], str)


def test_tool_call(client):
    resp = client.chat.completions.create(model="mock-gpt", messages=ASK, tools=[WEATHER])
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].id
    assert calls[0].function.name == "get_weather"
    assert_weather_args(calls[0].function.arguments)
    assert resp.usage.completion_tokens > 0


def test_parallel_tool_calls(mock_client):
    resp = mock_client.chat.completions.create(model="mock-gpt", messages=ASK, tools=[WEATHER, TIME])
    calls = resp.choices[0].message.tool_calls
    assert resp.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert len({c.id for c in calls}) == 2, "tool call ids must be distinct"
    assert_weather_args(calls[0].function.arguments)
    assert_time_args(calls[1].function.arguments)


def test_parallel_tool_calls_false_calls_one_tool(mock_client):
    resp = mock_client.chat.completions.create(
        model="mock-gpt", messages=ASK, tools=[WEATHER, TIME], parallel_tool_calls=False
    )
    calls = resp.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather"]


def test_tool_choice_names_a_function(client):
    resp = client.chat.completions.create(
        model="mock-gpt",
        messages=ASK,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    calls = resp.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_time"]
    assert_time_args(calls[0].function.arguments)


def test_tool_choice_none_answers_text(gw, client):
    resp = client.chat.completions.create(
        model="mock-gpt", messages=ASK, tools=[WEATHER], tool_choice="none"
    )
    assert resp.choices[0].finish_reason == "stop"
    assert not resp.choices[0].message.tool_calls
    assert resp.choices[0].message.content == gw.reply(ASK[0]["content"])


def test_tool_result_ends_the_loop(client):
    first = client.chat.completions.create(model="mock-gpt", messages=ASK, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages = ASK + [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call.id, "type": "function",
                 "function": {"name": call.function.name, "arguments": call.function.arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    second = client.chat.completions.create(model="mock-gpt", messages=messages, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert not second.choices[0].message.tool_calls
    assert second.choices[0].message.content


def _stream_tool_calls(client, tools):
    """Streams a tool-calling answer; returns ({index: call}, finish_reasons)."""
    stream = client.chat.completions.create(
        model="mock-gpt", messages=ASK, tools=tools, stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict] = {}
    finishes = []
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
            assert not choice.delta.content, "no text alongside tool calls"
            for tc in choice.delta.tool_calls or []:
                call = calls.setdefault(tc.index, {"id": None, "name": "", "args": "", "fragments": 0})
                if tc.id:
                    assert call["id"] is None, "a call's id arrives once"
                    call["id"] = tc.id
                if tc.function and tc.function.name:
                    call["name"] += tc.function.name
                if tc.function and tc.function.arguments:
                    call["args"] += tc.function.arguments
                    call["fragments"] += 1
    assert usage is not None and usage.completion_tokens > 0
    return calls, finishes


def test_streamed_tool_call(client):
    calls, finishes = _stream_tool_calls(client, [WEATHER])
    assert finishes == ["tool_calls"]
    assert list(calls) == [0]
    call = calls[0]
    assert call["id"] and call["name"] == "get_weather"
    assert call["fragments"] > 1, "arguments should arrive as several fragments"
    assert_weather_args(call["args"])


def test_streamed_parallel_tool_calls(mock_client):
    calls, finishes = _stream_tool_calls(mock_client, [WEATHER, TIME])
    assert finishes == ["tool_calls"]
    assert sorted(calls) == [0, 1]
    assert calls[0]["name"] == "get_weather" and calls[1]["name"] == "get_time"
    assert calls[0]["id"] != calls[1]["id"]
    assert_weather_args(calls[0]["args"])
    assert_time_args(calls[1]["args"])


@pytest.mark.parametrize("parallel", [True, False])
def test_sdk_stream_helper_accumulates_tool_calls(mock_client, parallel):
    """The SDK's own stream helper (chat.completions.stream) rebuilds the final message."""
    with mock_client.chat.completions.stream(
        model="mock-gpt", messages=ASK, tools=[WEATHER, TIME], parallel_tool_calls=parallel
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    names = [c.function.name for c in final.choices[0].message.tool_calls]
    assert names == (["get_weather", "get_time"] if parallel else ["get_weather"])
    assert_weather_args(final.choices[0].message.tool_calls[0].function.arguments)
