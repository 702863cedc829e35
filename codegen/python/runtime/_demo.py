"""`make demo`: a tour of the SDK and the CLI against a local mock server; needs no API key.

python -m modelstudio._demo
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from modelstudio._client import ModelStudio
from modelstudio.testing import MockServer
from modelstudio.types import (
    AssistantMessage,
    GenerationResponse,
    Message,
    MessageParam,
    ResponseMessage,
    ToolParam,
)

DEMO_KEY = "sk-demo"
WEATHER_TOOL: ToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(f"== {text} " + "=" * max(0, 66 - len(text)))


def get_weather(city: str) -> str:
    """The demo's local 'tool': a fixed forecast."""
    return json.dumps({"city": city, "forecast": "sunny", "temperature_c": 24})


def cli_chat(base_url: str) -> int:
    heading("1. Streaming chat through the CLI")
    argv = [
        "-m",
        "modelstudio._cli",
        "chat",
        "--base-url",
        base_url,
        "--api-key",
        DEMO_KEY,
        "Hello, Model Studio!",
    ]
    say("$ modelstudio chat --base-url " + base_url + " 'Hello, Model Studio!'")
    return subprocess.run([sys.executable, *argv], check=False).returncode


def tool_round_trip(client: ModelStudio) -> None:
    heading("2. Tool call round trip (SDK)")
    messages: list[Message | MessageParam] = [
        {"role": "user", "content": "What is the weather in Hangzhou?"}
    ]
    say("user: What is the weather in Hangzhou?")
    first = client.generation.create(
        model="qwen-plus", messages=messages, tools=[WEATHER_TOOL], result_format="message"
    )
    message = _first_message(first)
    calls = message.tool_calls or []
    for call in calls:
        function = call.function
        assert function is not None
        say(f"model asks for: {function.name}({function.arguments})")
    messages.append(AssistantMessage.from_dict(message.to_dict()))
    for call in calls:
        assert call.function is not None
        args = json.loads(call.function.arguments or "{}")
        result = get_weather(**args)
        say(f"tool result:    {result}")
        messages.append({"role": "tool", "content": result, "tool_call_id": call.id or ""})
    final = client.generation.create(
        model="qwen-plus", messages=messages, tools=[WEATHER_TOOL], result_format="message"
    )
    say(f"final answer:   {_first_message(final).content}")


def _first_message(response: GenerationResponse) -> ResponseMessage:
    output = response.output
    assert output is not None and output.choices, "the answer has no choices"
    message = output.choices[0].message
    assert message is not None, "the first choice has no message"
    return message


def thinking_answer(client: ModelStudio) -> None:
    heading("3. Thinking: reasoning first, then the answer (SDK, streaming)")
    stream = client.generation.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": "Why is the sky blue?"}],
        enable_thinking=True,
        stream=True,
    )
    section = ""
    with stream:
        for chunk in stream:
            delta = chunk.delta
            assert delta is not None
            if delta.reasoning_content:
                if section != "reasoning":
                    print("reasoning: ", end="", flush=True)
                    section = "reasoning"
                print(delta.reasoning_content, end="", flush=True)
            if delta.text:
                if section != "answer":
                    print("\nanswer:    ", end="", flush=True)
                    section = "answer"
                print(delta.text, end="", flush=True)
        usage = stream.get_final_response().usage
    say()
    if usage is not None:
        say(f"usage: {usage.input_tokens} in, {usage.output_tokens} out")


def main() -> int:
    started = time.monotonic()
    say("modelstudio demo: a local mock DashScope server, no API key needed.")
    with MockServer(api_key=DEMO_KEY, event_delay=0.01) as server:
        say(f"Mock server listening on {server.base_url}")
        code = cli_chat(server.base_url)
        if code != 0:
            say(f"The CLI exited with {code}.")
            return code
        with ModelStudio(api_key=DEMO_KEY, base_url=server.base_url) as client:
            tool_round_trip(client)
            thinking_answer(client)
        requests = len(server.requests)
    heading("Done")
    say(f"{requests} requests served by the mock in {time.monotonic() - started:.1f} s; stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
