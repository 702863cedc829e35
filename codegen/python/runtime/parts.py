"""Typed builders for message content parts.

    from pathlib import Path
    from modelstudio import parts

    messages = [{"role": "user", "content": [
        parts.image(Path("chart.png")),          # local file: inlined or uploaded by the SDK
        parts.video("https://example.com/a.mp4", fps=2),
        parts.text("What changed between the chart and the video?"),
    ]}]

A source is an `https://` / `http://` URL, a `data:` URL, an `oss://` URL (all sent as given),
or a local file as a `pathlib.Path` (or any `os.PathLike`) or a `file://` URL. Local files whose
Base64 string fits the documented 10 MB are sent inline as `data:<mime>;base64,...`; larger ones
(or all, with `ModelStudio(upload="oss")`) are uploaded as temporary files first. The text of a
`text` part is never read as a file name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from modelstudio.types import AudioPart, CacheControl, ImagePart, TextPart, VideoPart

from ._media import source_url

Source = str | os.PathLike[str]

__all__ = ["Source", "audio", "image", "text", "video"]


def _cache(value: CacheControl | Mapping[str, Any] | None) -> CacheControl | None:
    if value is None or isinstance(value, CacheControl):
        return value
    return CacheControl.from_dict(value)


def text(value: str, *, cache_control: CacheControl | Mapping[str, Any] | None = None) -> TextPart:
    """A text part. The string is sent as it is, never read as a path."""
    if not isinstance(value, str):
        raise TypeError(f"text() takes a str, not {type(value).__name__}")
    return TextPart(text=value, cache_control=_cache(cache_control))


def image(
    source: Source,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    enable_rotate: bool | None = None,
    cache_control: CacheControl | Mapping[str, Any] | None = None,
) -> ImagePart:
    """An image part from a URL or a local file (Path or `file://` URL)."""
    return ImagePart(
        image=source_url(source),
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        enable_rotate=enable_rotate,
        cache_control=_cache(cache_control),
    )


def video(
    source: Source | Sequence[Source],
    *,
    fps: float | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    cache_control: CacheControl | Mapping[str, Any] | None = None,
) -> VideoPart:
    """A video part: one video file (URL or local file) or a list of frame images in order."""
    value: str | list[str]
    if isinstance(source, (str, os.PathLike)):
        value = source_url(source)
    else:
        value = [source_url(frame) for frame in source]
    return VideoPart(
        video=value,
        fps=fps,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        cache_control=_cache(cache_control),
    )


def audio(source: Source) -> AudioPart:
    """An audio part from a URL or a local file (Path or `file://` URL)."""
    return AudioPart(audio=source_url(source))
