"""Accumulation of native DashScope stream chunks (decoded JSON dicts).

A chunk has the shape of a non-streaming response: ``request_id``, ``output`` and ``usage``.
``output`` holds one of:

* ``text`` + ``finish_reason`` (``result_format="text"``);
* ``choices[]`` with ``finish_reason`` and ``message`` {``role``, ``content`` (a string, or a
  list of parts such as ``{"text": ...}`` for multimodal models), ``reasoning_content``,
  ``tool_calls``} (``result_format="message"``);
* ``message`` {``phase``, ``status``, ``content``, ``extra``} (qwen-deep-research).

``finish_reason`` is the string ``"null"`` until the final event. ``usage`` is cumulative in
every event, so the last one is the total.

With ``incremental_output=true`` each event carries only the new text; otherwise each event
repeats the whole text so far and :class:`Accumulator` (``incremental=False``) turns it into the
suffix beyond what was already seen. If the server's text is not an extension of what was seen,
the whole new text is the delta and replaces the accumulated value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelstudio.types import ToolCall

__all__ = ["NO_DELTA", "Accumulator", "Delta"]

_KNOWN_OUTPUT_KEYS = frozenset(("text", "finish_reason", "choices", "message"))
_KNOWN_CHOICE_KEYS = frozenset(("message", "finish_reason", "index"))
_KNOWN_MESSAGE_KEYS = frozenset(("role", "content", "reasoning_content", "tool_calls"))
_FAST_MESSAGE_KEYS = frozenset(("role", "content", "reasoning_content"))
_NOT_FINAL = (None, "null", "")


class Delta:
    """What one chunk added, for one choice (the first choice of the chunk).

    ``tool_calls`` holds the tool-call fragments of this chunk as typed ``ToolCall`` objects
    (the type of the final message's calls; a later fragment of a call has an empty ``id`` and
    only argument text), decoded on first access from ``tool_call_fragments``, the JSON as
    received with ``index`` filled in.
    """

    __slots__ = (
        "_tool_calls",
        "finish_reason",
        "index",
        "reasoning_content",
        "text",
        "tool_call_fragments",
    )

    def __init__(
        self,
        text: str = "",
        reasoning_content: str = "",
        tool_call_fragments: list[dict[str, Any]] | None = None,
        finish_reason: str | None = None,
        index: int = 0,
    ) -> None:
        self.text = text
        self.reasoning_content = reasoning_content
        self.tool_call_fragments: list[dict[str, Any]] = (
            [] if tool_call_fragments is None else tool_call_fragments
        )
        self._tool_calls: list[ToolCall] | None = None
        self.finish_reason = finish_reason
        self.index = index

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool-call fragments of this chunk, typed."""
        calls = self._tool_calls
        if calls is None:
            if self.tool_call_fragments:
                from modelstudio.types import ToolCall

                calls = [ToolCall.from_dict(f) for f in self.tool_call_fragments]
            else:
                calls = []
            self._tool_calls = calls
        return calls

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Delta):
            return NotImplemented
        return (
            self.text == other.text
            and self.reasoning_content == other.reasoning_content
            and self.tool_call_fragments == other.tool_call_fragments
            and self.finish_reason == other.finish_reason
            and self.index == other.index
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Delta(text={self.text!r}, reasoning_content={self.reasoning_content!r}, "
            f"tool_calls={self.tool_calls!r}, finish_reason={self.finish_reason!r}, "
            f"index={self.index!r})"
        )


NO_DELTA = Delta()
"""The delta of a chunk decoded outside a stream: nothing added."""


def _final_reason(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value == "null":
        return None
    return value


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _merge_extra(into: dict[str, Any], source: dict[str, Any], known: frozenset[str]) -> None:
    """Keep unknown keys; a later non-empty value wins (dicts are merged one level deep), so a
    ``search_info`` sent in full once and empty afterwards keeps its results."""
    for key, value in source.items():
        if key in known:
            continue
        old = into.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            merged = dict(old)
            for k, v in value.items():
                if not _is_empty(v) or k not in merged:
                    merged[k] = v
            into[key] = merged
        elif old is None or not _is_empty(value):
            into[key] = value


class _Text:
    """One accumulated string: pieces joined lazily (incremental) or the latest whole text."""

    __slots__ = ("incremental", "length", "parts", "whole")

    def __init__(self, incremental: bool) -> None:
        self.incremental = incremental
        self.parts: list[str] = []
        self.whole = ""
        self.length = 0

    def add(self, value: str) -> str:
        if self.incremental:
            if value:
                self.parts.append(value)
                self.length += len(value)
            return value
        old = self.whole
        self.whole = value
        self.length = len(value)
        if value.startswith(old):
            return value[len(old) :]
        return value

    def value(self) -> str:
        if self.incremental:
            if len(self.parts) > 1:
                self.parts[:] = ["".join(self.parts)]
            return self.parts[0] if self.parts else ""
        return self.whole


class _ToolCall:
    __slots__ = ("arguments", "extra", "function_extra", "id", "index", "name", "type")

    def __init__(self, index: int, incremental: bool) -> None:
        self.index = index
        self.id = ""
        self.type = ""
        self.name = ""
        self.arguments = _Text(incremental)
        self.extra: dict[str, Any] = {}
        self.function_extra: dict[str, Any] = {}

    def add(self, fragment: dict[str, Any]) -> dict[str, Any]:
        """Merge one fragment; return it as a delta (arguments reduced to the new text)."""
        if fragment.get("id"):
            self.id = fragment["id"]
        if fragment.get("type"):
            self.type = fragment["type"]
        function = fragment.get("function")
        if not isinstance(function, dict):
            function = {}
        if function.get("name"):
            self.name = function["name"]
        args = function.get("arguments")
        new_args = self.arguments.add(args) if isinstance(args, str) else ""
        _merge_extra(self.extra, fragment, frozenset(("index", "id", "type", "function")))
        _merge_extra(self.function_extra, function, frozenset(("name", "arguments")))
        if self.arguments.incremental:
            if "index" in fragment:
                return fragment
            return {"index": self.index, **fragment}
        delta = dict(fragment)
        delta["index"] = self.index
        delta["function"] = {**function, "arguments": new_args}
        return delta

    def final(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "id": self.id, "type": self.type or "function"}
        out.update(self.extra)
        out["function"] = {
            "name": self.name,
            "arguments": self.arguments.value(),
            **self.function_extra,
        }
        return out


class _Choice:
    __slots__ = (
        "choice_extra",
        "content",
        "content_is_list",
        "finish_reason",
        "has_index",
        "has_reasoning",
        "index",
        "message_extra",
        "other_parts",
        "reasoning",
        "role",
        "tool_calls",
    )

    def __init__(self, index: int, incremental: bool) -> None:
        self.index = index
        self.has_index = False
        self.role = "assistant"
        self.content = _Text(incremental)
        self.content_is_list = False
        # Non-text parts of a list content, with the length of the text before each one.
        self.other_parts: list[tuple[int, dict[str, Any]]] = []
        self.reasoning = _Text(incremental)
        self.has_reasoning = False
        self.tool_calls: dict[int, _ToolCall] = {}
        self.finish_reason: str | None = None
        self.choice_extra: dict[str, Any] = {}
        self.message_extra: dict[str, Any] = {}


class Accumulator:
    """Merge stream chunks; :meth:`add` returns the :class:`Delta` of each chunk."""

    __slots__ = (
        "__weakref__",
        "_choices",
        "_common",
        "_dr_content",
        "_dr_finished",
        "_dr_message",
        "_last",
        "_output_extra",
        "_output_finish",
        "_request_id",
        "_text",
        "events",
        "incremental",
    )

    def __init__(self, *, incremental: bool) -> None:
        self.incremental = incremental
        self._choices: dict[int, _Choice] = {}
        self._text: _Text | None = None
        self._output_finish: str | None = None
        self._dr_content: dict[str, _Text] = {}
        self._dr_message: dict[str, Any] | None = None
        self._dr_finished = False
        self._output_extra: dict[str, Any] = {}
        self._last: dict[str, Any] = {}
        self._request_id: Any = None
        self.events = 0
        # The state of choice 0 once seen, in an incremental stream: what `add_common` extends.
        self._common: _Choice | None = None

    def add_common(self, chunk: dict[str, Any]) -> Delta | None:
        """The common event, added: one choice already seen, more text or reasoning, no final
        reason, nothing but role/content/reasoning_content, each part of the shape `add`
        expects. Exactly what `add` does with it; None, having done nothing, for any other
        event (then call `add`)."""
        output = chunk.get("output")
        if output.__class__ is not dict or len(output) != 1:
            return None
        choices = output.get("choices")
        if choices.__class__ is not list or len(choices) != 1:
            return None
        choice = choices[0]
        state = self._common
        if (
            state is None
            or choice.__class__ is not dict
            or not _KNOWN_CHOICE_KEYS.issuperset(choice)
            or choice.get("finish_reason") not in _NOT_FINAL
            or choice.get("index", 0) != 0
        ):
            return None
        message = choice.get("message")
        if message.__class__ is not dict or not _FAST_MESSAGE_KEYS.issuperset(message):
            return None
        content = message.get("content", "")
        reasoning = message.get("reasoning_content")
        if content.__class__ is not str or (
            reasoning is not None and reasoning.__class__ is not str
        ):
            return None
        if reasoning is None:
            if "reasoning_content" in message:
                return None  # a null reasoning_content: `add` keeps has_reasoning as it was
            reasoning = ""
        else:
            state.has_reasoning = True
            if reasoning:
                state.reasoning.parts.append(reasoning)
                state.reasoning.length += len(reasoning)
        self.events += 1
        self._last = chunk
        if not self._request_id:
            self._request_id = chunk.get("request_id")
        role = message.get("role")
        if role:
            state.role = role
        if content:
            state.content.parts.append(content)
            state.content.length += len(content)
        return Delta(content, reasoning)

    def add(self, chunk: dict[str, Any]) -> Delta:
        self.events += 1
        self._last = chunk
        if not self._request_id:
            self._request_id = chunk.get("request_id")
        return self._add_general(chunk.get("output"))

    def _add_general(self, output: Any) -> Delta:
        if not isinstance(output, dict):
            return Delta()
        if not _KNOWN_OUTPUT_KEYS.issuperset(output):
            _merge_extra(self._output_extra, output, _KNOWN_OUTPUT_KEYS)
        delta = Delta()
        if "finish_reason" in output:
            reason = _final_reason(output["finish_reason"])
            if reason is not None:
                self._output_finish = reason
                delta.finish_reason = reason
        text = output.get("text")
        if text.__class__ is str:
            if self._text is None:
                self._text = _Text(self.incremental)
            delta.text = self._text.add(text)
        choices = output.get("choices")
        if choices and isinstance(choices, list):
            # The returned delta describes the first choice of the chunk.
            for position, choice in enumerate(choices):
                if isinstance(choice, dict):
                    self._add_choice(position, choice, delta if position == 0 else Delta())
        if "message" in output and isinstance(output["message"], dict):
            self._add_research(output["message"], delta)
        return delta

    def _add_choice(self, position: int, choice: dict[str, Any], delta: Delta) -> None:
        index = position
        if "index" in choice and isinstance(choice["index"], int):
            index = choice["index"]
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _Choice(index, self.incremental)
            state.has_index = "index" in choice
            if index == 0 and self.incremental:
                self._common = state
        delta.index = index
        reason = choice.get("finish_reason")
        if reason and reason != "null":
            reason = _final_reason(reason)
            if reason is not None:
                state.finish_reason = reason
                delta.finish_reason = reason
        if not _KNOWN_CHOICE_KEYS.issuperset(choice):
            _merge_extra(state.choice_extra, choice, _KNOWN_CHOICE_KEYS)
        message = choice.get("message")
        if not isinstance(message, dict):
            return
        role = message.get("role")
        if role:
            state.role = role
        content = message.get("content")
        if content.__class__ is str:
            if self.incremental:
                if content:
                    state.content.parts.append(content)
                    state.content.length += len(content)
                    delta.text += content
            else:
                delta.text += state.content.add(content)
        elif isinstance(content, list):
            state.content_is_list = True
            delta.text += self._add_parts(state, content)
        if "reasoning_content" in message:
            reasoning = message["reasoning_content"]
            if isinstance(reasoning, str):
                state.has_reasoning = True
                delta.reasoning_content = state.reasoning.add(reasoning)
        if "tool_calls" in message and (tool_calls := message["tool_calls"]):
            new: list[dict[str, Any]] = []
            for pos, fragment in enumerate(tool_calls):
                if not isinstance(fragment, dict):
                    continue
                tc_index = fragment.get("index")
                if not isinstance(tc_index, int):
                    tc_index = pos
                call = state.tool_calls.get(tc_index)
                if call is None:
                    call = state.tool_calls[tc_index] = _ToolCall(tc_index, self.incremental)
                new.append(call.add(fragment))
            delta.tool_call_fragments = new
        if not _KNOWN_MESSAGE_KEYS.issuperset(message):
            _merge_extra(state.message_extra, message, _KNOWN_MESSAGE_KEYS)

    def _add_parts(self, state: _Choice, parts: list[Any]) -> str:
        texts: list[str] = []
        others: list[dict[str, Any]] = []
        for part in parts:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str) and len(part) == 1:
                    texts.append(text)
                else:
                    others.append(part)
        joined = "".join(texts)
        if not self.incremental:
            # The whole list is repeated each time: keep the latest non-text parts.
            state.other_parts = [(0, p) for p in others]
            return state.content.add(joined)
        if others:
            # Text in the same chunk goes before the non-text parts of that chunk.
            before = state.content.length + len(joined)
            state.other_parts.extend((before, p) for p in others)
        return state.content.add(joined)

    def _add_research(self, message: dict[str, Any], delta: Delta) -> None:
        phase = message.get("phase") or ""
        content = message.get("content")
        if isinstance(content, str):
            text = self._dr_content.get(phase)
            if text is None:
                text = self._dr_content[phase] = _Text(self.incremental)
            delta.text += text.add(content)
        self._dr_message = message
        if phase == "answer" and message.get("status") == "finished":
            self._dr_finished = True
            delta.finish_reason = delta.finish_reason or "stop"

    @property
    def finished(self) -> bool:
        """True once the server sent its final event (a final ``finish_reason`` for every
        choice seen, a final ``output.finish_reason``, or deep research's answer finished)."""
        if self._output_finish is not None or self._dr_finished:
            return True
        if not self._choices:
            return False
        return all(c.finish_reason is not None for c in self._choices.values())

    @property
    def request_id(self) -> str | None:
        rid = self._request_id
        return rid if isinstance(rid, str) else None

    def final(self) -> dict[str, Any]:
        """The accumulated response in the non-streaming shape."""
        result: dict[str, Any] = dict(self._last)
        if self._request_id:
            result["request_id"] = self._request_id
        last_output = self._last.get("output")
        output: dict[str, Any] = dict(last_output) if isinstance(last_output, dict) else {}
        output.update(self._output_extra)
        if self._text is not None:
            output["text"] = self._text.value()
            output["finish_reason"] = self._output_finish
        elif "finish_reason" in output:
            output["finish_reason"] = self._output_finish
        if self._choices:
            output["choices"] = [
                self._final_choice(self._choices[i]) for i in sorted(self._choices)
            ]
        if self._dr_message is not None:
            message = dict(self._dr_message)
            phase = message.get("phase") or ""
            text = self._dr_content.get(phase)
            if text is not None:
                message["content"] = text.value()
            output["message"] = message
        if output or "output" in result:
            result["output"] = output
        return result

    def _final_choice(self, state: _Choice) -> dict[str, Any]:
        message: dict[str, Any] = {"role": state.role}
        text = state.content.value()
        if state.content_is_list:
            parts: list[dict[str, Any]] = []
            pos = 0
            for offset, part in state.other_parts:
                if offset > pos:
                    parts.append({"text": text[pos:offset]})
                    pos = offset
                parts.append(part)
            if pos < len(text):
                parts.append({"text": text[pos:]})
            message["content"] = parts
        else:
            message["content"] = text
        if state.has_reasoning:
            message["reasoning_content"] = state.reasoning.value()
        if state.tool_calls:
            message["tool_calls"] = [state.tool_calls[i].final() for i in sorted(state.tool_calls)]
        message.update(state.message_extra)
        choice: dict[str, Any] = {}
        if state.has_index:
            choice["index"] = state.index
        choice["finish_reason"] = state.finish_reason
        choice["message"] = message
        choice.update(state.choice_extra)
        return choice
