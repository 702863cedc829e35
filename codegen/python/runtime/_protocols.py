"""One request, either wire: translation between the native DashScope protocol and the
OpenAI-compatible one (``/compatible-mode/v1/chat/completions``).

Requests (both directions, see :func:`native_to_openai_request` and
:func:`openai_to_native_request`):

================================================  ===============================================
native (``/services/aigc/...``)                   OpenAI-compatible (``/chat/completions``)
================================================  ===============================================
``{"model", "input": {"messages"}, "parameters"}``  ``{"model", "messages", **parameters}``
part ``{"text": t}``                              ``{"type": "text", "text": t}``
part ``{"image": url, **extra}``                  ``{"type": "image_url", "image_url": {"url": url},
                                                  **extra}`` (``min_pixels``/``max_pixels`` stay
                                                  beside ``image_url``)
part ``{"video": [frame, ...], **extra}``         ``{"type": "video", "video": [...], **extra}``
part ``{"video": url, **extra}``                  ``{"type": "video_url", "video_url": {"url": url},
                                                  **extra}`` (``fps`` stays at part level)
part ``{"audio": url}``                           ``{"type": "input_audio",
                                                  "input_audio": {"data": url}}``
``parameters.result_format``                      dropped (the compatible answer is always
                                                  ``chat.completion``)
``parameters.incremental_output``, ``.stream``   dropped (compatible streams are always
                                                  incremental); set to true going back when
                                                  streaming
header ``X-DashScope-SSE: enable``                ``"stream": true,
                                                  "stream_options": {"include_usage": true}``
================================================  ===============================================

String contents and the other message keys (``tool_calls``, ``tool_call_id``, ``name``,
``partial``, ...) are the same on both wires; every other parameter is moved to the top level as
is (DashScope extensions such as ``enable_thinking`` are top-level fields of the compatible body).

Answers (:class:`Translation`): a ``chat.completion`` (or ``chunk``) becomes the native response
shape, so ``client.generation.create`` / ``client.multimodal.create`` return the same
``GenerationResponse`` / chunk types on both protocols: ``choices[].message`` (``delta`` for a
chunk) -> ``output.choices[].message`` (content as ``[{"text": ...}]`` for the multimodal
endpoint, or ``output.text`` when ``result_format="text"`` was asked for), ``usage``
``prompt_tokens``/``completion_tokens``/``total_tokens`` -> ``input_tokens``/``output_tokens``/
``total_tokens`` (``completion_tokens_details`` -> ``output_tokens_details``). The native
``request_id`` is the ``x-request-id`` header of the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._options import PROTOCOLS as PROTOCOLS
from ._options import ProtocolName as ProtocolName
from ._record import FrozenRecord

__all__ = [
    "CHAT_COMPLETIONS_PATH",
    "PROTOCOLS",
    "ProtocolName",
    "Translation",
    "native_part_to_openai",
    "native_to_openai_request",
    "openai_part_to_native",
    "openai_to_native_request",
    "translation_for",
]

CHAT_COMPLETIONS_PATH = "/chat/completions"
_DROPPED = frozenset(("result_format", "incremental_output", "stream"))


def native_part_to_openai(part: Any) -> Any:
    """One native content part (kind given by its key) as an OpenAI-style typed part."""
    if not isinstance(part, Mapping) or "type" in part:
        return part
    rest = dict(part)
    if "text" in rest:
        return {"type": "text", **rest}
    if "image" in rest:
        url = rest.pop("image")
        return {"type": "image_url", "image_url": {"url": url}, **rest}
    if "video" in rest:
        video = rest.pop("video")
        if isinstance(video, list):
            return {"type": "video", "video": video, **rest}
        return {"type": "video_url", "video_url": {"url": video}, **rest}
    if "audio" in rest:
        url = rest.pop("audio")
        return {"type": "input_audio", "input_audio": {"data": url}, **rest}
    return rest


def openai_part_to_native(part: Any) -> Any:
    """One OpenAI-style typed part as a native content part."""
    if not isinstance(part, Mapping) or "type" not in part:
        return part
    rest = dict(part)
    kind = rest.pop("type")
    if kind == "text":
        return rest
    if kind in ("image_url", "video_url"):
        wrapped = rest.pop(kind)
        url = wrapped.get("url") if isinstance(wrapped, Mapping) else wrapped
        return {("image" if kind == "image_url" else "video"): url, **rest}
    if kind == "video":
        return rest
    if kind == "input_audio":
        audio = rest.pop("input_audio")
        data = audio.get("data") if isinstance(audio, Mapping) else audio
        return {"audio": data, **rest}
    return dict(part)


def _messages(messages: Any, convert: Any) -> Any:
    if not isinstance(messages, list):
        return messages
    out: list[Any] = []
    for message in messages:
        if isinstance(message, Mapping) and isinstance(message.get("content"), list):
            message = {**message, "content": [convert(p) for p in message["content"]]}
        out.append(message)
    return out


def native_to_openai_request(body: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
    """The compatible-mode body for a native body (``stream``: the call streams)."""
    native_input = body.get("input")
    if not isinstance(native_input, Mapping) or "messages" not in native_input:
        raise ValueError(
            "protocol='openai' needs input.messages (the compatible body has no prompt)"
        )
    others = sorted(k for k in native_input if k != "messages")
    if others:
        raise ValueError(f"protocol='openai' cannot send input fields {others}")
    out: dict[str, Any] = {
        "model": body.get("model"),
        "messages": _messages(native_input["messages"], native_part_to_openai),
    }
    parameters = body.get("parameters")
    if isinstance(parameters, Mapping):
        out.update((k, v) for k, v in parameters.items() if k not in _DROPPED)
    extra = sorted(k for k in body if k not in ("model", "input", "parameters"))
    out.update((k, body[k]) for k in extra)
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def openai_to_native_request(body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The native body for a compatible-mode body, and whether it streams."""
    stream = body.get("stream") is True
    parameters = {
        k: v for k, v in body.items() if k not in ("model", "messages", "stream", "stream_options")
    }
    if stream:
        parameters["incremental_output"] = True
    out: dict[str, Any] = {
        "model": body.get("model"),
        "input": {"messages": _messages(body.get("messages"), openai_part_to_native)},
    }
    if parameters:
        out["parameters"] = parameters
    return out, stream


