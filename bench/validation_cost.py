"""Microseconds per request validation: the generated `validate_text_generation(body, stream)`.

Run: `.venv/bin/python bench/validation_cost.py`. Two typical bodies: 2 messages + 4 parameters,
and the same with one function tool (tools need result_format=message). Prints the best of 5
timeit repeats, per call.
"""

from __future__ import annotations

import timeit
from typing import Any

from modelstudio._validation import validate_text_generation

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Who are you?"},
]
PLAIN: dict[str, Any] = {
    "model": "qwen-plus",
    "input": {"messages": MESSAGES},
    "parameters": {"result_format": "message", "temperature": 0.7, "top_p": 0.8, "max_tokens": 512},
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Useful when you want to query the weather in a specific city.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}
WITH_TOOLS: dict[str, Any] = {
    **PLAIN,
    "parameters": {**PLAIN["parameters"], "tools": [WEATHER_TOOL]},
}


def cost_us(body: dict[str, Any], number: int = 20_000) -> float:
    assert validate_text_generation(body, False) == [], "the benchmark body must be valid"
    best = min(
        timeit.repeat(lambda: validate_text_generation(body, False), number=number, repeat=5)
    )
    return best / number * 1e6


def main() -> None:
    for name, body in (("2 messages, 4 parameters", PLAIN), ("same + 1 tool", WITH_TOOLS)):
        print(f"validate_text_generation ({name}): {cost_us(body):.2f} us per request")


if __name__ == "__main__":
    main()
