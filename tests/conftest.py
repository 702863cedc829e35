"""Fixtures shared by the test modules: one loopback mock server and a client on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelstudio import ModelStudio
from modelstudio.testing import MockServer


@pytest.fixture(scope="module")
def srv() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(srv: MockServer) -> Iterator[ModelStudio]:
    with ModelStudio(api_key="sk-test", base_url=srv.base_url, max_retries=0) as c:
        yield c