def _usage(usage: Any) -> Any:
    if not isinstance(usage, Mapping):
        return usage
    names = {
        "prompt_tokens": "input_tokens",
        "completion_tokens": "output_tokens",
        "completion_tokens_details": "output_tokens_details",
    }
    return {names.get(k, k): v for k, v in usage.items()}


class Translation(FrozenRecord):
    """How the compatible answer of a translated native call becomes the native shape.

    ``parts``: the native endpoint answers content as a list of ``{"text": ...}`` parts
    (multimodal-generation); ``text_format``: the call asked for ``result_format="text"``.
    """

    __slots__ = ("parts", "text_format")
    parts: bool
    text_format: bool

    def __init__(self, parts: bool = False, text_format: bool = False) -> None:
        self._set(parts=parts, text_format=text_format)

    def _content(self, content: Any) -> Any:
        if self.parts and isinstance(content, str):
            return [{"text": content}]
        return content

    def _output(self, choices: Any, key: str, chunk: bool) -> dict[str, Any]:
        if not isinstance(choices, list):
            return {}
        if self.text_format:
            first = choices[0] if choices and isinstance(choices[0], Mapping) else {}
            message = first.get(key) if isinstance(first.get(key), Mapping) else {}
            reason = first.get("finish_reason")
            text = message.get("content") if isinstance(message, Mapping) else None
            return {
                "text": text if isinstance(text, str) else "",
                "finish_reason": reason if reason else ("null" if chunk else None),
            }
        out: list[dict[str, Any]] = []
        for choice in choices:
            if not isinstance(choice, Mapping):
                continue
            source = choice.get(key)
            message = dict(source) if isinstance(source, Mapping) else {}
            if chunk:
                message.setdefault("role", "assistant")
            if "content" in message:
                content = message["content"]
                if content is None and chunk:
                    message["content"] = [] if self.parts else ""
                else:
                    message["content"] = self._content(content)
            reason = choice.get("finish_reason")
            native: dict[str, Any] = {
                "finish_reason": reason if reason else ("null" if chunk else None),
                "message": message,
            }
            if "index" in choice:
                native["index"] = choice["index"]
            if choice.get("logprobs") is not None:
                native["logprobs"] = choice["logprobs"]
            out.append(native)
        return {"choices": out}

    def response(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A ``chat.completion`` dict in the native response shape."""
        out: dict[str, Any] = {
            "request_id": data.get("request_id"),
            "output": self._output(data.get("choices"), "message", chunk=False),
        }
        if data.get("usage") is not None:
            out["usage"] = _usage(data["usage"])
        return out

    def chunk(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A ``chat.completion.chunk`` dict in the native chunk shape."""
        out: dict[str, Any] = {
            "request_id": data.get("request_id"),
            "output": self._output(data.get("choices"), "delta", chunk=True),
        }
        if data.get("usage") is not None:
            out["usage"] = _usage(data["usage"])
        return out


def translation_for(endpoint: str, body: Mapping[str, Any]) -> Translation:
    """The answer translation for a native call to ``endpoint`` with this native ``body``."""
    parameters = body.get("parameters")
    text_format = isinstance(parameters, Mapping) and parameters.get("result_format") == "text"
    return Translation(parts=endpoint == "multimodal-generation", text_format=text_format)
