"""The validator against a corpus of broken scripts (exact messages), the 19115 script, the CLI,
and a fuzz: whatever the text, only validation problems come out."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckm.cli import main
from ivr import validator
from ivr.problems import ScriptInvalid

from .conftest import ROOT, SCRIPT_19115

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_scripts_report_exactly_the_expected_problems(path: Path) -> None:
    expected = path.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    report = validator.check_file(str(path))
    assert report.lines() == [line.replace("{file}", str(path)) for line in expected]


def test_corpus_covers_every_kind_of_problem() -> None:
    text = "\n".join(p.with_suffix(".expected").read_text() for p in BROKEN)
    for needle in ("is not a node", "is never reached", "can never end", "loop with no exit",
                   "is used by two choices", "belongs to two choices", "has no text for",
                   "does not exist", "bad time window", "not valid YAML", "written twice",
                   "unexpected field", "has no declared values", "not a queue"):
        assert needle in text, needle


def test_the_19115_script_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ivr", "validate", str(SCRIPT_19115)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"{SCRIPT_19115}: ok — script 19115 version ")
    assert "languages pl/en/uk" in out[0]


def test_validate_cli_prints_every_problem_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).parent / "broken" / "unknown_queue.yaml"
    assert main(["ivr", "validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}:17:12: roads: queue 'drogii' does not exist; hint: did you mean " \
                     "'drogi'?"
    assert len(out) == 2


def test_one_typo_in_the_greeting_is_one_root_cause_and_one_folded_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    """`greeting: next: nowhere_node` used to give 36 problems (the typo, 34 "never reached",
    "the call can never end from greeting"): now the typo comes first, what it cuts off is one
    line, and the hint names the node nothing leads to any more."""
    path = Path(__file__).parent / "broken" / "greeting_typo.yaml"
    report = validator.check_file(str(path))
    root, folded = report.problems
    assert root.root and "greeting: next 'nowhere_node' is not a node" in root.message
    assert "did you mean 'emergency'?" in root.hint
    assert folded.message == ("34 nodes are unreachable because 'greeting' → 'nowhere_node' "
                              "is not a node")
    assert len(folded.covers) == 34 and folded.covers[:3] == ("emergency", "identify",
                                                               "language_menu")
    assert (folded.line, folded.column) == (root.line, root.column)
    assert main(["ivr", "validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert [line.split(": ", 1)[1].split(";")[0] for line in captured.out.splitlines()] == [
        "greeting: next 'nowhere_node' is not a node", folded.message]
    assert "2 problem(s)" in captured.err


def test_root_causes_come_first_and_a_forgotten_node_stays_on_its_own() -> None:
    report = validator.check_file(str(Path(__file__).parent / "broken" / "cascades.yaml"))
    roots = [p for p in report.problems if p.root]
    assert [p.message for p in roots] == [
        "menu: choice 'road_infoo' is not a node", "menu: choice 'city_servces' is not a node",
        "thanks: next 'goodbyee' is not a node"]
    assert report.problems[-1].message == "node 'forgotten' is never reached"
    assert not any("never end" in p.message for p in report.problems)
    # ScriptInvalid (what a publish refuses with) keeps that order.
    with pytest.raises(ScriptInvalid) as err:
        validator.load_valid(str(Path(__file__).parent / "broken" / "cascades.yaml"))
    assert err.value.problems == list(report.problems)


def test_the_editor_gets_the_root_cause_and_the_folded_nodes() -> None:
    from agent_desktop.ivr_editor import check

    text = (Path(__file__).parent / "broken" / "greeting_typo.yaml").read_text(encoding="utf-8")
    result = check(text, "19115", validator.DEFAULT_QUEUES)
    assert [(p["root"], len(p["covers"])) for p in result.problems] == [(True, 0), (False, 34)]


def test_known_queues_are_a_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).parent / "broken" / "unknown_queue.yaml"
    assert main(["ivr", "validate", str(path), "--queues", "drogii,parkingi,ogolna"]) == 0
    report = validator.check_file(str(SCRIPT_19115), ["ogolna"])
    assert any("queue 'czystosc' does not exist" in line for line in report.lines())


def test_missing_file_is_a_problem_not_a_crash() -> None:
    report = validator.check_file(str(ROOT / "nope.yaml"))
    assert report.lines()[0].startswith(f"{ROOT / 'nope.yaml'}:1:1: cannot read the script")


def test_load_valid_raises_with_every_problem() -> None:
    with pytest.raises(ScriptInvalid) as err:
        validator.load_valid(str(BROKEN[0]))
    assert str(err.value).count("\n") + 1 == len(err.value.problems)


# --- fuzz: texts and structures near the real format

_words = st.sampled_from(["menu", "say", "queue", "hangup", "goto", "next", "prompt", "pl",
                          "choices", "key", "1", "0", "ogolna", "consultant", "type", "nodes",
                          "x", "", "{", "- ", ":", "\n", "  ", "branch", "time", "25:99-1"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_words, max_size=40).map(" ".join))
def test_fuzz_any_text_gives_only_problems(text: str) -> None:
    report = validator.check_text(text, "<fuzz>")
    assert report.script is None or isinstance(report.problems, tuple)
    for line in report.lines():
        assert line.startswith("<fuzz>:")


_scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 30), st.text(max_size=8),
                    st.sampled_from(["menu", "queue", "ogolna", "consultant", "1", "pl"]))
_json = st.recursive(_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["type", "next", "prompt", "pl", "choices", "key", "queue",
                                     "target", "rules", "if", "goto", "else", "time", "vars"]),
                    inner, max_size=5)), max_leaves=25)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["a", "b", "consultant", "menu"]), _json, max_size=4))
def test_fuzz_structured_scripts_give_only_problems(nodes: dict[str, object]) -> None:
    doc = {"script": "f", "version": 1, "languages": ["pl"], "start": "menu",
           "operator": "consultant", "nodes": nodes}
    report = validator.check_text(yaml.safe_dump(doc, allow_unicode=True), "<fuzz>")
    assert report.script is not None or report.problems
    for line in report.lines():
        assert line.startswith("<fuzz>:")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutations_of_the_19115_script(data: st.DataObject) -> None:
    lines = SCRIPT_19115.read_text(encoding="utf-8").splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "dup", "indent", "garble"]))
        if action == "drop":
            lines.pop(i)
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "indent":
            lines[i] = " " + lines[i]
        else:
            lines[i] = lines[i].replace(":", "", 1)
        if not lines:
            break
    report = validator.check_text("\n".join(lines), "<fuzz>")
    for line in report.lines():
        assert line.startswith("<fuzz>:")
