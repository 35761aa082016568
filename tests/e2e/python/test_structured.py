"""response_format: json_schema through both gateways, by hand and with the SDK's parse()."""

from __future__ import annotations

import json

from pydantic import BaseModel

PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "role": {"type": "string", "enum": ["admin", "user"]},
    },
    "required": ["name", "age", "tags", "role"],
    "additionalProperties": False,
}


def test_json_schema_response_format(client):
    resp = client.chat.completions.create(
        model="mock-gpt",
        messages=[{"role": "user", "content": "Describe a person as JSON."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": PERSON_SCHEMA, "strict": True},
        },
    )
    assert resp.choices[0].finish_reason == "stop"
    data = json.loads(resp.choices[0].message.content)
    assert set(PERSON_SCHEMA["required"]) <= set(data)
    assert isinstance(data["name"], str)
    assert isinstance(data["age"], int) and not isinstance(data["age"], bool)
    assert isinstance(data["tags"], list) and all(isinstance(t, str) for t in data["tags"])
    assert data["role"] in ("admin", "user")


def test_json_schema_streamed(client):
    stream = client.chat.completions.create(
        model="mock-gpt",
        messages=[{"role": "user", "content": "Describe a person as JSON."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": PERSON_SCHEMA, "strict": True},
        },
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert set(PERSON_SCHEMA["required"]) <= set(json.loads(text))


class Person(BaseModel):
    name: str
    age: int
    tags: list[str]


def test_sdk_parse_with_pydantic_model(client):
    completion = client.chat.completions.parse(
        model="mock-gpt",
        messages=[{"role": "user", "content": "Describe a person."}],
        response_format=Person,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Person)
    assert isinstance(parsed.tags, list)
