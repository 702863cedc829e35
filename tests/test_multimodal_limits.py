"""Media limits and routing: every broken limit is a ValidationError before any I/O."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelstudio import ModelStudio, ValidationError, parts
from modelstudio.testing import MockServer
from tests.docs_pages import cited
from tests.media import mp4_bytes, png_bytes, user

D004 = "004_999108d049104343.txt"


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer(api_key="sk-test") as server:
        yield server


@pytest.fixture
def client(srv: MockServer) -> Iterator[ModelStudio]:
    with ModelStudio(api_key="sk-test", base_url=srv.base_url) as c:
        yield c


def rejected(
    client: ModelStudio, srv: MockServer, model: str, content: list[Any], **kw: Any
) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        client.multimodal.create(model=model, messages=user(*content), **kw)
    assert srv.requests == []
    return info.value


def frames(n: int) -> list[str]:
    return [f"https://example.com/{i}.jpg" for i in range(n)]


def test_frame_list_bounds(client: ModelStudio, srv: MockServer) -> None:
    err = rejected(client, srv, "qwen-vl-max", [parts.video(frames(3))])
    assert "frames_min" in str(err) and cited(D004) in str(err) and "at least 4" in str(err)
    err = rejected(client, srv, "qwen-vl-max", [parts.video(frames(513))])
    assert "at most 512" in str(err)
    err = rejected(client, srv, "qwen3-vl-plus", [parts.video(frames(2001))])
    assert "at most 2000" in str(err)


def test_fps_and_pixels(client: ModelStudio, srv: MockServer) -> None:
    err = rejected(client, srv, "qwen-vl-max", [parts.video(frames(4), fps=20)])
    assert "fps_max" in str(err) and "[0.1, 10]" in str(err)
    err = rejected(client, srv, "qwen-vl-ocr", [parts.image("https://e.com/a.png", min_pixels=100)])
    assert "min_pixels_min" in str(err) and ">= 3136" in str(err)
    err = rejected(
        client, srv, "qwen-vl-ocr", [parts.image("https://e.com/a.png", max_pixels=30_000_000)]
    )
    assert "max_pixels_max" in str(err) and cited("001_815efe83d03b75c9.txt") in str(err)


def test_image_counts(client: ModelStudio, srv: MockServer) -> None:
    urls = [parts.image(f"https://e.com/{i}.png") for i in range(257)]
    err = rejected(client, srv, "qwen-vl-max", urls)
    assert "images_max" in str(err) and cited(D004) in str(err)
    data = "data:image/png;base64,iVBORw0KGgo="
    err = rejected(client, srv, "qwen-vl-max", [{"image": data}] * 251)
    assert "images_base64_max" in str(err)


def test_image_size_format_and_base64(client: ModelStudio, srv: MockServer, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.write(png_bytes())
        fh.truncate(11 * 1024 * 1024)
    err = rejected(client, srv, "qwen-vl-max", [parts.image(big)])
    assert "image_local_bytes_max" in str(err) and "Image limits" in str(err)
    gif = tmp_path / "a.png"
    gif.write_bytes(b"GIF89a" + bytes(64))
    err = rejected(client, srv, "qwen-vl-max", [parts.image(gif)])
    assert "image/gif is not supported" in str(err) and "Supported image formats" in str(err)
    huge = "data:image/png;base64," + "A" * (10 * 1024 * 1024 + 4)
    err = rejected(client, srv, "qwen-vl-max", [{"image": huge}])
    assert "image_base64_bytes_max" in str(err)


def test_video_size_duration_and_inline_mode(
    client: ModelStudio, srv: MockServer, tmp_path: Path
) -> None:
    long = tmp_path / "long.mp4"
    long.write_bytes(mp4_bytes(700.0))
    err = rejected(client, srv, "qwen-vl-plus", [parts.video(long)])
    assert "video_seconds_max" in str(err) and "700.0 s" in str(err) and cited(D004) in str(err)
    short = tmp_path / "short.mp4"
    short.write_bytes(mp4_bytes(1.0))
    err = rejected(client, srv, "qvq-max", [parts.video(short)], stream=True)
    assert "video_seconds_min" in str(err)
    big = tmp_path / "big.mp4"
    with open(big, "wb") as fh:
        fh.write(mp4_bytes(5.0))
        fh.truncate(101 * 1024 * 1024)
    err = rejected(client, srv, "qwen-vl-max", [parts.video(big)])
    assert "video_local_bytes_max" in str(err)
    mid = tmp_path / "mid.mp4"
    with open(mid, "wb") as fh:
        fh.write(mp4_bytes(5.0))
        fh.truncate(9 * 1024 * 1024)
    inline = client.with_options()
    inline._settings.upload = "inline"
    with pytest.raises(ValidationError) as info:
        inline.multimodal.create(model="qwen-vl-max", messages=user(parts.video(mid)))
    assert "video_base64_bytes_max" in str(info.value) and srv.requests == []
    err = rejected(
        client, srv, "qwen-vl-max", [{"video": "data:video/mp4;base64," + "A" * (10 * 1024 * 1024)}]
    )
    assert "less than 10.0 MB" in str(err)


def test_sources_and_missing_file(client: ModelStudio, srv: MockServer, tmp_path: Path) -> None:
    err = rejected(client, srv, "qwen-vl-max", [{"image": "./photo.png"}])
    assert "pathlib.Path" in str(err) and cited(D004) in str(err)
    err = rejected(client, srv, "qwen-vl-max", [parts.image(tmp_path / "missing.png")])
    assert "cannot read the local file" in str(err)


def test_options_are_validated(client: ModelStudio, srv: MockServer) -> None:
    img = parts.image("https://e.com/a.png")
    with pytest.raises(ValidationError, match=r"ocr_options\.task"):
        client.multimodal.create(
            model="qwen-vl-ocr", messages=user(img), ocr_options={"task": "poetry"}
        )
    with pytest.raises(ValidationError, match="key_information_extraction"):
        client.multimodal.create(
            model="qwen-vl-ocr",
            messages=user(img),
            ocr_options={"task": "text_recognition", "task_config": {"result_schema": {}}},
        )
    with pytest.raises(ValidationError, match=r"asr_options\.language"):
        client.multimodal.create(
            model="qwen3-asr-flash",
            messages=user(parts.audio("https://e.com/a.wav")),
            asr_options={"language": "xx"},
        )
    assert srv.requests == []


def test_generation_create_routes_media_to_multimodal(client: ModelStudio, srv: MockServer) -> None:
    with pytest.raises(ValidationError, match=r"client\.multimodal\.create"):
        client.generation.create(
            model="qwen-plus", messages=user(parts.image("https://e.com/a.png"), parts.text("hi"))
        )
    with pytest.raises(ValidationError, match=r"client\.multimodal\.create"):
        client.generation.create(model="qwen-vl-max", messages=user(parts.text("hi")))
    assert srv.requests == []


def test_warn_mode_still_sends(srv: MockServer) -> None:
    from modelstudio import ValidationWarning

    with (
        ModelStudio(api_key="sk-test", base_url=srv.base_url, validation="warn") as client,
        pytest.warns(ValidationWarning, match="frames_min"),
    ):
        client.multimodal.create(model="qwen-vl-max", messages=user(parts.video(frames(3))))
    assert len(srv.requests) == 1
