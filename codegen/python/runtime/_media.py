"""Media in request bodies: local sources, MIME sniffing, data-URL encoding and the limits.

The pipeline calls `normalize_sources` before validation (a `pathlib.Path` becomes a `file://`
URL), then `plan_media` (pure apart from `stat` and reading a few header bytes of local files):
it reports every broken media limit as a `Problem` and lists the local files the call must
inline or upload. `_upload` carries out the plan.
"""

from __future__ import annotations

import base64
import importlib
import mimetypes
import os
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import attrs

from modelstudio._docs_pages import cite
from modelstudio._media_limits import UNIVERSAL_LIMITS

from ._checks import Problem
from ._families import ModelFamily
from ._options import UPLOAD_MODES as UPLOAD_MODES
from ._options import UploadMode as UploadMode

MEDIA_KEYS = ("image", "video", "audio")
OSS_RESOLVE_HEADER = "X-DashScope-OssResourceResolve"

IMAGE_DOCS = cite("vision-guide", "Limits: Image limits")
FORMAT_DOCS = cite("vision-guide", "Limits: Supported image formats")
VIDEO_DOCS = cite("vision-guide", "Limits: Video limits")
PIXELS_DOCS = cite("qwen-api-reference", "messages: user min_pixels / max_pixels")
FPS_DOCS = cite("qwen-api-reference", "fps") + "; " + cite("vision-guide", "Video understanding")
SOURCE_DOCS = cite("vision-guide", "File input methods")
ENDPOINT_DOCS = (
    cite("qwen-api-reference", "Image input") + "; " + cite("vision-guide", "Getting started")
)
INLINE_DOCS = cite("vision-guide", "Limits (Base64-encoded string)")

MB = 1048576
# D004 § Supported image formats: between 4K (3840x2160) and 8K only JPEG and PNG.
FOUR_K_PIXELS = 3840 * 2160
LARGE_IMAGE_FORMATS = ("image/jpeg", "image/png")
_SIZE_PROBE = 256 * 1024  # header bytes read to find an image's width and height
COMPATIBLE_SOURCE_DOCS = cite(
    "vision-guide", "File input methods (local file path: DashScope SDK only)"
)
AUDIO_BASE64_BYTES_MAX = 10 * MB
# D004 § Supported image formats.
IMAGE_FORMATS: Mapping[str, str] = {
    "image/bmp": "BMP",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/tiff": "TIFF",
    "image/webp": "WEBP",
    "image/heic": "HEIC",
}
_READ_CHUNK = 3 * 64 * 1024  # a multiple of 3: every chunk but the last encodes without padding

_EXTENSIONS: Mapping[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".avif": "image/avif",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".flv": "video/x-flv",
    ".wmv": "video/x-ms-wmv",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".amr": "audio/amr",
}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


# -- sniffing ---------------------------------------------------------------------------------


def sniff_mime(head: bytes) -> str | None:
    """The MIME type that a file's first bytes (at least 64 of them, if it has them) announce."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"RIFF") and len(head) >= 12:
        kind = head[8:12]
        if kind == b"WEBP":
            return "image/webp"
        if kind == b"WAVE":
            return "audio/wav"
        if kind == b"AVI ":
            return "video/x-msvideo"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        return _ftyp_mime(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"FLV"):
        return "video/x-flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "video/x-ms-wmv"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] in (0xF1, 0xF9):
            return "audio/aac"
        if head[1] & 0xE0 == 0xE0:
            return "audio/mpeg"
    if head.startswith(b"BM") and len(head) >= 14:
        return "image/bmp"
    return None


def _ftyp_mime(head: bytes) -> str:
    brand = head[8:12]
    if brand in (b"avif", b"avis"):
        return "image/avif"
    if brand in _HEIC_BRANDS:
        return "image/heic"
    if brand == b"qt  ":
        return "video/quicktime"
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return "audio/mp4"
    if brand.startswith(b"3g"):
        return "video/3gpp"
    return "video/mp4"


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG, JPEG, GIF, BMP or WEBP image; else None."""
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            w, h = struct.unpack(">II", head[16:24])
            return w, h
        if head[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", head[6:10])
            return w, h
        if head.startswith(b"BM") and len(head) >= 26:
            w, h = struct.unpack("<ii", head[18:26])
            return abs(w), abs(h)
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp_size(head)
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(head)
    except struct.error:
        return None
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return w, h
    if chunk == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 < len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", head[pos + 2 : pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", head[pos + 5 : pos + 9])
            return w, h
        pos += 2 + length
    return None


