"""Partial mode: continue an answer the service cut short (``x-dashscope-partialresponse``).

A non-streamed call that runs past the service's 300 s limit comes back with the text generated
so far and the header ``x-dashscope-partialresponse: true`` (``response.partial``). The model
continues such a prefix when it is sent back as the last message, an assistant message with
``partial: true``. These helpers build that conversation; the clients' ``continue_partial``
sends it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["continuation_messages", "partial_text"]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for part in content if isinstance(content, Sequence) else ():
        text = part.get("text") if isinstance(part, Mapping) else getattr(part, "text", None)
        if isinstance(text, str):
            texts.append(text)
    return "".join(texts)


def partial_text(response: Any) -> str:
    """The text of the (first) answer in a ``GenerationResponse``: ``output.text``, else the
    content of the first choice's message."""
    output = getattr(response, "output", None)
    text = getattr(output, "text", None)
    if isinstance(text, str) and text:
        return text
    for choice in getattr(output, "choices", None) or []:
        message = getattr(choice, "message", None)
        if message is not None:
            return _text_of(getattr(message, "content", None))
    return ""


def _field(message: Any, name: str) -> Any:
    if isinstance(message, Mapping):
        return message.get(name)
    return getattr(message, name, None)


def continuation_messages(messages: Sequence[Any], text: str) -> list[Any]:
    """``messages`` followed by ``text`` as a partial assistant message.

    When the conversation already ends with a partial assistant message (an earlier
    continuation), ``text`` is appended to its content instead, so the model sees the whole
    prefix once.
    """
    result = list(messages)
    last = result[-1] if result else None
    if (
        last is not None
        and _field(last, "role") == "assistant"
        and _field(last, "partial") is True
        and isinstance(_field(last, "content"), str)
    ):
        result[-1] = {
            "role": "assistant",
            "content": _field(last, "content") + text,
            "partial": True,
        }
    else:
        result.append({"role": "assistant", "content": text, "partial": True})
    return result
