"""The annotation grammar of training configs: extraction, application, errors.

Golden files in ``tests/automl_data/``: ``<name>.json`` is an annotated config,
``<name>.space.json`` its extracted space, ``<name>.applied.json`` and
``<name>.applied_removed.json`` the config with ``<name>.result.json`` applied
(search augmentations kept / removed). ``UPDATE_GOLDEN=1`` rewrites the outputs (check
the diff by eye: they are the specification).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from scheduler import space as sch_space
from scheduler.automl import SearchResult, SearchSpaceManager, apply_search_result
from scheduler.searchers import searcher_factory

DATA = Path(__file__).parent / "automl_data"
GOLDEN = ["clara_example", "kitchen_sink"]


def _load(name: str):
    return json.loads((DATA / name).read_text())


def _golden(name: str, data) -> None:
    path = DATA / name
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert json.loads(path.read_text()) == json.loads(text), f"{name} differs from the golden file"


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_extraction(name):
    manager = SearchSpaceManager(_load(f"{name}.json"), f"{name}.json")
    _golden(f"{name}.space.json", manager.extract_search_space().to_json())


@pytest.mark.parametrize("name", GOLDEN)
@pytest.mark.parametrize("remove", [False, True], ids=["kept", "removed"])
def test_golden_application_leaves_input_unchanged(name, remove):
    config = _load(f"{name}.json")
    before = copy.deepcopy(config)
    result = _load(f"{name}.result.json")
    manager = SearchSpaceManager(config, f"{name}.json", remove_search_augs=remove)
    applied = manager.apply_search_result(result)
    suffix = "applied_removed" if remove else "applied"
    _golden(f"{name}.{suffix}.json", applied)
    assert config == before
    # the manager's own copy is unchanged too: applying twice gives the same config
    assert manager.apply_search_result(SearchResult(None, result)) == applied
    assert apply_search_result(config, result, remove_search_augs=remove) == applied
    if remove:
        text = json.dumps(applied)
        assert '"search"' not in text and '"apply"' not in text and "lr_search" not in text


def test_reference_example_semantics():
    # The made-up example of the reference file, checked value by value.
    config = _load("clara_example.json")
    manager = SearchSpaceManager(config, remove_search_augs=True)
    space = manager.extract_search_space()
    assert len(space) == 4
    assert all(".float" in p or ".enum" in p for p in space.targets)
    out = manager.apply_search_result(_load("clara_example.result.json"))
    assert out["learning_rate"] == 0.0031
    ce, focal = out["train"]["loss"]
    assert ce["disabled"] is True and focal["disabled"] is False
    assert out["train"]["model"]["args"] == {"depth": 34, "act": "gelu"}
    flip, noise = out["train"]["pre_transforms"]
    assert flip["args"]["prob"] == noise["args"]["prob"] == 0.27
    assert "useCE" not in out and "useFocal" not in out  # free tags are written nowhere
    concrete = manager.map_search_result(_load("clara_example.result.json"))
    assert concrete["net.enum.train.model.search[0]"] == [34, "gelu"]
    assert concrete["net.enum.search[1]"] == [True, False]


def test_prls_are_stable_unique_and_embed_domain_type_location():
    a = SearchSpaceManager(_load("kitchen_sink.json")).extract_search_space()
    b = SearchSpaceManager(_load("kitchen_sink.json")).extract_search_space()
    assert a.prls == b.prls
    assert len(set(a.prls)) == len(a.prls)
    for prl, param in a.params.items():
        assert prl.startswith(f"{param.domain}.{param.type}.")
        assert param.path.endswith(prl.split(".", 2)[2].lstrip("."))


def test_space_maps_onto_scheduler_space_and_every_searcher_runs():
    manager = SearchSpaceManager(_load("clara_example.json"))
    clara_space = manager.extract_search_space()
    space = clara_space.to_space()
    lr = space["lr.float.search[0]"]
    assert isinstance(lr, sch_space.Real) and lr.log and (lr.lower, lr.upper) == (1e-4, 1e-2)
    flip = space["transform.float.train.pre_transforms[0].search[0]"]
    assert isinstance(flip, sch_space.Real) and not flip.log
    net = space["net.enum.train.model.search[0]"]
    assert isinstance(net, sch_space.Categorical) and net.data == [0, 1]
    assert clara_space.targets["net.enum.train.model.search[0]"][1].min == 1
    for name in ("random", "grid"):
        searcher = searcher_factory(name, space=space)
        for _ in range(3):
            config = searcher.get_config()
            manager.apply_search_result(config)  # every proposal is a valid result


def test_enum_only_space_is_finite():
    config = {
        "train": {
            "model": {
                "name": "M",
                "args": {"a": 1, "b": True},
                "search": [
                    {"domain": "net", "type": "enum", "args": "a", "targets": [[1], [2]]},
                    {"domain": "net", "type": "enum", "args": ["b"], "targets": [[True], [False]]},
                ],
            }
        }
    }
    space = SearchSpaceManager(config).extract_search_space()
    assert space.enum_only and space.to_space().size == 4


def _component(search=None, apply=None, args=None, **extra):
    comp = {"name": "C", "args": {"x": 1, "y": 2} if args is None else args, **extra}
    if search is not None:
        comp["search"] = search
    if apply is not None:
        comp["apply"] = apply
    return comp


def _float(args="x", targets=(0.0, 1.0), **over):
    return {"domain": "net", "type": "float", "args": args, "targets": list(targets), **over}


def _enum(args, targets, **over):
    return {"domain": "net", "type": "enum", "args": args, "targets": targets, **over}


MALFORMED = {
    "not an object": ([1, 2], "$", "must be a JSON object"),
    "unknown type": (
        {"train": {"m": _component([_float(type="int")])}},
        "$.train.m.search[0].type",
        "unknown type 'int'",
    ),
    "unknown item key": (
        {"train": {"m": _component([{**_float(), "target": [1, 2]}])}},
        "$.train.m.search[0]",
        "unknown key(s) ['target']",
    ),
    "missing item key": (
        {"train": {"m": _component([{"domain": "net", "type": "float", "args": "x"}])}},
        "$.train.m.search[0]",
        "missing key(s) ['targets']",
    ),
    "bad domain": (
        {"train": {"m": _component([_float(domain="my lr")])}},
        "$.train.m.search[0].domain",
        "domain must be a name",
    ),
    "search not a list": (
        {"train": {"m": _component(_float())}},
        "$.train.m.search",
        "must be a list",
    ),
    "arg not in args": (
        {"train": {"m": _component([_float(args=["x", "z"])])}},
        "$.train.m.search[0].args[1]",
        "arg 'z' is not in the component's args",
    ),
    "component without args": (
        {"train": {"m": {"name": "C", "search": [_float()]}}},
        "$.train.m.search[0].args",
        "no 'args' object",
    ),
    "float target length": (
        {"train": {"m": _component([_float(targets=(0.0, 0.5, 1.0))])}},
        "$.train.m.search[0].targets",
        "list [min, max] of length 2",
    ),
    "float target not numbers": (
        {"train": {"m": _component([_float(targets=("a", 1))])}},
        "$.train.m.search[0].targets",
        "two finite numbers",
    ),
    "float min >= max": (
        {"train": {"m": _component([_float(targets=(1.0, 1.0))])}},
        "$.train.m.search[0].targets",
        "min < max",
    ),
    "enum empty": (
        {"train": {"m": _component([_enum("x", [])])}},
        "$.train.m.search[0].targets",
        "non-empty list of choices",
    ),
    "enum choice length": (
        {"train": {"m": _component([_enum(["x", "y"], [[1, 2], [3]])])}},
        "$.train.m.search[0].targets[1]",
        "one value per arg (2",
    ),
    "enum choice not a list": (
        {"train": {"m": _component([_enum("x", [1, 2])])}},
        "$.train.m.search[0].targets[0]",
        "one value per arg",
    ),
    "float on @disabled": (
        {"train": {"m": _component([_float(args="@disabled")])}},
        "$.train.m.search[0].args",
        "type 'enum', not 'float'",
    ),
    "@disabled not bool": (
        {"train": {"m": _component([_enum("@disabled", [[True], [0]])])}},
        "$.train.m.search[0].targets[1]",
        "@disabled takes true or false, got 0",
    ),
    "@disabled at top level": (
        {"search": [_enum("@disabled", [[True], [False]])]},
        "$.search[0].args",
        "the top level has none",
    ),
    "two hashes": (
        {"train": {"m": _component([_float(args="x#a#b")])}},
        "$.train.m.search[0].args",
        "one '#'",
    ),
    "arg listed twice": (
        {"train": {"m": _component([_float(args=["x", "x#a"])])}},
        "$.train.m.search[0].args",
        "listed twice",
    ),
    "arg searched twice": (
        {"train": {"m": _component([_float(args="x"), _enum("x", [[1], [2]])])}},
        "$.train.m.search[1].args",
        "searched twice",
    ),
    "alias defined twice": (
        {
            "train": {
                "a": _component([_float(args="x#t")]),
                "b": _component([_float(args="y#t")]),
            }
        },
        "$.train.b.search[0]",
        "tag 't' is defined twice (also at $.train.a.search[0])",
    ),
    "alias named like a variable": (
        {"epochs": 3, "train": {"a": _component([_float(args="x#epochs")])}},
        "$.train.a.search[0]",
        "also the name of a top-level variable",
    ),
    "alias never defined": (
        {"train": {"a": _component(apply={"x": "nowhere"})}},
        "$.train.a.apply.x",
        "alias 'nowhere' is never defined",
    ),
    "apply target not in args": (
        {"train": {"a": _component([_float(args="x#t")]), "b": _component(apply={"z": "t"})}},
        "$.train.b.apply.z",
        "apply target 'z' is not in the component's args",
    ),
    "apply value not a name": (
        {"train": {"a": _component(apply={"x": 3})}},
        "$.train.a.apply.x",
        "must be a tag name",
    ),
    "searched and applied": (
        {"train": {"a": _component([_float(args="x#t")], apply={"x": "t"})}},
        "$.train.a.apply.x",
        "both searched",
    ),
    "apply cycle": (
        {
            "train": {
                "a": _component(apply={"x#p": "q"}),
                "b": _component(apply={"y#q": "p"}),
            }
        },
        "$.train.",
        "apply cycle: ",
    ),
    "apply self cycle": (
        {"train": {"a": _component(apply={"x#p": "p"})}},
        "$.train.a.apply",
        "apply cycle",
    ),
    "@disabled from a float tag": (
        {
            "train": {
                "a": _component([_float(args="x#t")]),
                "b": _component(apply={"@disabled": "t"}),
            }
        },
        '$.train.b.apply["@disabled"]',
        "tag 't' is a float",
    ),
    "@disabled from a non-bool enum": (
        {
            "search": [_enum("tag", [[1], [2]])],
            "train": {"b": _component(apply={"@disabled": "tag"})},
        },
        '$.train.b.apply["@disabled"]',
        "can be 1",
    ),
    "top-level apply target missing": (
        {"search": [_enum("tag", [[1], [2]])], "apply": {"nothere": "tag"}},
        "$.apply.nothere",
        "not a top-level variable",
    ),
    "lr_search not at top": (
        {"train": {"opt": {"name": "SGD", "args": {}, "lr_search": [0.1, 1]}}},
        "$.train.opt.lr_search",
        "top level only",
    ),
    "lr_search without learning_rate": (
        {"lr_search": [1e-4, 1e-2]},
        "$.lr_search",
        "'learning_rate', which is missing",
    ),
    "lr_search bad targets": (
        {"learning_rate": 0.1, "lr_search": [1e-4]},
        "$.lr_search",
        "list [min, max] of two finite numbers",
    ),
    "lr_search and search of learning_rate": (
        {
            "learning_rate": 0.1,
            "lr_search": [1e-4, 1e-2],
            "search": [
                {"domain": "lr", "type": "float", "args": "learning_rate", "targets": [0.1, 1]}
            ],
        },
        "$.search[0].args",
        "searched twice",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_annotations_name_the_path_and_the_rule(case):
    config, path, rule = MALFORMED[case]
    with pytest.raises(ValueError) as info:
        SearchSpaceManager(config, "config_train.json")
    message = str(info.value)
    assert message.startswith(f"config_train.json: {path}"), message
    assert rule in message, message


def test_bad_search_results_are_refused():
    manager = SearchSpaceManager(_load("clara_example.json"))
    good = _load("clara_example.result.json")
    bad_cases = [
        ({**good, "lr.float.search[0]": 0.5}, "must be a number in [0.0001, 0.01]"),
        ({**good, "net.enum.search[1]": 2}, "choice index in [0, 2)"),
        ({**good, "net.enum.search[1]": True}, "choice index"),
        ({**good, "nope": 1}, "unknown PRL(s) ['nope']"),
        ({k: v for k, v in good.items() if k != "net.enum.search[1]"}, "lacks a value"),
    ]
    for result, text in bad_cases:
        with pytest.raises(ValueError, match=None) as info:
            manager.apply_search_result(result)
        assert text in str(info.value)
