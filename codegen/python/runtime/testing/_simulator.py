"""Deterministic answers that follow the wire behaviour of the DashScope service."""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import importlib
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._families import effective_params
from ._models import RecordedRequest
from ._script import Reply, StreamErrorScript
from ._spec_check import spec_problem
from ._wire import (
    JSON_CONTENT_TYPE,
    OPENAI_DONE,
    SSE_CONTENT_TYPE,
    dashscope_event,
    dumps,
    openai_event,
)

Validator = Callable[[dict[str, Any]], "str | None"]

TEXT_GENERATION = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_GENERATION = "/api/v1/services/aigc/multimodal-generation/generation"
UPLOADS = "/api/v1/uploads"
CHAT_COMPLETIONS = "/compatible-mode/v1/chat/completions"
OSS_UPLOAD = "/oss-upload"

OSS_ACCESS_KEY_ID = "mock-access-key-id"
_OSS_SECRET = b"mock-oss-secret"
UPLOAD_EXPIRE_SECONDS = 300

MEDIA_TOKENS = {"image": 256, "video": 1024, "audio": 128}
ROLE_MESSAGE = "Role must be user or assistant and Content length must be greater than 0"
BAD_URL_MESSAGE = "The provided URL does not appear to be valid. Ensure it is correctly formatted."

_CJK = "\u2e80-\u9fff\uac00-\ud7af\uff00-\uffef\u3000-\u303f"
_PIECE_RE = re.compile(rf"[{_CJK}]\s*|[^\s{_CJK}]+\s*|\s+")
_TOOL_WORDS = re.compile(r"\b(weather|call|tool)\b", re.IGNORECASE)
_PLACE_RE = re.compile(r"\b(?:in|for|at)\s+([^?.!,;]+)", re.IGNORECASE)


def split_pieces(text: str) -> list[str]:
    """The answer split as the stream sends it: one word (or CJK character) per piece."""
    return _PIECE_RE.findall(text)


def count_tokens(text: str) -> int:
    """Deterministic token count: one per whitespace-separated word or CJK character."""
    return sum(1 for p in split_pieces(text) if p.strip())


# ---------------------------------------------------------------------------------------------
# Building the answer
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class ToolCall:
    index: int
    id: str
    name: str
    arguments: str


@attrs.frozen
class Answer:
    reasoning: str
    text: str
    tool_calls: list[ToolCall]
    input_tokens: int
    media_tokens: dict[str, int]

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


def _content_text_and_media(content: Any) -> tuple[str, list[str]]:
    """Text of a message's content and the kinds of media parts it carries."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    media: list[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                texts.append(part)
                continue
            if not isinstance(part, dict):
                continue
            kind = str(part.get("type", ""))
            if "text" in part and kind in ("", "text"):
                texts.append(str(part["text"]))
            elif kind.startswith("image") or "image" in part or "image_url" in part:
                media.append("image")
            elif kind.startswith("video") or "video" in part or "video_url" in part:
                media.append("video")
            elif kind in ("audio", "input_audio") or "audio" in part or "input_audio" in part:
                media.append("audio")
    return " ".join(t for t in texts if t), media


def media_urls(messages: list[Any]) -> list[str]:
    """Every media URL in DashScope- or OpenAI-style content parts."""
    urls: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str):
            urls.append(value)
        elif isinstance(value, list):
            for v in value:
                add(v)
        elif isinstance(value, dict):
            add(value.get("url"))
            add(value.get("data"))

    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict):
                    for key in ("image", "video", "audio", "image_url", "video_url", "input_audio"):
                        if key in part:
                            add(part[key])
    return urls


def _tool_name(tool: Any) -> str | None:
    if isinstance(tool, dict):
        fn = tool.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return str(fn["name"])
    return None


def _tool_arguments(tool: Any, text: str) -> str:
    """Deterministic arguments filling the function's required (else all) properties."""
    fn = tool.get("function", {}) if isinstance(tool, dict) else {}
    schema = fn.get("parameters") if isinstance(fn, dict) else None
    props: dict[str, Any] = {}
    required: list[str] = []
    if isinstance(schema, dict):
        if isinstance(schema.get("properties"), dict):
            props = schema["properties"]
        if isinstance(schema.get("required"), list):
            required = [str(r) for r in schema["required"]]
    names = required or list(props)
    place = _PLACE_RE.search(text)
    phrase = place.group(1).strip() if place else text.strip()
    args: dict[str, Any] = {}
    for name in names:
        prop = props.get(name, {})
        kind = prop.get("type") if isinstance(prop, dict) else None
        enum = prop.get("enum") if isinstance(prop, dict) else None
        if isinstance(enum, list) and enum:
            args[name] = enum[0]
        elif kind in ("integer", "number"):
            args[name] = 1
        elif kind == "boolean":
            args[name] = True
        elif kind == "array":
            args[name] = []
        elif kind == "object":
            args[name] = {}
        else:
            args[name] = phrase
    return json.dumps(args, ensure_ascii=False)


