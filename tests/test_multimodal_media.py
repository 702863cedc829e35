"""Multimodal parts and local files: helpers, inline data URLs, temporary uploads (MockServer)."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelstudio import AsyncModelStudio, ModelStudio, parts
from modelstudio.testing import MockServer
from modelstudio.types import AudioPart, GenerationResponse, ImagePart, TextPart, VideoPart
from tests.media import mp4_bytes, png_bytes, user, wav_bytes
from tests.paths import RECORDINGS

MM_PATH = "/api/v1/services/aigc/multimodal-generation/generation"


def open_fds_for(path: Path) -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target == str(path):
            out.append(fd)
    return out


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer(api_key="sk-test") as server:
        yield server


@pytest.fixture
def client(srv: MockServer) -> Iterator[ModelStudio]:
    with ModelStudio(api_key="sk-test", base_url=srv.base_url, max_retries=0) as c:
        yield c


def sent_parts(srv: MockServer) -> list[dict[str, Any]]:
    calls = [r for r in srv.requests if r.path == MM_PATH]
    assert len(calls) == 1
    content: list[dict[str, Any]] = calls[0].json["input"]["messages"][0]["content"]
    return content


# -- helpers ----------------------------------------------------------------------------------


def test_part_helpers_return_typed_parts(tmp_path: Path) -> None:
    png = tmp_path / "a.png"
    png.write_bytes(png_bytes())
    t = parts.text("./a.png")
    assert isinstance(t, TextPart)
    assert t.to_dict() == {"text": "./a.png", "type": "text"}
    img = parts.image(png, min_pixels=4096, max_pixels=200000, enable_rotate=True)
    assert isinstance(img, ImagePart)
    assert img.image == png.absolute().as_uri()
    assert (img.min_pixels, img.max_pixels, img.enable_rotate) == (4096, 200000, True)
    vid = parts.video(["https://x/1.jpg", "https://x/2.jpg"], fps=2)
    assert isinstance(vid, VideoPart)
    assert vid.video == ["https://x/1.jpg", "https://x/2.jpg"]
    assert vid.fps == 2
    assert isinstance(parts.audio("https://x/a.wav"), AudioPart)
    assert parts.image("oss://dir/a.png").image == "oss://dir/a.png"


def test_text_part_is_never_read_as_file(
    client: ModelStudio, srv: MockServer, tmp_path: Path
) -> None:
    png = tmp_path / "a.png"
    png.write_bytes(png_bytes())
    client.multimodal.create(
        model="qwen-vl-max",
        messages=user(parts.text(str(png)), parts.image("https://example.com/a.png")),
    )
    content = sent_parts(srv)
    assert content[0]["text"] == str(png)
    assert content[1]["image"] == "https://example.com/a.png"
    assert not srv.uploads


def test_url_sources_pass_through(client: ModelStudio, srv: MockServer) -> None:
    data = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    frames = [f"https://example.com/f{i}.jpg" for i in range(4)]
    client.multimodal.create(
        model="qwen-vl-max",
        messages=user(
            parts.image("https://example.com/a.jpg"),
            {"image": data},
            parts.video(frames, fps=2),
            parts.video("https://example.com/v.mp4"),
            parts.text("describe"),
        ),
    )
    content = sent_parts(srv)
    assert content[0]["image"] == "https://example.com/a.jpg"
    assert content[1]["image"] == data
    assert content[2] == {"video": frames, "type": "video", "fps": 2}
    assert content[3]["video"] == "https://example.com/v.mp4"
    call = srv.requests[-1]
    assert call.header("x-dashscope-ossresourceresolve") == ""


# -- inline -----------------------------------------------------------------------------------


def test_local_png_inline_as_data_url(client: ModelStudio, srv: MockServer, tmp_path: Path) -> None:
    raw = png_bytes(31, 17)
    png = tmp_path / "picture.bin"  # the bytes decide the MIME type, not the name
    png.write_bytes(raw)
    client.multimodal.create(
        model="qwen-vl-max", messages=user(parts.image(png), parts.text("what is it?"))
    )
    image = sent_parts(srv)[0]["image"]
    assert image == "data:image/png;base64," + base64.b64encode(raw).decode()
    assert [r.path for r in srv.requests] == [MM_PATH]
    assert open_fds_for(png) == []


def test_local_mp4_inline_and_plain_dict_with_path(
    client: ModelStudio, srv: MockServer, tmp_path: Path
) -> None:
    raw = mp4_bytes(5.0)
    mp4 = tmp_path / "clip.mp4"
    mp4.write_bytes(raw)
    client.multimodal.create(
        model="qwen-vl-max", messages=user({"video": mp4}, {"text": "what happens?"})
    )
    video = sent_parts(srv)[0]["video"]
    assert video == "data:video/mp4;base64," + base64.b64encode(raw).decode()
    assert open_fds_for(mp4) == []


def test_local_audio_and_file_url_and_frames_inline(
    client: ModelStudio, srv: MockServer, tmp_path: Path
) -> None:
    wav = tmp_path / "speech.wav"
    wav.write_bytes(wav_bytes())
    frames = []
    for i in range(4):
        f = tmp_path / f"frame{i}.png"
        f.write_bytes(png_bytes(16 + i, 16))
        frames.append(f)
    client.multimodal.create(
        model="qwen-vl-max",
        messages=user(parts.video(frames), {"text": "go"}),
    )
    video = sent_parts(srv)[0]["video"]
    assert len(video) == 4
    assert all(v.startswith("data:image/png;base64,") for v in video)
    srv.reset()
    client.multimodal.create(
        model="qwen3-asr-flash", messages=user({"audio": wav.absolute().as_uri()})
    )
    assert sent_parts(srv)[0]["audio"].startswith("data:audio/wav;base64,UklGR")


def test_chunked_encoding_matches_base64_of_large_file(tmp_path: Path) -> None:
    from modelstudio._media import data_url

    raw = os.urandom(3 * 64 * 1024 * 2 + 5)
    path = tmp_path / "x.jpg"
    path.write_bytes(b"\xff\xd8\xff" + raw)
    url = data_url(path, "image/jpeg")
    assert url == "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff" + raw).decode()


def test_mime_sniffing() -> None:
    from modelstudio._media import sniff_mime

    cases = {
        png_bytes(): "image/png",
        b"\xff\xd8\xff\xe0" + bytes(60): "image/jpeg",
        b"GIF89a" + bytes(58): "image/gif",
        b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(48): "image/webp",
        b"BM" + bytes(62): "image/bmp",
        b"II*\x00" + bytes(60): "image/tiff",
        b"\x00\x00\x00\x18ftypheic" + bytes(52): "image/heic",
        b"\x00\x00\x00\x18ftypavif" + bytes(52): "image/avif",
        mp4_bytes(): "video/mp4",
        b"\x00\x00\x00\x14ftypqt  " + bytes(52): "video/quicktime",
        b"\x00\x00\x00\x18ftypM4A " + bytes(52): "audio/mp4",
        b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(48): "video/x-msvideo",
        b"\x1a\x45\xdf\xa3\x00\x00\x00\x00webm" + bytes(52): "video/webm",
        b"\x1a\x45\xdf\xa3" + bytes(60): "video/x-matroska",
        b"ID3\x04" + bytes(60): "audio/mpeg",
        b"\xff\xfb\x90\x00" + bytes(60): "audio/mpeg",
        b"\xff\xf1\x50\x80" + bytes(60): "audio/aac",
        wav_bytes(): "audio/wav",
        b"fLaC" + bytes(60): "audio/flac",
        b"OggS" + bytes(60): "audio/ogg",
    }
    for head, mime in cases.items():
        assert sniff_mime(head[:64]) == mime, mime
    assert sniff_mime(b"hello world") is None


def test_mp4_duration_v0_and_v1(tmp_path: Path) -> None:
    from modelstudio._media import mp4_duration

    for version in (0, 1):
        p = tmp_path / f"v{version}.mp4"
        p.write_bytes(mp4_bytes(12.5, version))
        with open(p, "rb") as fh:
            assert mp4_duration(fh) == 12.5


# -- upload -----------------------------------------------------------------------------------


def recorded_form_fields() -> list[str]:
    text = (RECORDINGS / "upload-temporary-file-nosse.request.body.txt").read_text(
        encoding="utf-8-sig", errors="replace"
    )
    return re.findall(r"Content-Disposition: form-data; name=\"?([\w-]+)", text)


def form_fields(body: bytes) -> list[str]:
    return re.findall(r'Content-Disposition: form-data; name="([\w-]+)"', body.decode("latin-1"))


def test_upload_png_and_mp4_with_policy_reuse(srv: MockServer, tmp_path: Path) -> None:
    png = tmp_path / "Lenna.png"
    png.write_bytes(png_bytes())
    mp4 = tmp_path / "sample.mp4"
    mp4.write_bytes(mp4_bytes(5.0))
    with ModelStudio(
        api_key="sk-test", base_url=srv.base_url, upload="oss", workspace="ws-1", max_retries=0
    ) as client:
        client.multimodal.create(
            model="qwen-vl-plus",
            messages=user(parts.image(png), parts.video(mp4), parts.text("compare")),
        )
        paths = [r.path for r in srv.requests]
        assert paths == ["/api/v1/uploads", "/oss-upload", "/oss-upload", MM_PATH]
        policy_req, up1, _up2, call = srv.requests
        assert policy_req.method == "GET"
        assert policy_req.query == {"action": "getPolicy", "model": "qwen-vl-plus"}
        assert policy_req.header("x-dashscope-workspace") == "ws-1"
        assert up1.header("authorization") == ""  # the API key never goes to the OSS host
        assert form_fields(up1.body) == recorded_form_fields()
        content = call.json["input"]["messages"][0]["content"]
        image_url, video_url = content[0]["image"], content[1]["video"]
        assert image_url.startswith("oss://dashscope-instant/") and image_url.endswith("/Lenna.png")
        assert video_url.endswith("/sample.mp4")
        assert srv.uploads[image_url[len("oss://") :]] == png.read_bytes()
        assert srv.uploads[video_url[len("oss://") :]] == mp4.read_bytes()
        assert call.header("x-dashscope-ossresourceresolve") == "enable"
    assert open_fds_for(png) == [] and open_fds_for(mp4) == []


def test_policy_reused_across_calls(srv: MockServer, tmp_path: Path) -> None:
    png = tmp_path / "a.png"
    png.write_bytes(png_bytes())
    with ModelStudio(api_key="sk-test", base_url=srv.base_url, upload="oss") as client:
        for _ in range(2):
            client.multimodal.create(model="qwen-vl-max", messages=user(parts.image(png)))
    paths = [r.path for r in srv.requests]
    assert paths.count("/api/v1/uploads") == 1
    assert paths.count("/oss-upload") == 2
    assert len(srv.uploads) == 2


def test_large_file_is_uploaded_automatically(
    client: ModelStudio, srv: MockServer, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.write(png_bytes())
        fh.truncate(8 * 1024 * 1024)  # Base64 > 10 MB, file <= 10 MB
    client.multimodal.create(model="qwen-vl-max", messages=user(parts.image(big)))
    image = sent_parts(srv)[0]["image"]
    assert image.startswith("oss://") and image.endswith("/big.png")
    assert open_fds_for(big) == []


async def test_async_upload_and_inline(srv: MockServer, tmp_path: Path) -> None:
    png = tmp_path / "a.png"
    png.write_bytes(png_bytes())
    mp4 = tmp_path / "b.mp4"
    mp4.write_bytes(mp4_bytes())
    async with AsyncModelStudio(api_key="sk-test", base_url=srv.base_url, upload="oss") as c:
        await c.multimodal.create(model="qwen-vl-max", messages=user(parts.image(png)))
    async with AsyncModelStudio(api_key="sk-test", base_url=srv.base_url) as c:
        await c.multimodal.create(model="qwen-vl-max", messages=user(parts.video(mp4)))
    calls = [r for r in srv.requests if r.path == MM_PATH]
    assert calls[0].json["input"]["messages"][0]["content"][0]["image"].startswith("oss://")
    assert (
        calls[1]
        .json["input"]["messages"][0]["content"][0]["video"]
        .startswith("data:video/mp4;base64,")
    )
    assert open_fds_for(png) == [] and open_fds_for(mp4) == []


def test_oss_url_in_body_adds_resolve_header(client: ModelStudio, srv: MockServer) -> None:
    srv.enqueue(body={"output": {"choices": []}, "usage": {}})
    client.multimodal.create(
        model="qwen-vl-max", messages=user(parts.video("oss://dashscope-instant/x/sample.mp4"))
    )
    assert srv.requests[-1].header("x-dashscope-ossresourceresolve") == "enable"


def test_upload_error_closes_file(srv: MockServer, tmp_path: Path) -> None:
    from modelstudio import APIStatusError

    png = tmp_path / "a.png"
    png.write_bytes(png_bytes())
    srv.enqueue(403, body="<Error><Code>AccessDenied</Code></Error>", path="/oss-upload")
    with (
        ModelStudio(api_key="sk-test", base_url=srv.base_url, upload="oss") as client,
        pytest.raises(APIStatusError),
    ):
        client.multimodal.create(model="qwen-vl-max", messages=user(parts.image(png)))
    assert open_fds_for(png) == []
    assert all(r.path != MM_PATH for r in srv.requests)


# -- recordings -------------------------------------------------------------------------------


def test_every_multimodal_recording_decodes() -> None:
    files = sorted(RECORDINGS.glob("multimodal-*.response.body.txt"))
    assert files
    decoded = 0
    for path in files:
        text = path.read_text(encoding="utf-8-sig")
        if path.name.endswith("-sse.response.body.txt"):
            payloads = [
                line[len("data:") :] for line in text.splitlines() if line.startswith("data:")
            ]
        else:
            payloads = [text]
        for payload in payloads:
            data = json.loads(payload)
            response = GenerationResponse.from_dict(data)
            assert response.request_id == data.get("request_id")
            decoded += 1
    assert decoded > len(files)
