"""Local files in a request: inline them as data URLs or upload them as temporary OSS files.

Upload flow (as recorded in cnblogs/dashscope-sdk RawHttpData: get-upload-policy-nosse,
upload-temporary-file-nosse):
`GET {base}/uploads?action=getPolicy&model=<model>` gives a signed form policy; a multipart
POST to its `upload_host` stores the file under `<upload_dir>/<file name>`; the call then names
it `oss://<upload_dir>/<file name>` and sends `X-DashScope-OssResourceResolve: enable`.
A policy is reused, per model and workspace, until shortly before it expires.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import BinaryIO

import attrs
import httpx

from ._base_client import PreparedCall, Settings, describe_transport_error, user_agent
from ._deadline import Deadline, send_within, send_within_async
from ._errors import APIConnectionError, APITimeoutError, error_from_response_body
from ._logs import redact_key
from ._media import OSS_RESOLVE_HEADER, LocalFile, MediaPlan, contains_oss, data_url
from ._upload_policy import PolicyCache

POLICY_MARGIN_SECONDS = 15.0


@attrs.define
class Policy:
    """A signed OSS form policy for temporary uploads."""

    policy: str
    signature: str
    upload_dir: str
    upload_host: str
    access_key_id: str
    object_acl: str
    forbid_overwrite: str
    expires_at: float
    used_keys: set[str] = attrs.field(factory=set)

    def object_key(self, name: str) -> str:
        """`<upload_dir>/<name>`, or under a fresh sub-folder when that key was used already."""
        key = f"{self.upload_dir}/{name}"
        if key in self.used_keys:
            key = f"{self.upload_dir}/{uuid.uuid4().hex[:12]}/{name}"
        self.used_keys.add(key)
        return key

    def form(self, key: str) -> dict[str, str]:
        """The form fields, in the recorded order (the file goes last)."""
        return {
            "OSSAccessKeyId": self.access_key_id,
            "policy": self.policy,
            "Signature": self.signature,
            "key": key,
            "x-oss-object-acl": self.object_acl,
            "x-oss-forbid-overwrite": self.forbid_overwrite,
        }


def _cache_key(settings: Settings, model: str) -> tuple[str, str, str | None, str]:
    return (settings.base_url, settings.api_key, settings.workspace, model)


def _policy_request(
    http: httpx.Client | httpx.AsyncClient,
    settings: Settings,
    model: str,
    extra_headers: Mapping[str, str] | None,
) -> httpx.Request:
    headers = settings.headers(False, extra_headers)
    headers.pop("Content-Type", None)
    return http.build_request(
        "GET",
        settings.base_url + "/uploads",
        params={"action": "getPolicy", "model": model},
        headers=headers,
        timeout=settings.timeout,
    )


def _upload_request(
    http: httpx.Client | httpx.AsyncClient,
    settings: Settings,
    policy: Policy,
    key: str,
    file: LocalFile,
    fh: BinaryIO,
) -> httpx.Request:
    return http.build_request(
        "POST",
        policy.upload_host,
        data=policy.form(key),
        files={"file": (file.path.name, fh, file.mime)},
        headers={"User-Agent": user_agent()},
        timeout=settings.timeout,
    )


def _failed(
    what: str, exc: httpx.HTTPError, url: httpx.URL, api_key: str, deadline: Deadline | None
) -> APIConnectionError:
    """A transport failure of the upload flow, naming the URL and the cause (never the key):
    `APITimeoutError` for a timeout, saying so when it was the call's deadline."""
    if isinstance(exc, httpx.TimeoutException) and deadline is not None and deadline.spent():
        exc = deadline.expired_error()
    kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    error = kind(redact_key(f"{what} failed: {describe_transport_error(exc, url)}", api_key))
    if api_key.strip() and api_key.strip() in str(exc):
        return error
    error.__cause__ = exc
    return error