def _choose_tools(tools: list[Any], tool_choice: Any, text: str, parallel: bool) -> list[Any]:
    named = [t for t in tools if _tool_name(t)]
    if not named or tool_choice == "none":
        return []
    if isinstance(tool_choice, dict):
        fn = tool_choice.get("function")
        wanted = fn.get("name") if isinstance(fn, dict) else None
        return [t for t in named if _tool_name(t) == wanted][:1]
    lowered = text.lower()
    mentioned = [t for t in named if str(_tool_name(t)).lower() in lowered]
    if not mentioned and (tool_choice == "required" or _TOOL_WORDS.search(text)):
        mentioned = named[:1]
    return mentioned if parallel else mentioned[:1]


def build_answer(
    messages: list[Any],
    *,
    model: str,
    thinking: bool | None,
    tools: list[Any] | None,
    tool_choice: Any,
    parallel_tool_calls: bool,
) -> Answer:
    """The deterministic answer to a conversation."""
    input_tokens = 0
    media_tokens: dict[str, int] = {}
    last_user_text = ""
    last_user_media: list[str] = []
    trailing_tool_results: list[str] = []
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        text, media = _content_text_and_media(msg.get("content"))
        input_tokens += count_tokens(text)
        for call in msg.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                input_tokens += count_tokens(str(call["function"].get("arguments", "")))
        for kind in media:
            media_tokens[kind] = media_tokens.get(kind, 0) + MEDIA_TOKENS[kind]
        role = msg.get("role")
        if role == "user":
            last_user_text, last_user_media = text, media
            trailing_tool_results = []
        elif role == "tool":
            trailing_tool_results.append(text)
        elif role == "assistant" and not msg.get("tool_calls"):
            trailing_tool_results = []
    input_tokens = max(1, input_tokens) + sum(media_tokens.values())

    last_role = messages[-1].get("role") if messages and isinstance(messages[-1], dict) else None
    calls: list[ToolCall] = []
    if last_role == "tool" and trailing_tool_results:
        text = "Based on the tool result: " + "; ".join(trailing_tool_results)
        topic = "the tool result"
    else:
        acks = [f"[{kind} received]" for kind in last_user_media]
        text = "Echo: " + " ".join(p for p in [last_user_text, *acks] if p)
        topic = last_user_text or "the media"
        if tools:
            for index, tool in enumerate(
                _choose_tools(tools, tool_choice, last_user_text, parallel_tool_calls)
            ):
                name = str(_tool_name(tool))
                arguments = _tool_arguments(tool, last_user_text)
                digest = hashlib.sha256(f"{index}:{name}:{arguments}".encode()).hexdigest()
                calls.append(ToolCall(index, "call_" + digest[:22], name, arguments))
    if calls:
        text = ""
    lowered = model.lower()
    if thinking is None:
        thinking = lowered.startswith(("qwq", "deepseek-r1")) or "thinking" in lowered
    reasoning = f'The user asked about "{topic}". I will answer plainly.' if thinking else ""
    return Answer(reasoning, text, calls, input_tokens, media_tokens)


