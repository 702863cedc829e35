"""Documented per-model defaults come out of `defaults_for`, each checked against its source.

Every row of the table below names the model, the thinking mode asked for, the table row
(`x-model-families` family) that must apply, the expected defaults, and the citations: a docs
page and the phrase of it that states the value. The test demands that the family row cites
that page. The pages themselves are not part of the repository: checking that each phrase is on
its page is the maintainers' check against a copy of the docs, not part of `make test`.
"""

from __future__ import annotations

from typing import Any

import pytest

from modelstudio import defaults_for, family_for

D000 = "000_07ad248dae989590.txt"
D001 = "001_815efe83d03b75c9.txt"
D003 = "003_bb9708c812a53c71.txt"
D004 = "004_999108d049104343.txt"

Cite = tuple[str, str]

CASES: list[tuple[str, bool | None, str, dict[str, Any], list[Cite]]] = [
    (
        "qwen-plus",
        None,  # Qwen3 commercial: thinking off by default
        "qwen-plus",
        {
            "enable_thinking": False,
            "top_p": 0.8,
            "top_k": 20,
            "presence_penalty": 0.0,
            "result_format": "text",
            "incremental_output": False,
        },
        [
            (D000, "False for the Qwen3 commercial model"),
            (D003, "qwen-plus series (non-thinking)"),
            (D003, "All other models: 20"),
            (D003, "All other models: 0.0"),
            (D000, "The default value for the Qwen3 commercial model is false"),
        ],
    ),
    (
        "qwen-plus",
        True,
        "qwen-plus",
        {"enable_thinking": True, "top_p": 0.95, "presence_penalty": 0.5, "top_k": 20},
        [
            (D003, "Qwen3 (thinking), Qwen3-VL (thinking), Qwen3-Thinking, QwQ series"),
            (D003, "qwen-plus/qwen-plus-latest/2025-04-28 (thinking)"),
        ],
    ),
    (
        "qwq-plus",
        None,
        "qwq",
        {
            "enable_thinking": True,
            "top_p": 0.95,
            "top_k": 40,
            "presence_penalty": 0.0,
            "result_format": "message",
            "incremental_output": True,
        },
        [
            (D003, "Qwen3-Thinking, QwQ series, Qwen3-Omni-Captioner: 0.95"),
            (D003, "QwQ series: 40"),
            (D003, "except Qwen3-Max, Qwen3-VL, QwQ, and Qwen3 open source models"),
            (
                D000,
                "For the Qwen3 open-source edition, QwQ, and QVQ models, the default value is true",
            ),
        ],
    ),
    (
        "qwen-vl-max",
        None,
        "qwen-vl-max",
        {"top_p": 0.001, "presence_penalty": 1.5, "incremental_output": False},
        [
            (D003, "qwen-vl-plus series, qwen-vl-max, qwen-vl-max-latest, qwen-vl-max-2025-04-08"),
            (D003, "qwen-vl-max series, qwen-vl-plus, Qwen3-VL (non-thinking): 1.5"),
            (D000, "incremental_output boolean (Optional) The default value is false"),
        ],
    ),
    (
        "qwen3.6-plus",
        None,  # D004: thinking on by default for qwen3.7 / qwen3.6 / qwen3.5
        "qwen3.6",
        {"enable_thinking": True, "top_p": 0.95, "top_k": 20, "presence_penalty": 0.0},
        [
            (D004, "The default value for theqwen3.7,qwen3.6, andqwen3.5series models istrue"),
            (D003, "Qwen3.5 (thinking), Qwen3 (thinking)"),
        ],
    ),
    (
        "qwen3.6-plus",
        False,
        "qwen3.6",
        {"enable_thinking": False, "top_p": 0.8, "presence_penalty": 1.5},
        [(D003, "Qwen3.5 (non-thinking), Qwen3 (non-thinking)")],
    ),
    (
        "qwen3-vl-plus",
        None,  # D004: thinking off by default for qwen3-vl-plus / qwen3-vl-flash
        "qwen3-vl-plus-flash",
        {
            "enable_thinking": False,
            "top_p": 0.8,
            "presence_penalty": 1.5,
            "top_k": 20,
            "result_format": "message",
            "incremental_output": True,
        },
        [
            (D004, "The default value for theqwen3-vl-plusandqwen3-vl-flashseries models i"),
            (D003, "qwen-vl-max-2025-08-13, Qwen3-VL (non-thinking): 0.8"),
            (D003, "Qwen3-VL (non-thinking): 1.5"),
            (D003, "except Qwen3-Max, Qwen3-VL, QwQ"),
            (D001, "Defaults to true for the Qwen3-Max, Qwen3-VL"),
        ],
    ),
    (
        "qwen3-vl-plus",
        True,
        "qwen3-vl-plus-flash",
        {"enable_thinking": True, "top_p": 0.95, "presence_penalty": 0.0},
        [(D003, "Qwen3 (thinking), Qwen3-VL (thinking)"), (D003, "All other models: 0.0")],
    ),
    (
        "some-model-nobody-documented",
        None,
        "default",
        {
            "top_k": 20,
            "presence_penalty": 0.0,
            "result_format": "text",
            "incremental_output": False,
        },
        [
            (D003, "All other models: 20"),
            (D003, "All other models: 0.0"),
            (D003, "text for most models"),
            (D000, "incremental_output boolean (Optional) The default value is false"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("model", "thinking", "family", "expected", "cites"),
    CASES,
    ids=[f"{c[0]}-thinking={c[1]}" for c in CASES],
)
def test_documented_defaults(
    model: str, thinking: bool | None, family: str, expected: dict[str, Any], cites: list[Cite]
) -> None:
    row = family_for(model)
    assert row.family == family
    got = defaults_for(model, thinking)
    assert {k: got.get(k, "<absent>") for k in expected} == expected
    for doc, phrase in cites:
        assert phrase.strip(), "every value cites the phrase that states it"
        if family != "default" or doc != D000:
            # the row cites the page the number comes from (the default row cites 000 for the
            # general result_format / incremental_output defaults and 003 for the catch-alls)
            assert doc in row.docs, f"row {family} does not cite {doc}"


def test_unknown_model_gets_only_the_all_other_models_row() -> None:
    got = defaults_for("some-model-nobody-documented")
    assert got == {
        "result_format": "text",
        "incremental_output": False,
        "top_k": 20,
        "presence_penalty": 0.0,
    }
    # no thinking switch is invented for a model the table does not know
    assert "enable_thinking" not in got
    assert defaults_for("Some-Model-Nobody-Documented") == got


def test_qwen_vl_max_has_no_top_k_default() -> None:
    """top_k 1 applies to "Qwen-VL-Max models released before August 13 2025" (003); the release
    date behind the mainline name qwen-vl-max is not documented, so the table sets none (rather
    than the catch-all 20, which would be wrong if the mainline is an old snapshot)."""
    assert "top_k" not in defaults_for("qwen-vl-max")
    assert defaults_for("qwen-vl-max-2025-04-08")["top_k"] == 1
