"""Accumulation of OpenAI-compatible ``chat.completion.chunk`` events (decoded JSON dicts).

A chunk is ``{id, object, created, model, system_fingerprint, choices[], usage}``; each choice
is ``{index, delta: {role, content, reasoning_content, tool_calls}, finish_reason, logprobs}``.
Deltas are always incremental: ``content`` and ``reasoning_content`` (a DashScope extension)
carry only new text, and ``tool_calls`` fragments are merged by their ``index`` (``id``, ``type``
and ``function.name`` arrive once, ``function.arguments`` in pieces).

With ``stream_options.include_usage`` the server sends, after the chunk with the final
``finish_reason``, one chunk with empty ``choices`` and the ``usage``; the stream then ends with
``data: [DONE]`` (the stream object skips it and calls :meth:`ChatAccumulator.mark_done`).

:meth:`ChatAccumulator.add` returns the same :class:`Delta` as the native accumulator (``text``
is ``delta.content``), and :meth:`ChatAccumulator.final` the whole answer as a non-streamed
``chat.completion`` dict.
"""

from __future__ import annotations

from typing import Any

from ._accumulate import Delta

__all__ = ["ChatAccumulator", "Delta"]

_KNOWN_CHUNK_KEYS = frozenset(("id", "object", "created", "model", "choices", "usage"))
_KNOWN_CHOICE_KEYS = frozenset(("index", "delta", "finish_reason", "logprobs"))
_KNOWN_DELTA_KEYS = frozenset(("role", "content", "reasoning_content", "tool_calls"))
_COMMON_DELTA_KEYS = frozenset(("role", "content", "reasoning_content"))


def _merge_extra(into: dict[str, Any], source: dict[str, Any], known: frozenset[str]) -> None:
    """Keep unknown keys; a later non-null value wins."""
    for key, value in source.items():
        if key not in known and (value is not None or key not in into):
            into[key] = value


class _ToolCall:
    __slots__ = ("arguments", "extra", "id", "index", "name", "type")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id = ""
        self.type = ""
        self.name = ""
        self.arguments: list[str] = []
        self.extra: dict[str, Any] = {}

    def add(self, fragment: dict[str, Any]) -> None:
        if fragment.get("id"):
            self.id = fragment["id"]
        if fragment.get("type"):
            self.type = fragment["type"]
        function = fragment.get("function")
        if isinstance(function, dict):
            if function.get("name"):
                self.name = function["name"]
            args = function.get("arguments")
            if isinstance(args, str) and args:
                self.arguments.append(args)
        _merge_extra(self.extra, fragment, frozenset(("index", "id", "type", "function")))

    def final(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "id": self.id, "type": self.type or "function"}
        out.update(self.extra)
        out["function"] = {"name": self.name, "arguments": "".join(self.arguments)}
        return out


class _Choice:
    __slots__ = (
        "content",
        "extra",
        "finish_reason",
        "has_content",
        "has_reasoning",
        "index",
        "logprobs",
        "message_extra",
        "reasoning",
        "role",
        "tool_calls",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.role = "assistant"
        self.content: list[str] = []
        self.has_content = False
        self.reasoning: list[str] = []
        self.has_reasoning = False
        self.tool_calls: dict[int, _ToolCall] = {}
        self.finish_reason: str | None = None
        self.logprobs: Any = None
        self.extra: dict[str, Any] = {}
        self.message_extra: dict[str, Any] = {}

    def final(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": self.role,
            "content": "".join(self.content) if self.has_content else None,
        }
        if self.has_reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i].final() for i in sorted(self.tool_calls)]
        message.update(self.message_extra)
        choice: dict[str, Any] = {
            "index": self.index,
            "message": message,
            "finish_reason": self.finish_reason,
            "logprobs": self.logprobs,
        }
        choice.update(self.extra)
        return choice