def _data_url_head(payload: str) -> bytes:
    """The first bytes of a Base64 payload (enough for `image_size`), or b"" if it is not Base64."""
    text = payload[: (_SIZE_PROBE // 3) * 4]
    text = text[: len(text) - len(text) % 4]
    try:
        return base64.b64decode(text, validate=False)
    except ValueError:
        return b""


def guess_mime(path: Path, head: bytes) -> str:
    """The file's MIME type from its bytes, else from its extension."""
    sniffed = sniff_mime(head)
    if sniffed:
        return sniffed
    by_ext = _EXTENSIONS.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    return by_ext or "application/octet-stream"


# -- sources ----------------------------------------------------------------------------------


def source_url(source: str | os.PathLike[str]) -> str:
    """A part's source as the string the request carries: a path becomes a `file://` URL."""
    if isinstance(source, os.PathLike):
        return Path(source).expanduser().absolute().as_uri()
    if isinstance(source, str):
        return source
    raise TypeError(f"a media source must be a str URL or a path, not {type(source).__name__}")


def local_path(url: str) -> Path | None:
    """The local file a `file://` URL names; None for any other string."""
    if not url.startswith("file://"):
        return None
    parts = urlsplit(url)
    return Path(url2pathname(unquote(parts.path)))


def is_supported_url(url: str) -> bool:
    lowered = url[:8].lower()
    return lowered.startswith(("http://", "https://", "data:", "oss://", "file://"))


def _content_parts(body: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, part) for every dict part of every message's list content."""
    payload = body.get("input")
    messages = payload.get("messages") if isinstance(payload, Mapping) else None
    if not isinstance(messages, list):
        return
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if isinstance(part, dict):
                yield f"input.messages[{i}].content[{j}]", part


def _has_list_content(body: Mapping[str, Any]) -> bool:
    """Whether any message has a list content: the only place `_content_parts` looks."""
    payload = body.get("input")
    messages = payload.get("messages") if isinstance(payload, Mapping) else body.get("messages")
    if not isinstance(messages, list):
        return False
    for message in messages:
        if isinstance(message, Mapping) and isinstance(message.get("content"), list):
            return True
    return False


def normalize_sources(body: dict[str, Any]) -> None:
    """Replace `os.PathLike` media sources in `body` (in place) with `file://` URLs."""
    for _, part in _content_parts(body):
        for key in MEDIA_KEYS:
            value = part.get(key)
            if isinstance(value, os.PathLike):
                part[key] = source_url(value)
            elif key == "video" and isinstance(value, (list, tuple)):
                part[key] = [source_url(v) if isinstance(v, os.PathLike) else v for v in value]


def contains_oss(value: Any) -> bool:
    """Whether any string in a JSON-like value is an `oss://` URL."""
    if isinstance(value, str):
        return value.startswith("oss://")
    if isinstance(value, Mapping):
        return any(contains_oss(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_oss(v) for v in value)
    return False


# -- encoding ---------------------------------------------------------------------------------


def base64_length(size: int) -> int:
    return 4 * ((size + 2) // 3)


def _read_full(fh: BinaryIO, n: int) -> bytes:
    data = fh.read(n)
    while data and len(data) < n:
        more = fh.read(n - len(data))
        if not more:
            break
        data += more
    return data


def data_url(path: Path, mime: str) -> str:
    """`data:<mime>;base64,...` of a file, encoded chunk by chunk into one preallocated buffer."""
    prefix = f"data:{mime};base64,".encode("ascii")
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        out = bytearray(len(prefix) + base64_length(size))
        out[: len(prefix)] = prefix
        pos = len(prefix)
        while True:
            chunk = _read_full(fh, _READ_CHUNK)
            if not chunk:
                break
            encoded = base64.b64encode(chunk)
            out[pos : pos + len(encoded)] = encoded
            pos += len(encoded)
    del out[pos:]
    return out.decode("ascii")


def mp4_duration(fh: BinaryIO) -> float | None:
    """Seconds from an MP4/MOV file's `moov/mvhd` box; None when it cannot be found."""

    def boxes(start: int, end: int | None) -> Iterator[tuple[bytes, int, int]]:
        pos = start
        for _ in range(4096):
            if end is not None and pos + 8 > end:
                return
            fh.seek(pos)
            header = fh.read(8)
            if len(header) < 8:
                return
            size, kind = struct.unpack(">I4s", header)
            body = pos + 8
            if size == 1:
                large = fh.read(8)
                if len(large) < 8:
                    return
                size = struct.unpack(">Q", large)[0]
                body = pos + 16
            elif size == 0:
                size = (os.fstat(fh.fileno()).st_size if end is None else end) - pos
            if size < body - pos:
                return
            yield kind, body, pos + size
            pos += size

    for kind, body, stop in boxes(0, None):
        if kind != b"moov":
            continue
        for child, cbody, _ in boxes(body, stop):
            if child != b"mvhd":
                continue
            fh.seek(cbody)
            data = fh.read(32)
            if len(data) < 20:
                return None
            if data[0] == 1:
                if len(data) < 32:
                    return None
                scale, duration = struct.unpack(">IQ", data[20:32])
            else:
                scale, duration = struct.unpack(">II", data[12:20])
            return duration / scale if scale else None
        return None
    return None


# -- planning ---------------------------------------------------------------------------------


@attrs.define
class LocalFile:
    """A local file the call must inline or upload, and where its URL goes in the body."""

    kind: str
    path: Path
    size: int
    mime: str
    holder: Any
    key: Any
    upload: bool


@attrs.define
class MediaPlan:
    """The request body and the local files to resolve before it is sent."""

    body: dict[str, Any]
    model: str
    files: list[LocalFile]


@attrs.define
class _Counts:
    url_images: int = 0
    base64_images: int = 0
    videos: int = 0
    first_image: str = ""
    first_base64: str = ""
    first_video: str = ""


def _limit(row: ModelFamily | None, name: str) -> Any:
    value = row.limits.get(name) if row is not None else None
    return value if value is not None else UNIVERSAL_LIMITS.get(name)


def _mb(n: float) -> str:
    return f"{n / MB:.1f} MB"


def plan_media(
    body: dict[str, Any], endpoint: str, row: ModelFamily | None, upload: str
) -> tuple[list[Problem], MediaPlan | None]:
    """Every broken media limit, and the local files to resolve (None when there are none)."""
    problems: list[Problem] = []
    files: list[LocalFile] = []
    counts = _Counts()
    model = body.get("model")
    model_name = model if isinstance(model, str) else ""
    native = endpoint in ("text-generation", "multimodal-generation")
    if not native:
        if endpoint == "compatible" and row is not None:
            _check_compatible(body, row, problems)
        return problems, None
    for path, part in _content_parts(body):
        kinds = [key for key in MEDIA_KEYS if key in part]
        if not kinds:
            continue
        if endpoint == "text-generation":
            problems.append(
                Problem(
                    f"{path}.{kinds[0]}",
                    part[kinds[0]],
                    "image, video and audio parts are served by client.multimodal.create",
                    ENDPOINT_DOCS,
                    "media",
                )
            )
            continue
        if row is not None:
            _check_part_numbers(path, part, row, problems)
        for key in kinds:
            value = part[key]
            where = f"{path}.{key}"
            if key == "video" and isinstance(value, list):
                _check_frames(where, value, row, problems)
                frame_counts = _Counts()  # frames are not counted as images
                for n, frame in enumerate(value):
                    if isinstance(frame, str):
                        _check_source(
                            f"{where}[{n}]",
                            frame,
                            "image",
                            value,
                            n,
                            row,
                            upload,
                            frame_counts,
                            problems,
                            files,
                        )
            elif isinstance(value, str):
                _check_source(where, value, key, part, key, row, upload, counts, problems, files)
    if row is not None:
        _check_counts(counts, row, problems)
    plan = MediaPlan(body, model_name, files) if files else None
    return problems, plan


def _compatible_parts(body: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, part) for every dict part of every message's list content (OpenAI shape)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict):
                    yield f"messages[{i}].content[{j}]", part


def _url_of(part: Mapping[str, Any], key: str) -> Any:
    holder = part.get(key)
    return holder.get("url") if isinstance(holder, Mapping) else None


def _check_compatible(body: Mapping[str, Any], row: ModelFamily, out: list[Problem]) -> None:
    """The same limits on the OpenAI-compatible endpoint, whose parts are typed
    (`image_url`, `video_url`, `video` frame lists) and take only URLs and data URLs."""
    counts = _Counts()
    for path, part in _compatible_parts(body):
        kind = part.get("type")
        if kind not in ("image_url", "video_url", "video"):
            continue
        _check_part_numbers(path, part, row, out)
        if kind == "video":
            frames = part.get("video")
            if not isinstance(frames, list):
                continue
            _check_frames(f"{path}.video", frames, row, out)
            frame_counts = _Counts()
            for n, frame in enumerate(frames):
                if isinstance(frame, str):
                    _check_remote(f"{path}.video[{n}]", frame, "image", row, frame_counts, out)
            continue
        url = _url_of(part, kind)
        if isinstance(url, str):
            media = "image" if kind == "image_url" else "video"
            _check_remote(f"{path}.{kind}.url", url, media, row, counts, out)
    _check_counts(counts, row, out)


def _check_remote(
    where: str, url: str, kind: str, row: ModelFamily, counts: _Counts, out: list[Problem]
) -> None:
    """A source of the compatible endpoint: an http(s) URL or a data URL, never a local file."""
    if kind == "video":
        counts.videos += 1
        counts.first_video = counts.first_video or where
    lowered = url[:8].lower()
    if lowered.startswith("data:"):
        _check_data_url(where, url, kind, row, counts, out)
        return
    if not lowered.startswith(("http://", "https://")):
        rule = "the compatible mode takes an http(s) URL or a data: URL (local files: DashScope SDK only)"
        out.append(Problem(where, url, rule, COMPATIBLE_SOURCE_DOCS, "media"))
        return
    if kind == "image":
        counts.url_images += 1
        counts.first_image = counts.first_image or where


def _check_dimensions(
    where: str,
    url: str,
    mime: str,
    size: tuple[int, int] | None,
    row: ModelFamily | None,
    out: list[Problem],
) -> None:
    """D004 § Image limits: both sides > 10 px, long:short <= 200:1, above 4K only JPEG/PNG."""
    if size is None:
        return
    w, h = size
    side_min = _limit(row, "image_side_min_exclusive")
    ratio_max = _limit(row, "image_aspect_ratio_max")
    if min(w, h) <= side_min:
        rule = f"the image is {w}x{h} px; width and height must both be greater than {side_min} px"
        out.append(Problem(where, url, rule, IMAGE_DOCS, "media"))
        return
    if max(w, h) / min(w, h) > ratio_max:
        rule = f"the image is {w}x{h} px; the long side may be at most {ratio_max} times the short side"
        out.append(Problem(where, url, rule, IMAGE_DOCS, "media"))
    if w * h > FOUR_K_PIXELS and mime in IMAGE_FORMATS and mime not in LARGE_IMAGE_FORMATS:
        rule = (
            f"the image is {w}x{h} px ({IMAGE_FORMATS[mime]}); above 4K (3840x2160) only JPEG and "
            "PNG are supported"
        )
        out.append(Problem(where, url, rule, FORMAT_DOCS, "media"))


def _check_part_numbers(
    path: str, part: Mapping[str, Any], row: ModelFamily, out: list[Problem]
) -> None:
    lo: Any = part.get("min_pixels")
    hi: Any = part.get("max_pixels")
    floor, ceiling = row.limits.get("min_pixels_min"), row.limits.get("max_pixels_max")
    if _is_int(lo) and isinstance(floor, int) and lo < floor:
        rule = f"must be >= {floor} for this model (min_pixels_min)"
        out.append(Problem(f"{path}.min_pixels", lo, rule, PIXELS_DOCS, "media"))
    if _is_int(hi) and isinstance(ceiling, int) and hi > ceiling:
        rule = f"must be <= {ceiling} for this model (max_pixels_max)"
        out.append(Problem(f"{path}.max_pixels", hi, rule, PIXELS_DOCS, "media"))
    if _is_int(lo) and _is_int(hi) and lo > hi:
        out.append(
            Problem(f"{path}.min_pixels", lo, f"must be <= max_pixels ({hi})", PIXELS_DOCS, "media")
        )
    fps = part.get("fps")
    if isinstance(fps, (int, float)) and not isinstance(fps, bool):
        fmin, fmax = row.limits.get("fps_min"), row.limits.get("fps_max")
        if (fmin is not None and fps < fmin) or (fmax is not None and fps > fmax):
            rule = f"must be within [{fmin}, {fmax}] for this model (fps_min/fps_max)"
            out.append(Problem(f"{path}.fps", fps, rule, FPS_DOCS, "media"))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_frames(
    where: str, frames: list[Any], row: ModelFamily | None, out: list[Problem]
) -> None:
    if row is None:
        return
    lo, hi = _limit(row, "frames_min"), row.limits.get("frames_max")
    n = len(frames)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        bounds = f"at least {lo}" + (f" and at most {hi}" if hi is not None else "")
        rule = f"a frame list has {n} images; this model takes {bounds} (frames_min/frames_max)"
        out.append(Problem(where, f"<{n} frames>", rule, VIDEO_DOCS, "media"))


def _check_source(
    where: str,
    url: str,
    kind: str,
    holder: Any,
    key: Any,
    row: ModelFamily | None,
    upload: str,
    counts: _Counts,
    out: list[Problem],
    files: list[LocalFile],
) -> None:
    if kind == "video":
        counts.videos += 1
        counts.first_video = counts.first_video or where
    if not is_supported_url(url):
        rule = (
            "must be an http(s)://, data:, oss:// or file:// URL "
            "(pass a local file as a pathlib.Path)"
        )
        out.append(Problem(where, url, rule, SOURCE_DOCS, "media"))
        return
    if url[:5].lower() == "data:":
        _check_data_url(where, url, kind, row, counts, out)
        return
    path = local_path(url)
    if path is None:
        if kind == "image":
            counts.url_images += 1
            counts.first_image = counts.first_image or where
        return
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(_SIZE_PROBE if kind == "image" else 64)
            mime = guess_mime(path, head)
            duration = mp4_duration(fh) if kind == "video" and head[4:8] == b"ftyp" else None
    except OSError as exc:
        out.append(Problem(where, url, f"cannot read the local file ({exc})", SOURCE_DOCS, "media"))
        return
    encoded = base64_length(size)
    inline_max = _inline_max(kind, row)
    fits = encoded < inline_max if kind == "video" else encoded <= inline_max
    if upload == "inline" and not fits:
        rule = (
            f"the file's Base64 string would be {_mb(encoded)}; inline data may be at most "
            f"{_mb(inline_max)} ({kind}_base64_bytes_max): use upload='auto' or 'oss'"
        )
        out.append(Problem(where, url, rule, INLINE_DOCS, "media"))
    goes_up = upload == "oss" or (upload == "auto" and not fits)
    if kind == "image":
        if goes_up:
            counts.url_images += 1
            counts.first_image = counts.first_image or where
        else:
            counts.base64_images += 1
            counts.first_base64 = counts.first_base64 or where
        if row is not None:
            _check_image_file(where, url, size, mime, row, out)
            _check_dimensions(where, url, mime, image_size(head), row, out)
    elif kind == "video" and row is not None:
        _check_video_file(where, url, size, duration, row, out)
    files.append(LocalFile(kind, path, size, mime, holder, key, goes_up))


def _inline_max(kind: str, row: ModelFamily | None) -> int:
    if kind == "audio" or row is None:
        return AUDIO_BASE64_BYTES_MAX
    return int(_limit(row, f"{kind}_base64_bytes_max"))


def _check_image_file(
    where: str, url: str, size: int, mime: str, row: ModelFamily, out: list[Problem]
) -> None:
    cap = _limit(row, "image_local_bytes_max")
    if size > cap:
        rule = f"the image is {_mb(size)}; a local image may be at most {_mb(cap)} (image_local_bytes_max)"
        out.append(Problem(where, url, rule, IMAGE_DOCS, "media"))
    _check_format(where, url, mime, out)


def _check_format(where: str, url: str, mime: str, out: list[Problem]) -> None:
    if mime not in IMAGE_FORMATS:
        names = ", ".join(IMAGE_FORMATS.values())
        rule = f"image format {mime} is not supported; supported image formats: {names}"
        out.append(Problem(where, url, rule, FORMAT_DOCS, "media"))


def _check_video_file(
    where: str, url: str, size: int, duration: float | None, row: ModelFamily, out: list[Problem]
) -> None:
    cap = _limit(row, "video_local_bytes_max")
    if size > cap:
        rule = f"the video is {_mb(size)}; a local video may be at most {_mb(cap)} (video_local_bytes_max)"
        out.append(Problem(where, url, rule, VIDEO_DOCS, "media"))
    if duration is None:
        return
    lo, hi = row.limits.get("video_seconds_min"), row.limits.get("video_seconds_max")
    if (lo is not None and duration < lo) or (hi is not None and duration > hi):
        rule = (
            f"the video lasts {duration:.1f} s; this model takes {lo} to {hi} seconds "
            "(video_seconds_min/video_seconds_max)"
        )
        out.append(Problem(where, url, rule, VIDEO_DOCS, "media"))


def _check_data_url(
    where: str, url: str, kind: str, row: ModelFamily | None, counts: _Counts, out: list[Problem]
) -> None:
    header, _, payload = url.partition(",")
    if kind == "image":
        counts.base64_images += 1
        counts.first_base64 = counts.first_base64 or where
        mime = header[5:].split(";")[0].lower()
        mime = "image/jpeg" if mime == "image/jpg" else mime
        if mime:
            _check_format(where, url, mime, out)
        if ";base64" in header.lower():
            _check_dimensions(where, url, mime, image_size(_data_url_head(payload)), row, out)
    if row is None or kind == "audio":
        return
    cap = _limit(row, f"{kind}_base64_bytes_max")
    size = len(payload)
    too_big = size >= cap if kind == "video" else size > cap
    if too_big:
        bound = "less than" if kind == "video" else "at most"
        rule = (
            f"the Base64 string is {_mb(size)}; it must be {bound} {_mb(cap)} "
            f"({kind}_base64_bytes_max)"
        )
        out.append(
            Problem(where, url, rule, VIDEO_DOCS if kind == "video" else IMAGE_DOCS, "media")
        )


def _check_counts(counts: _Counts, row: ModelFamily, out: list[Problem]) -> None:
    images_max = row.limits.get("images_max")
    if isinstance(images_max, int) and counts.url_images > images_max:
        rule = f"{counts.url_images} images by URL or path; at most {images_max} (images_max)"
        out.append(
            Problem(counts.first_image, f"<{counts.url_images} images>", rule, IMAGE_DOCS, "media")
        )
    b64_max = _limit(row, "images_base64_max")
    if counts.base64_images > b64_max:
        rule = f"{counts.base64_images} Base64 images; at most {b64_max} (images_base64_max)"
        value = f"<{counts.base64_images} images>"
        out.append(Problem(counts.first_base64, value, rule, IMAGE_DOCS, "media"))
    videos_max = _limit(row, "videos_max")
    if counts.videos > videos_max:
        rule = f"{counts.videos} videos; at most {videos_max} (videos_max)"
        out.append(
            Problem(counts.first_video, f"<{counts.videos} videos>", rule, VIDEO_DOCS, "media")
        )


def media_problems(
    body: dict[str, Any], endpoint: str, upload: str
) -> tuple[list[Problem], MediaPlan | None]:
    """Normalize path sources in `body` (in place), then check its media against the model's row."""
    if not _has_list_content(body):
        return [], None  # no message has parts (the usual text chat): no media to check
    # the generated table module (imported late: it is rendered beside this copied module)
    family_for = importlib.import_module("._model_table", __package__).family_for
    normalize_sources(body)
    model = body.get("model")
    row: ModelFamily | None = family_for(model) if isinstance(model, str) else None
    return plan_media(body, endpoint, row, upload)