def _parse_policy(response: httpx.Response, api_key: str) -> Policy:
    body = response.content
    if response.status_code >= 400:
        raise error_from_response_body(
            response.status_code, response.headers, body, api_key=api_key
        )
    try:
        data = json.loads(body)["data"]
        expires_in = float(data.get("expire_in_seconds") or 300)
        return Policy(
            policy=str(data["policy"]),
            signature=str(data["signature"]),
            upload_dir=str(data["upload_dir"]).rstrip("/"),
            upload_host=str(data["upload_host"]),
            access_key_id=str(data["oss_access_key_id"]),
            object_acl=str(data.get("x_oss_object_acl") or "private"),
            forbid_overwrite=str(data.get("x_oss_forbid_overwrite") or "true"),
            expires_at=time.monotonic() + max(expires_in - POLICY_MARGIN_SECONDS, 1.0),
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise APIConnectionError("The upload policy response was not understood") from None


def _uploaded(
    response: httpx.Response, settings: Settings, cache: PolicyCache, model: str, key: str
) -> str:
    """The `oss://` URL of the stored object; a refused upload raises (a 403 also drops the
    cached policy, so the next upload fetches a new one)."""
    if response.status_code >= 400:
        if response.status_code == 403:
            cache.drop(_cache_key(settings, model))
        raise error_from_response_body(
            response.status_code, response.headers, response.content, api_key=settings.api_key
        )
    if response.is_redirect:  # not followed: a POST redirected would lose the file
        raise error_from_response_body(
            response.status_code, response.headers, b"", api_key=settings.api_key
        )
    return f"oss://{key}"


def _apply(file: LocalFile, url: str) -> None:
    file.holder[file.key] = url


def _rebuild(call: PreparedCall, plan: MediaPlan) -> None:
    """Serialize the resolved body into the call's request (same URL, headers and timeout)."""
    content = json.dumps(plan.body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = httpx.Headers(call.request.headers)
    headers.pop("content-length", None)
    if contains_oss(plan.body):
        headers[OSS_RESOLVE_HEADER] = "enable"
    call.request = httpx.Request(
        "POST",
        call.request.url,
        headers=headers,
        content=content,
        extensions=dict(call.request.extensions),
    )


# -- sync -------------------------------------------------------------------------------------


def _policy_sync(
    http: httpx.Client,
    settings: Settings,
    cache: PolicyCache,
    model: str,
    extra_headers: Mapping[str, str] | None,
    deadline: Deadline | None,
) -> Policy:
    key = _cache_key(settings, model)
    policy = cache.get(key)
    if policy is None:
        request = _policy_request(http, settings, model, extra_headers)
        try:
            response = send_within(deadline, lambda: http.send(request))
        except httpx.HTTPError as exc:
            error = _failed("Upload policy request", exc, request.url, settings.api_key, deadline)
            raise error from error.__cause__
        policy = _parse_policy(response, settings.api_key)
        cache.put(key, policy)
    return policy


def upload_file_sync(
    http: httpx.Client,
    settings: Settings,
    cache: PolicyCache,
    model: str,
    file: LocalFile,
    extra_headers: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
) -> str:
    """Upload one local file as a temporary OSS object; returns its `oss://` URL."""
    policy = _policy_sync(http, settings, cache, model, extra_headers, deadline)
    key = policy.object_key(file.path.name)
    url = httpx.URL(policy.upload_host)
    try:
        with open(file.path, "rb") as fh:
            request = _upload_request(http, settings, policy, key, file, fh)
            response = send_within(deadline, lambda: http.send(request, follow_redirects=False))
    except httpx.HTTPError as exc:
        error = _failed(f"Upload of {file.path.name}", exc, url, settings.api_key, deadline)
        raise error from error.__cause__
    return _uploaded(response, settings, cache, model, key)


def resolve_sync(
    http: httpx.Client,
    settings: Settings,
    cache: PolicyCache,
    call: PreparedCall,
    extra_headers: Mapping[str, str] | None = None,
) -> None:
    """Inline or upload every local file of `call.media`, then rebuild `call.request`."""
    plan: MediaPlan = call.media
    for file in plan.files:
        if file.upload:
            url = upload_file_sync(
                http, settings, cache, plan.model, file, extra_headers, call.deadline
            )
        else:
            url = data_url(file.path, file.mime)
        _apply(file, url)
    _rebuild(call, plan)


# -- async ------------------------------------------------------------------------------------


async def _policy_async(
    http: httpx.AsyncClient,
    settings: Settings,
    cache: PolicyCache,
    model: str,
    extra_headers: Mapping[str, str] | None,
    deadline: Deadline | None,
) -> Policy:
    key = _cache_key(settings, model)
    policy = cache.get(key)
    if policy is None:
        request = _policy_request(http, settings, model, extra_headers)
        try:
            response = await send_within_async(deadline, lambda: http.send(request))
        except httpx.HTTPError as exc:
            error = _failed("Upload policy request", exc, request.url, settings.api_key, deadline)
            raise error from error.__cause__
        policy = _parse_policy(response, settings.api_key)
        cache.put(key, policy)
    return policy


async def upload_file_async(
    http: httpx.AsyncClient,
    settings: Settings,
    cache: PolicyCache,
    model: str,
    file: LocalFile,
    extra_headers: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
) -> str:
    """Upload one local file as a temporary OSS object; returns its `oss://` URL."""
    policy = await _policy_async(http, settings, cache, model, extra_headers, deadline)
    key = policy.object_key(file.path.name)
    url = httpx.URL(policy.upload_host)
    try:
        with open(file.path, "rb") as fh:
            request = _upload_request(http, settings, policy, key, file, fh)
            response = await send_within_async(
                deadline, lambda: http.send(request, follow_redirects=False)
            )
    except httpx.HTTPError as exc:
        error = _failed(f"Upload of {file.path.name}", exc, url, settings.api_key, deadline)
        raise error from error.__cause__
    return _uploaded(response, settings, cache, model, key)


async def resolve_async(
    http: httpx.AsyncClient,
    settings: Settings,
    cache: PolicyCache,
    call: PreparedCall,
    extra_headers: Mapping[str, str] | None = None,
) -> None:
    """Inline (in a worker thread) or upload every local file, then rebuild `call.request`."""
    plan: MediaPlan = call.media
    for file in plan.files:
        if file.upload:
            url = await upload_file_async(
                http, settings, cache, plan.model, file, extra_headers, call.deadline
            )
        else:
            import asyncio  # only here: importing asyncio costs ~8 ms

            url = await asyncio.to_thread(data_url, file.path, file.mime)
        _apply(file, url)
    _rebuild(call, plan)