class ChatAccumulator:
    """Merge ``chat.completion.chunk`` events; :meth:`add` returns the :class:`Delta` of each.

    ``include_usage``: the request asked for the usage chunk, so the stream is complete only
    once it arrived (or ``[DONE]`` was seen).
    """

    __slots__ = (
        "__weakref__",
        "_choices",
        "_done",
        "_has_usage",
        "_request_id",
        "_top",
        "_usage",
        "events",
        "include_usage",
    )

    def __init__(self, *, include_usage: bool = False) -> None:
        self.include_usage = include_usage
        self._choices: dict[int, _Choice] = {}
        self._top: dict[str, Any] = {}
        self._usage: Any = None
        self._has_usage = False
        self._done = False
        self._request_id: Any = None
        self.events = 0

    def add_common(self, chunk: dict[str, Any]) -> Delta | None:
        """The common chunk, added: one choice already seen (index 0), no ``finish_reason``,
        ``logprobs`` or ``usage``, a delta of nothing but string ``role`` / ``content`` /
        ``reasoning_content``. Exactly what `add` does with it; None, having done nothing, for
        any other chunk (then call `add`). Every typed part of such a chunk has been checked
        here, so its lazily decoded object cannot fail later."""
        choices = chunk.get("choices")
        if choices.__class__ is not list or len(choices) != 1:
            return None
        choice = choices[0]
        state = self._choices.get(0)
        if (
            state is None
            or choice.__class__ is not dict
            or not _KNOWN_CHOICE_KEYS.issuperset(choice)
            or choice.get("finish_reason") is not None
            or choice.get("logprobs") is not None
            or chunk.get("usage") is not None
        ):
            return None
        index = choice.get("index", 0)
        if index.__class__ is not int or index != 0:
            return None
        message = choice.get("delta")
        if message.__class__ is not dict or not _COMMON_DELTA_KEYS.issuperset(message):
            return None
        role = message.get("role")
        content = message.get("content")
        reasoning = message.get("reasoning_content")
        if (
            (role is not None and role.__class__ is not str)
            or (content is not None and content.__class__ is not str)
            or (reasoning is not None and reasoning.__class__ is not str)
        ):
            return None
        self._add_top(chunk)
        if role:
            state.role = role
        if content is None:
            content = ""
        else:
            state.has_content = True
            if content:
                state.content.append(content)
        if reasoning is None:
            reasoning = ""
        else:
            state.has_reasoning = True
            if reasoning:
                state.reasoning.append(reasoning)
        return Delta(content, reasoning)

    def _add_top(self, chunk: dict[str, Any]) -> None:
        self.events += 1
        top = self._top
        for key in ("id", "created", "model"):
            value = chunk.get(key)
            if value is not None:
                top[key] = value
        if not self._request_id:
            self._request_id = chunk.get("request_id")
        if not _KNOWN_CHUNK_KEYS.issuperset(chunk):
            _merge_extra(top, chunk, _KNOWN_CHUNK_KEYS)

    def add(self, chunk: dict[str, Any]) -> Delta:
        self._add_top(chunk)
        usage = chunk.get("usage")
        if usage is not None:
            self._usage = usage
            self._has_usage = True
        delta = Delta()
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for position, choice in enumerate(choices):
                if isinstance(choice, dict):
                    self._add_choice(position, choice, delta if position == 0 else Delta())
        return delta

    def _add_choice(self, position: int, choice: dict[str, Any], delta: Delta) -> None:
        index = choice.get("index")
        if not isinstance(index, int):
            index = position
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _Choice(index)
        delta.index = index
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            state.finish_reason = delta.finish_reason = reason
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict):
            if isinstance(state.logprobs, dict):
                for key, value in logprobs.items():
                    old = state.logprobs.get(key)
                    if isinstance(old, list) and isinstance(value, list):
                        state.logprobs[key] = old + value
                    else:
                        state.logprobs[key] = value
            else:
                state.logprobs = {
                    k: list(v) if isinstance(v, list) else v for k, v in logprobs.items()
                }
        if not _KNOWN_CHOICE_KEYS.issuperset(choice):
            _merge_extra(state.extra, choice, _KNOWN_CHOICE_KEYS)
        message = choice.get("delta")
        if not isinstance(message, dict):
            return
        role = message.get("role")
        if isinstance(role, str) and role:
            state.role = role
        content = message.get("content")
        if isinstance(content, str):
            state.has_content = True
            if content:
                state.content.append(content)
                delta.text = content
        reasoning = message.get("reasoning_content")
        if isinstance(reasoning, str):
            state.has_reasoning = True
            if reasoning:
                state.reasoning.append(reasoning)
                delta.reasoning_content = reasoning
        tool_calls = message.get("tool_calls")
        if isinstance(tool_calls, list) and tool_calls:
            new: list[dict[str, Any]] = []
            for pos, fragment in enumerate(tool_calls):
                if not isinstance(fragment, dict):
                    continue
                tc_index = fragment.get("index")
                if not isinstance(tc_index, int):
                    tc_index = pos
                call = state.tool_calls.get(tc_index)
                if call is None:
                    call = state.tool_calls[tc_index] = _ToolCall(tc_index)
                call.add(fragment)
                new.append(fragment if "index" in fragment else {"index": tc_index, **fragment})
            delta.tool_call_fragments = new
        if not _KNOWN_DELTA_KEYS.issuperset(message):
            _merge_extra(state.message_extra, message, _KNOWN_DELTA_KEYS)

    def mark_done(self) -> None:
        """The server sent ``data: [DONE]``: the stream ended as the protocol says it should."""
        self._done = True

    @property
    def finished(self) -> bool:
        """True after ``[DONE]``, or once every choice seen has a final ``finish_reason`` (and,
        when ``include_usage`` was requested, the usage chunk arrived)."""
        if self._done:
            return True
        if not self._choices or any(c.finish_reason is None for c in self._choices.values()):
            return False
        return self._has_usage or not self.include_usage

    @property
    def request_id(self) -> str | None:
        rid = self._request_id
        return rid if isinstance(rid, str) else None

    def final(self) -> dict[str, Any]:
        """The accumulated answer as a non-streamed ``chat.completion`` dict."""
        result: dict[str, Any] = {
            "id": self._top.get("id"),
            "object": "chat.completion",
            "created": self._top.get("created"),
            "model": self._top.get("model"),
        }
        for key, value in self._top.items():
            if key not in result and key != "object":
                result[key] = value
        result["choices"] = [self._choices[i].final() for i in sorted(self._choices)]
        result["usage"] = self._usage
        return result
