"""`deadline=` bounds the media upload a call makes before it is sent: a policy request or an
upload host that does not answer ends the call at the deadline, sync and async."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelstudio import APITimeoutError, AsyncModelStudio, ModelStudio, parts
from modelstudio.testing import MockServer
from tests.media import png_bytes, user

KEY = "sk-upload-deadline-0123456789"
DEADLINE = 0.6
SLOW = 6.0  # how long the server holds its status line: far past the deadline
MM_PATH = "/services/aigc/multimodal-generation/generation"


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "slow.png"
    path.write_bytes(png_bytes())
    return path


def hold(srv: MockServer, where: str) -> None:
    """The next request to `where` gets its status line only after SLOW seconds."""
    srv.enqueue(200, body={"data": {}}, path=where, first_byte_delay=SLOW)


WHERE = ["/api/v1/uploads", "/oss-upload"]


@pytest.mark.parametrize("where", WHERE)
def test_sync_upload_ends_at_the_deadline(srv: MockServer, image: Path, where: str) -> None:
    hold(srv, where)
    with ModelStudio(api_key=KEY, base_url=srv.base_url, upload="oss", max_retries=0) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=f"deadline of {DEADLINE:g} s passed"):
            client.multimodal.create(
                model="qwen-vl-max", messages=user(parts.image(image)), deadline=DEADLINE
            )
        assert time.monotonic() - started < DEADLINE + 2.5
    assert MM_PATH not in [r.path for r in srv.requests]  # the call itself was never sent


@pytest.mark.parametrize("where", WHERE)
def test_async_upload_ends_at_the_deadline(srv: MockServer, image: Path, where: str) -> None:
    async def main() -> None:
        hold(srv, where)
        async with AsyncModelStudio(
            api_key=KEY, base_url=srv.base_url, upload="oss", max_retries=0
        ) as client:
            started = time.monotonic()
            with pytest.raises(APITimeoutError, match=f"deadline of {DEADLINE:g} s passed"):
                await client.multimodal.create(
                    model="qwen-vl-max", messages=user(parts.image(image)), deadline=DEADLINE
                )
            assert time.monotonic() - started < DEADLINE + 2.5

    asyncio.run(main())
    assert MM_PATH not in [r.path for r in srv.requests]
