"""What a type checker sees: `create(stream=True)` is a stream, otherwise a typed response."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT

USER_CODE = """
from typing import assert_type
from modelstudio import AsyncModelStudio, AsyncStream, ModelStudio, Stream
from modelstudio.types import (
    ChatCompletion, ChatCompletionChunk, Choice, GenerationChunk, GenerationResponse,
    MessageGenerationChunk, MessageGenerationResponse, MultimodalChunk, MultimodalResponse,
    ResponseContentPart, ToolCall, Usage,
)
from modelstudio.types import ChatMessageParam, MessageParam

client = ModelStudio(api_key="k")
msgs: list[MessageParam] = [{"role": "user", "content": "hi"}]
chat_msgs: list[ChatMessageParam] = [{"role": "user", "content": "hi"}]
assert_type(client.generation.create(model="qwen-plus", messages=msgs), GenerationResponse)
assert_type(
    client.generation.create(model="qwen-plus", messages=msgs, stream=True),
    Stream[GenerationChunk, GenerationResponse],
)
r = client.generation.create(model="qwen-plus", messages=msgs, result_format="message")
assert_type(r, MessageGenerationResponse)
assert_type(r.output.choices, list[Choice])  # the contract promises choices for "message"
assert_type(r.output.choices[0].message.content, str | list[ResponseContentPart])
assert_type(r.usage, Usage)
assert_type(r.request_id, str)
assert_type(
    client.generation.create(model="qwen-plus", messages=msgs, result_format="message", stream=True),
    Stream[MessageGenerationChunk, MessageGenerationResponse],
)
assert_type(client.generation.create(model="qwen-plus", messages=msgs).output.choices, list[Choice] | None)
assert_type(client.generation.create(model="qwen-plus", messages=msgs, result_format="text"), GenerationResponse)
m = client.multimodal.create(model="qwen-vl-max", messages=msgs)
assert_type(m, MultimodalResponse)
assert_type(m.output.choices[0].message.content, list[ResponseContentPart])
assert_type(
    client.multimodal.create(model="qwen-vl-max", messages=msgs, stream=True),
    Stream[MultimodalChunk, MultimodalResponse],
)
for chunk in client.generation.create(model="qwen-plus", messages=msgs, stream=True):
    assert_type(chunk.delta.text, str)
    assert_type(chunk.delta.tool_calls, list[ToolCall])  # the final message's type
assert_type(client.chat.completions.create(model="qwen-plus", messages=chat_msgs), ChatCompletion)
assert_type(
    client.chat.completions.create(model="qwen-plus", messages=chat_msgs, stream=True),
    Stream[ChatCompletionChunk, ChatCompletion],
)

async def main(aclient: AsyncModelStudio) -> None:
    stream = await aclient.generation.create(model="qwen-plus", messages=msgs, stream=True)
    assert_type(stream, AsyncStream[GenerationChunk, GenerationResponse])
    async for chunk in stream:
        assert_type(chunk, GenerationChunk)

client.generation.create(model="qwen-plus", messages=msgs, temperature="hot")  # E: wrong type
client.generation.create(model="qwen-plus", messages=msgs, result_format="xml")  # E: not an enum value
"""


def test_type_checker_knows_which_calls_stream_and_rejects_wrong_arguments(tmp_path: Path) -> None:
    source = tmp_path / "user_code.py"
    source.write_text(USER_CODE, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version", "3.11",
         "--config-file", "/dev/null", str(source)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    lines_with_errors = sorted({int(line.split(":")[1]) for line in errors})
    expected = [
        i + 1
        for i, text in enumerate(USER_CODE.splitlines())
        if text.rstrip().endswith(("# E: wrong type", "# E: not an enum value"))
    ]
    assert lines_with_errors == expected, proc.stdout