def with_model_defaults(model: str, options: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request's options with the model's documented defaults (x-model-families) filled in
    for what it leaves out, as the service applies them."""
    # the generated table module (imported late: it is rendered beside the copied runtime)
    table = importlib.import_module(".._model_table", __package__)
    return effective_params(table.family_for(model), options)


def answer_for(messages: list[Any], model: str, options: Mapping[str, Any]) -> Answer:
    """`build_answer` with the options of a request: native `parameters` or an OpenAI body,
    the model's defaults applied (thinking on by default for qwen3.5, for example)."""
    options = with_model_defaults(model, options)
    thinking = options.get("enable_thinking")
    tools = options.get("tools")
    return build_answer(
        messages,
        model=model,
        thinking=thinking if isinstance(thinking, bool) else None,
        tools=tools if isinstance(tools, list) else None,
        tool_choice=options.get("tool_choice"),
        parallel_tool_calls=options.get("parallel_tool_calls") is True,
    )


# ---------------------------------------------------------------------------------------------
# Streaming steps shared by both protocols
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class Step:
    """One stream event's new material: reasoning text, answer text or a tool-call fragment."""

    kind: str  # "reasoning" | "text" | "tool"
    delta: str
    call: ToolCall | None = None
    first: bool = False


def stream_steps(answer: Answer) -> list[Step]:
    steps = [Step("reasoning", p) for p in split_pieces(answer.reasoning)]
    steps += [Step("text", p) for p in split_pieces(answer.text)]
    for call in answer.tool_calls:
        half = len(call.arguments) // 2
        steps.append(Step("tool", call.arguments[:half], call, first=True))
        steps.append(Step("tool", call.arguments[half:], call))
    return steps


def _output_tokens(reasoning: str, text: str, tool_args: int) -> int:
    return count_tokens(reasoning) + count_tokens(text) + tool_args


# ---------------------------------------------------------------------------------------------
# The simulator
# ---------------------------------------------------------------------------------------------


class ProtocolError(Exception):
    """A request the service would refuse: becomes a 4xx reply in the protocol's error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@attrs.define
class _Policy:
    upload_dir: str
    signature: str
    expires_at: float


class Simulator:
    """Answers requests the way the DashScope service does, deterministically."""

    def __init__(
        self,
        *,
        api_key: str | None,
        validate: Validator | None,
        base_url: Callable[[], str],
        event_delay: float = 0.0,
        check_spec: bool = True,
    ) -> None:
        self.api_key = api_key
        self.validate = validate
        self.check_spec = check_spec
        self.base_url = base_url
        self.event_delay = event_delay
        self.uploads: dict[str, bytes] = {}
        self._policies: dict[str, _Policy] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.uploads.clear()
            self._policies.clear()

    # -- dispatch ---------------------------------------------------------------------------

    def handle(
        self,
        req: RecordedRequest,
        authorization: str | None,
        request_id: str,
        stream_error: StreamErrorScript | None = None,
    ) -> Reply:
        path = req.path.rstrip("/") or "/"
        if path in (TEXT_GENERATION, MULTIMODAL_GENERATION):
            if req.method != "POST":
                return self._native_error(405, "MethodNotAllowed", "Use POST.", request_id)
            return self._generation(req, authorization, request_id, stream_error)
        if path == CHAT_COMPLETIONS:
            if req.method != "POST":
                return self._openai_error(405, "method_not_allowed", "Use POST.", request_id)
            return self._chat_completions(req, authorization, request_id, stream_error)
        if path == UPLOADS:
            return self._get_policy(req, authorization, request_id)
        if path == OSS_UPLOAD:
            return self._oss_upload(req, request_id)
        if path.startswith("/compatible-mode/"):
            return self._openai_error(
                404, "not_found", f"Unknown path: {req.method} {req.path}", request_id
            )
        return self._native_error(
            404, "NotFound", f"Unknown path: {req.method} {req.path}", request_id
        )

    # -- shared helpers -------------------------------------------------------------------------

    def _auth_message(self, authorization: str | None) -> str | None:
        """None when the key is acceptable, else the service's complaint."""
        value = (authorization or "").strip()
        key = value[7:].strip() if value.lower().startswith("bearer ") else ""
        if not key:
            return "No API-key provided."
        if self.api_key is not None and key != self.api_key:
            return "Invalid API-key provided."
        return None

    @staticmethod
    def _json_reply(status: int, payload: dict[str, Any], request_id: str) -> Reply:
        return Reply(
            status=status,
            headers=[("Content-Type", JSON_CONTENT_TYPE), ("x-request-id", request_id)],
            body=dumps(payload),
        )

    def _native_error(self, status: int, code: str, message: str, request_id: str) -> Reply:
        payload = {"request_id": request_id, "code": code, "message": message}
        return self._json_reply(status, payload, request_id)

    def _openai_error(self, status: int, code: str, message: str, request_id: str) -> Reply:
        kind = "invalid_request_error" if status < 500 else "server_error"
        payload = {
            "error": {"message": message, "type": kind, "param": None, "code": code},
            "request_id": request_id,
        }
        return self._json_reply(status, payload, request_id)

    def _stream_reply(self, chunks: list[bytes], request_id: str) -> Reply:
        return Reply(
            status=200,
            headers=[
                ("Content-Type", SSE_CONTENT_TYPE),
                ("x-request-id", request_id),
                ("Cache-Control", "no-cache"),
            ],
            chunks=chunks,
            chunk_delay=self.event_delay,
        )

    def _check_messages(self, messages: Any) -> None:
        if not isinstance(messages, list) or not messages:
            raise ProtocolError(400, "InvalidParameter", ROLE_MESSAGE)
        for msg in messages:
            if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
                raise ProtocolError(400, "InvalidParameter", ROLE_MESSAGE)
            role = msg["role"]
            if role not in ("system", "user", "assistant", "tool"):
                raise ProtocolError(400, "InvalidParameter", ROLE_MESSAGE)
            if role == "user":
                text, media = _content_text_and_media(msg.get("content"))
                if not text and not media:
                    raise ProtocolError(400, "InvalidParameter", ROLE_MESSAGE)

    def _check_urls(self, req: RecordedRequest, messages: list[Any]) -> None:
        for url in media_urls(messages):
            if url.startswith("file://"):
                raise ProtocolError(400, "InvalidParameter", BAD_URL_MESSAGE)
            if url.startswith("oss://"):
                if req.header("x-dashscope-ossresourceresolve", "").lower() != "enable":
                    raise ProtocolError(400, "InvalidParameter", BAD_URL_MESSAGE)
                with self._lock:
                    known = url[len("oss://") :] in self.uploads
                if not known:
                    raise ProtocolError(
                        400, "InvalidParameter", f"The OSS object {url} does not exist."
                    )

    def _run_validate(self, req: RecordedRequest, body: dict[str, Any], stream: bool) -> None:
        """The spec's rules (unless turned off), then the caller's own `validate` hook."""
        problem = spec_problem(req.path, body, stream) if self.check_spec else None
        if problem is None and self.validate is not None:
            problem = self.validate(body)
        if problem:
            raise ProtocolError(400, "InvalidParameter", problem)

    # -- native generation ----------------------------------------------------------------------

    def _generation(
        self,
        req: RecordedRequest,
        authorization: str | None,
        request_id: str,
        stream_error: StreamErrorScript | None,
    ) -> Reply:
        complaint = self._auth_message(authorization)
        if complaint:
            return self._native_error(401, "InvalidApiKey", complaint, request_id)
        stream = (
            req.header("x-dashscope-sse", "").lower() == "enable"
            or "text/event-stream" in req.header("accept", "").lower()
        )
        multimodal = req.path.rstrip("/") == MULTIMODAL_GENERATION
        try:
            body, messages = self._native_request(req, stream)
            params = with_model_defaults(str(body["model"]), body.get("parameters") or {})
            answer = answer_for(messages, str(body["model"]), params)
        except ProtocolError as exc:
            if stream:
                payload = {"code": exc.code, "message": exc.message, "request_id": request_id}
                event = dashscope_event(1, payload, event="error", status=exc.status)
                return self._stream_reply([event], request_id)
            return self._native_error(exc.status, exc.code, exc.message, request_id)

        message_form = (
            multimodal
            or params.get("result_format") == "message"
            or bool(answer.tool_calls)
            or bool(answer.reasoning)
        )
        shape = _NativeShape(answer, multimodal, message_form, request_id)
        if stream_error is not None and not stream:
            return self._native_error(
                stream_error.status, stream_error.code, stream_error.message, request_id
            )
        if not stream:
            return self._json_reply(200, shape.complete(), request_id)
        events = shape.events(incremental=params.get("incremental_output") is True)
        if stream_error is not None:
            events = events[: stream_error.after_events]
            payload = {
                "code": stream_error.code,
                "message": stream_error.message,
                "request_id": request_id,
            }
            events.append(
                dashscope_event(len(events) + 1, payload, event="error", status=stream_error.status)
            )
        return self._stream_reply(events, request_id)

    def _native_request(
        self, req: RecordedRequest, stream: bool
    ) -> tuple[dict[str, Any], list[Any]]:
        body = req.json
        if not isinstance(body, dict):
            raise ProtocolError(400, "InvalidParameter", "Request body is not valid JSON.")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise ProtocolError(400, "InvalidParameter", "Model not exist.")
        inp = body.get("input")
        if not isinstance(inp, dict):
            raise ProtocolError(400, "InvalidParameter", "Input should be a valid dictionary.")
        params = body.get("parameters", {})
        if params is not None and not isinstance(params, dict):
            raise ProtocolError(400, "InvalidParameter", "Parameters should be a valid dictionary.")
        messages = inp.get("messages")
        if messages is None and isinstance(inp.get("prompt"), str) and inp["prompt"]:
            messages = [{"role": "user", "content": inp["prompt"]}]
        if messages is None:
            raise ProtocolError(400, "InvalidParameter", "Field required: input.messages")
        self._check_messages(messages)
        self._check_urls(req, messages)
        # A legacy `input.prompt` request is checked as the one-message request it stands for.
        checked = body if "messages" in inp else {**body, "input": {**inp, "messages": messages}}
        self._run_validate(req, checked, stream)
        return body, messages

    # -- OpenAI-compatible ----------------------------------------------------------------------

    def _chat_completions(
        self,
        req: RecordedRequest,
        authorization: str | None,
        request_id: str,
        stream_error: StreamErrorScript | None,
    ) -> Reply:
        complaint = self._auth_message(authorization)
        if complaint:
            message = (
                "You didn't provide an API key."
                if complaint.startswith("No")
                else "Incorrect API key provided. "
            )
            return self._openai_error(401, "invalid_api_key", message, request_id)
        body = req.json
        try:
            if not isinstance(body, dict):
                raise ProtocolError(
                    400, "invalid_parameter_error", "Request body is not valid JSON."
                )
            if not isinstance(body.get("model"), str) or not body["model"]:
                raise ProtocolError(
                    400, "invalid_parameter_error", "'model' is a required property"
                )
            messages = body.get("messages")
            try:
                self._check_messages(messages)
                assert isinstance(messages, list)
                self._check_urls(req, messages)
                self._run_validate(req, body, body.get("stream") is True)
            except ProtocolError as exc:
                raise ProtocolError(exc.status, "invalid_parameter_error", exc.message) from None
            answer = answer_for(messages, str(body["model"]), body)
        except ProtocolError as exc:
            return self._openai_error(exc.status, exc.code, exc.message, request_id)
        shape = _OpenAIShape(answer, str(body["model"]), request_id)
        if body.get("stream") is not True:
            if stream_error is not None:
                return self._openai_error(
                    stream_error.status, stream_error.code, stream_error.message, request_id
                )
            return self._json_reply(200, shape.complete(), request_id)
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        events = shape.events(include_usage=include_usage)
        if stream_error is not None:
            events = events[: stream_error.after_events]
            error = {
                "message": stream_error.message,
                "type": "invalid_request_error",
                "param": None,
                "code": stream_error.code,
            }
            events.append(openai_event({"error": error, "request_id": request_id}))
        return self._stream_reply(events, request_id)

    # -- upload flow ----------------------------------------------------------------------------

    def _get_policy(
        self, req: RecordedRequest, authorization: str | None, request_id: str
    ) -> Reply:
        complaint = self._auth_message(authorization)
        if complaint:
            return self._native_error(401, "InvalidApiKey", complaint, request_id)
        if req.method != "GET":
            return self._native_error(405, "MethodNotAllowed", "Use GET.", request_id)
        if req.query.get("action") != "getPolicy":
            return self._native_error(
                400,
                "InvalidParameter",
                "Unsupported action, expected action=getPolicy.",
                request_id,
            )
        if not req.query.get("model"):
            return self._native_error(400, "InvalidParameter", "Model not exist.", request_id)
        now = time.time()
        owner = hashlib.md5((authorization or "").encode(), usedforsecurity=False).hexdigest()
        day = _dt.datetime.fromtimestamp(now, _dt.timezone.utc).strftime("%Y-%m-%d")
        upload_dir = f"dashscope-instant/{owner}/{day}/{request_id}"
        expiration = _dt.datetime.fromtimestamp(now + UPLOAD_EXPIRE_SECONDS, _dt.timezone.utc)
        policy_doc = {
            "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conditions": [
                ["content-length-range", 0, 1073741824],
                ["starts-with", "$key", upload_dir],
                {"bucket": "dashscope-file-mgr"},
                {"x-oss-object-acl": "private"},
                {"x-oss-forbid-overwrite": "true"},
            ],
        }
        policy = base64.b64encode(dumps(policy_doc)).decode("ascii")
        signature = base64.b64encode(
            hmac.new(_OSS_SECRET, policy.encode("ascii"), hashlib.sha1).digest()
        ).decode("ascii")
        with self._lock:
            self._policies[policy] = _Policy(upload_dir, signature, now + UPLOAD_EXPIRE_SECONDS)
        data = {
            "policy": policy,
            "signature": signature,
            "upload_dir": upload_dir,
            "upload_host": self.base_url() + OSS_UPLOAD,
            "expire_in_seconds": UPLOAD_EXPIRE_SECONDS,
            "max_file_size_mb": 1024,
            "capacity_limit_mb": 999999999,
            "oss_access_key_id": OSS_ACCESS_KEY_ID,
            "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true",
        }
        return self._json_reply(200, {"data": data, "request_id": request_id}, request_id)

    @staticmethod
    def _oss_error(status: int, code: str, message: str, request_id: str) -> Reply:
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
            f"  <Code>{code}</Code>\n  <Message>{message}</Message>\n"
            f"  <RequestId>{request_id}</RequestId>\n"
            "  <HostId>dashscope-file-mgr.mock</HostId>\n</Error>\n"
        )
        return Reply(
            status=status,
            headers=[
                ("Content-Type", "application/xml"),
                ("x-request-id", request_id),
                ("x-oss-request-id", request_id),
            ],
            body=xml.encode("utf-8"),
        )

    def _oss_upload(self, req: RecordedRequest, request_id: str) -> Reply:
        if req.method != "POST":
            return self._oss_error(405, "MethodNotAllowed", "Use POST.", request_id)
        fields = parse_multipart(req.header("content-type"), req.body)
        if fields is None:
            return self._oss_error(
                400, "InvalidArgument", "Expected multipart/form-data.", request_id
            )
        text = {k: v.decode("utf-8", "replace") for k, v in fields.items()}
        for name in ("OSSAccessKeyId", "policy", "Signature", "key"):
            if not text.get(name):
                return self._oss_error(
                    400, "InvalidArgument", f"Missing form field: {name}.", request_id
                )
        if text["OSSAccessKeyId"] != OSS_ACCESS_KEY_ID:
            return self._oss_error(
                403, "InvalidAccessKeyId", "The OSS Access Key Id does not exist.", request_id
            )
        with self._lock:
            policy = self._policies.get(text["policy"])
        if policy is None or not hmac.compare_digest(policy.signature, text["Signature"]):
            return self._oss_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                request_id,
            )
        if time.time() > policy.expires_at:
            return self._oss_error(
                403, "AccessDenied", "Invalid according to Policy: Policy expired.", request_id
            )
        key = text["key"]
        if not key.startswith(policy.upload_dir + "/"):
            return self._oss_error(
                403,
                "AccessDenied",
                "Invalid according to Policy: Policy Condition failed: "
                f'["starts-with", "$key", "{policy.upload_dir}"]',
                request_id,
            )
        if "file" not in fields:
            return self._oss_error(
                400, "InvalidArgument", "The form field file is missing.", request_id
            )
        with self._lock:
            exists = key in self.uploads
            forbid = text.get("x-oss-forbid-overwrite", "false").lower() == "true"
            if exists and forbid:
                return self._oss_error(
                    409, "FileAlreadyExists", "The object you specified already exists.", request_id
                )
            self.uploads[key] = fields["file"]
        status = {"200": 200, "201": 201, "204": 204}.get(
            text.get("success_action_status", ""), 200
        )
        return Reply(
            status=status,
            headers=[("x-request-id", request_id), ("x-oss-request-id", request_id)],
            body=b"",
        )


