"""What a user's type checker says about plain-dict arguments of `create()`: the generated
TypedDict forms (`UserMessageParam`, `ToolParam`, `SearchOptionsParam`, ...) accept good dict
literals, mixed with generated classes, and reject a wrong role, an unknown key, a wrong value
type or a missing required key, under mypy --strict and pyright (strict), sync and async."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT

# A line ending in `# E[<mypy error code>] <what pyright names>` must fail under both checkers
# on that line (pyright names the parameter, or "declared type" for an annotated variable);
# every other line must pass.
USER_CODE = """# pyright: strict
from modelstudio import AsyncModelStudio, ModelStudio, parts
from modelstudio.types import ChatMessageParam, MessageParam, TextPartParam, ToolParam, UserMessage

client = ModelStudio(api_key="k")
weather: ToolParam = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
}
part: TextPartParam = {"text": "cached", "cache_control": {"type": "ephemeral"}}
history: list[MessageParam] = [{"role": "user", "content": "hi"}]
history.append({"role": "tool", "content": "{}", "tool_call_id": "c1"})
client.generation.create(
    model="qwen-plus",
    messages=[
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [part, {"image": "https://e.com/a.png", "max_pixels": 10},
                                     parts.text("a class inside a dict")]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "content": "{}", "tool_call_id": "c1"},
        UserMessage(content="a generated class"),
        *history,
    ],
    tools=[weather],
    tool_choice={"type": "function", "function": {"name": "get_weather"}},
    search_options={"forced_search": True, "search_strategy": "max"},
    response_format={"type": "json_object"},
    translation_options={"source_lang": "auto", "target_lang": "English"},
    logit_bias={"1024": -100, "1025": 2.5},
    stop=["end"],
)
client.multimodal.create(
    model="qwen-vl-max",
    messages=[{"role": "user", "content": [{"video": ["a.jpg", "b.jpg"], "fps": 2}, {"text": "?"}]}],
    ocr_options={"task": "text_recognition"},
)
chat: list[ChatMessageParam] = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": [{"type": "text", "text": "what is it?"},
                                 {"type": "image_url", "image_url": {"url": "https://e.com/a.png"}}]},
]
client.chat.completions.create(model="qwen-plus", messages=chat, stream_options={"include_usage": True})

client.generation.create(model="qwen-plus", messages=[{"role": "usr", "content": "hi"}])  # E[list-item] messages
client.generation.create(model="qwen-plus", messages=[{"role": "user", "content": "hi", "nam": "x"}])  # E[list-item] messages
client.generation.create(model="qwen-plus", messages=[{"role": "user", "content": 5}])  # E[list-item] messages
client.generation.create(model="qwen-plus", messages=[{"role": "user"}])  # E[list-item] messages
client.generation.create(model="qwen-plus", messages=[{"role": "user", "content": [{"text": 5}]}])  # E[list-item] messages
client.multimodal.create(model="qwen-vl-max", messages=[{"role": "user", "content": [{"image": "a.png", "max_pixels": "big"}]}])  # E[list-item] messages
client.generation.create(model="qwen-plus", messages=history, tools=[{"type": "function", "function": {"nme": "f"}}])  # E[list-item] tools
client.generation.create(model="qwen-plus", messages=history, search_options={"forced_serch": True})  # E[call-overload] search_options
client.generation.create(model="qwen-plus", messages=history, logit_bias={"1024": "high"})  # E[dict-item] logit_bias
client.generation.create(model="qwen-plus", messages=history, ocr_options={"task": 3})  # E[call-overload] ocr_options
client.chat.completions.create(model="qwen-plus", messages=[{"role": "developer", "content": "hi"}])  # E[list-item] messages
client.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": [{"type": "text", "txt": "hi"}]}])  # E[list-item] messages
client.chat.completions.create(model="qwen-plus", messages=history)  # E[arg-type] messages
message: MessageParam = {"role": "user", "content": "hi", "extra": 1}  # E[assignment] declared type


async def main(aclient: AsyncModelStudio) -> None:
    await aclient.generation.create(model="qwen-plus", messages=[{"role": "user", "content": "hi"}])
    await aclient.multimodal.create(model="qwen-vl-max", messages=[{"role": "user", "content": [{"image": 1}]}])  # E[list-item] messages
    await aclient.chat.completions.create(model="qwen-plus", messages=chat, tools=[{"type": "function"}])  # E[list-item] tools


tool: ToolParam = {"type": "function", "function": {"name": 3}}  # E[typeddict-item] declared type
"""


def expected_errors() -> dict[int, tuple[str, str]]:
    """line -> (mypy error code, what pyright's message names)."""
    out: dict[int, tuple[str, str]] = {}
    for number, text in enumerate(USER_CODE.splitlines(), start=1):
        if "  # E[" in text:
            code, _, names = text.split("  # E[", 1)[1].partition("] ")
            out[number] = (code, names)
    return out


def run_checkers(tmp_path: Path) -> tuple[str, str]:
    """mypy --strict and pyright on the user code, side by side: (mypy output, pyright JSON)."""
    source = tmp_path / "user_code.py"
    source.write_text(USER_CODE, encoding="utf-8")
    mypy = subprocess.Popen(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version", "3.10",
         "--config-file", "/dev/null", "--show-error-codes", str(source)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    pyright = subprocess.Popen(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable,
         "--pythonversion", "3.10", str(source)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    mypy_out, _ = mypy.communicate(timeout=600)
    pyright_out, pyright_err = pyright.communicate(timeout=600)
    assert pyright_out.strip(), pyright_err
    return mypy_out, pyright_out


def test_type_checkers_accept_good_dict_arguments_and_reject_bad_ones(tmp_path: Path) -> None:
    expected = expected_errors()
    assert len(expected) == 17
    mypy_out, pyright_out = run_checkers(tmp_path)

    mypy_errors: dict[int, list[str]] = {}
    for line in mypy_out.splitlines():
        if ": error:" in line:
            mypy_errors.setdefault(int(line.split(":")[1]), []).append(line)
    assert sorted(mypy_errors) == sorted(expected), mypy_out
    for number, (code, _) in expected.items():
        assert any(f"[{code}]" in e for e in mypy_errors[number]), (number, mypy_errors[number])

    report = json.loads(pyright_out)
    pyright_errors: dict[int, list[str]] = {}
    for diagnostic in report["generalDiagnostics"]:
        if diagnostic["severity"] == "error":
            number = diagnostic["range"]["start"]["line"] + 1
            pyright_errors.setdefault(number, []).append(diagnostic["message"])
    assert sorted(pyright_errors) == sorted(expected), pyright_out
    for number, (_, names) in expected.items():
        wanted = names if names == "declared type" else f'parameter "{names}"'
        assert any(wanted in m for m in pyright_errors[number]), (number, pyright_errors[number])