# ---------------------------------------------------------------------------------------------
# Response shapes
# ---------------------------------------------------------------------------------------------


@attrs.define
class _NativeShape:
    answer: Answer
    multimodal: bool
    message_form: bool
    request_id: str

    def _usage(self, output_tokens: int, reasoning_tokens: int) -> dict[str, Any]:
        a = self.answer
        usage: dict[str, Any] = {
            "input_tokens": a.input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": a.input_tokens + output_tokens,
        }
        if self.multimodal and a.media_tokens:
            details: dict[str, int] = {"text_tokens": a.input_tokens - sum(a.media_tokens.values())}
            for kind, n in a.media_tokens.items():
                usage[f"{kind}_tokens"] = n
                details[f"{kind}_tokens"] = n
            usage["input_tokens_details"] = details
        if a.reasoning:
            usage["output_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
        return usage

    def _data(
        self,
        reasoning: str,
        text: str,
        calls: list[dict[str, Any]],
        finish_reason: str,
        usage: dict[str, Any],
    ) -> dict[str, Any]:
        if not self.message_form:
            output: dict[str, Any] = {"finish_reason": finish_reason, "text": text}
        else:
            content: Any = ([{"text": text}] if text else []) if self.multimodal else text
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if self.answer.reasoning:
                message["reasoning_content"] = reasoning
            if calls:
                message["tool_calls"] = calls
            output = {"choices": [{"message": message, "index": 0, "finish_reason": finish_reason}]}
        return {"output": output, "usage": usage, "request_id": self.request_id}

    @staticmethod
    def _call(call: ToolCall, arguments: str, *, first: bool) -> dict[str, Any]:
        function: dict[str, Any] = {"arguments": arguments}
        if first:
            function = {"name": call.name, "arguments": arguments}
        return {
            "index": call.index,
            "id": call.id if first else "",
            "type": "function",
            "function": function,
        }

    def complete(self) -> dict[str, Any]:
        a = self.answer
        calls = [self._call(c, c.arguments, first=True) for c in a.tool_calls]
        tool_tokens = sum(count_tokens(c.arguments) for c in a.tool_calls)
        out = _output_tokens(a.reasoning, a.text, tool_tokens)
        usage = self._usage(out, count_tokens(a.reasoning))
        return self._data(a.reasoning, a.text, calls, a.finish_reason, usage)

    def events(self, *, incremental: bool) -> list[bytes]:
        a = self.answer
        steps = stream_steps(a)
        reasoning = text = ""
        tool_tokens = 0
        args_so_far: dict[int, str] = {}
        events: list[bytes] = []
        for n, step in enumerate(steps):
            last = n == len(steps) - 1
            calls: list[dict[str, Any]] = []
            if step.kind == "reasoning":
                reasoning += step.delta
            elif step.kind == "text":
                text += step.delta
            elif step.call is not None:
                args_so_far[step.call.index] = args_so_far.get(step.call.index, "") + step.delta
                tool_tokens += count_tokens(step.delta)
            if incremental:
                r_out = step.delta if step.kind == "reasoning" else ""
                t_out = step.delta if step.kind == "text" else ""
                if step.call is not None:
                    calls = [self._call(step.call, step.delta, first=step.first)]
            else:
                r_out, t_out = reasoning, text
                calls = [
                    self._call(c, args_so_far[c.index], first=True)
                    for c in a.tool_calls
                    if c.index in args_so_far
                ]
            finish = a.finish_reason if last and (not incremental or self.multimodal) else "null"
            if last and a.tool_calls:
                finish = a.finish_reason
            usage = self._usage(
                _output_tokens(reasoning, text, tool_tokens), count_tokens(reasoning)
            )
            events.append(dashscope_event(n + 1, self._data(r_out, t_out, calls, finish, usage)))
        if (incremental and not self.multimodal and not a.tool_calls) or not steps:
            usage = self._usage(
                _output_tokens(reasoning, text, tool_tokens), count_tokens(reasoning)
            )
            events.append(
                dashscope_event(len(events) + 1, self._data("", "", [], a.finish_reason, usage))
            )
        return events


@attrs.define
class _OpenAIShape:
    answer: Answer
    model: str
    request_id: str
    created: int = attrs.field(factory=lambda: int(time.time()))

    @property
    def id(self) -> str:
        return "chatcmpl-" + self.request_id

    def _usage(self) -> dict[str, Any]:
        a = self.answer
        tool_tokens = sum(count_tokens(c.arguments) for c in a.tool_calls)
        out = _output_tokens(a.reasoning, a.text, tool_tokens)
        usage: dict[str, Any] = {
            "prompt_tokens": a.input_tokens,
            "completion_tokens": out,
            "total_tokens": a.input_tokens + out,
        }
        if a.reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": count_tokens(a.reasoning)}
        return usage

    def complete(self) -> dict[str, Any]:
        a = self.answer
        message: dict[str, Any] = {"role": "assistant", "content": a.text}
        if a.reasoning:
            message["reasoning_content"] = a.reasoning
        if a.tool_calls:
            message["tool_calls"] = [
                {
                    "index": c.index,
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in a.tool_calls
            ]
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": a.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": self._usage(),
            "system_fingerprint": None,
        }

    def _chunk(
        self, delta: dict[str, Any], finish_reason: str | None, include_usage: bool
    ) -> bytes:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            ],
            "system_fingerprint": None,
        }
        if include_usage:
            chunk["usage"] = None
        return openai_event(chunk)

    def events(self, *, include_usage: bool) -> list[bytes]:
        a = self.answer
        events = [self._chunk({"role": "assistant", "content": ""}, None, include_usage)]
        for step in stream_steps(a):
            if step.kind == "reasoning":
                delta: dict[str, Any] = {"content": None, "reasoning_content": step.delta}
            elif step.kind == "text":
                delta = {"content": step.delta}
            else:
                assert step.call is not None
                call: dict[str, Any] = {"index": step.call.index}
                if step.first:
                    call.update(
                        id=step.call.id,
                        type="function",
                        function={"name": step.call.name, "arguments": step.delta},
                    )
                else:
                    call["function"] = {"arguments": step.delta}
                delta = {"content": None, "tool_calls": [call]}
            events.append(self._chunk(delta, None, include_usage))
        events.append(self._chunk({}, a.finish_reason, include_usage))
        if include_usage:
            events.append(
                openai_event(
                    {
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": self._usage(),
                        "system_fingerprint": None,
                    }
                )
            )
        events.append(OPENAI_DONE)
        return events


# ---------------------------------------------------------------------------------------------
# multipart/form-data
# ---------------------------------------------------------------------------------------------

_DISPOSITION_NAME = re.compile(r'\bname=(?:"([^"]*)"|([^;\s]+))', re.IGNORECASE)


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes] | None:
    """Form fields of a multipart/form-data body by name, or None if it is not one."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    match = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', content_type, re.IGNORECASE)
    if not match:
        return None
    boundary = b"--" + (match.group(1) or match.group(2)).encode("latin-1")
    fields: dict[str, bytes] = {}
    for part in body.split(boundary)[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n")
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        value = value.removesuffix(b"\r\n")
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                name = _DISPOSITION_NAME.search(line)
                if name:
                    fields[name.group(1) or name.group(2) or ""] = value
    return fields
