"""Nested search spaces (issue 16): Dict, List, Categorical of spaces and objects, @obj,
@func, ConfigSpace input; configs are JSON data and every searcher handles them."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scheduler as sch
from scheduler import space
from scheduler.searchers import GridSearcher, RandomSearcher
from scheduler.searchers.rl.controller import RLController
from scheduler.space import Bool, Categorical, Dict, Int, List, Real, SearchSpace

REPO_ROOT = Path(__file__).resolve().parents[1]


def json_round_trip(value):
    return json.loads(json.dumps(value))


@space.obj(lr=Real(1e-4, 1e-1, log=True), momentum=0.9)
class SGD:
    def __init__(self, lr, momentum):
        self.lr = lr
        self.momentum = momentum


@space.obj(beta=Categorical(0.9, 0.99))
class Adam:
    def __init__(self, beta, eps=1e-8):
        self.beta = beta
        self.eps = eps


@space.func(width=Int(8, 64), depth=Categorical(1, 2, 3))
def make_layers(width, depth):
    return [width] * depth


def deep_space():
    return SearchSpace(
        lr=Real(1e-3, 1e-1, log=True),
        opt=Categorical(SGD(), Adam(), "none"),
        net=Dict(
            layers=make_layers(),
            act=Categorical("relu", "tanh"),
            blocks=List(Int(1, 3), Dict(drop=Real(0.0, 0.5), norm=Bool()), 7),
        ),
        epochs=5,
    )


# -- the user-facing bug: plain dicts and lists holding spaces -------------------------


def test_args_with_a_plain_dict_or_list_of_spaces_searches_them():
    seen = []

    @sch.args(opt=dict(lr=Real(0.01, 0.1), name="sgd"), sizes=[Int(1, 4), 16], epochs=1)
    def train_fn(args, reporter):
        seen.append((args.opt, args.sizes))
        reporter(epoch=1, accuracy=args.opt.lr)

    assert train_fn.space.hyperparameters == ("opt", "sizes")
    assert [path for path, _ in train_fn.space.leaves()] == [("opt", "lr"), ("sizes", 0)]
    s = sch.FIFOScheduler(train_fn, num_trials=6, backend="thread", progress=False)
    s.run()
    assert s.join_jobs(timeout=60)
    assert len(seen) == 6  # not "search space exhausted after 1 configs"
    for opt, sizes in seen:
        assert isinstance(opt, sch.Args) and opt.name == "sgd" and 0.01 <= opt.lr <= 0.1
        assert not isinstance(opt.lr, space.Space)
        assert sizes[1] == 16 and sizes[0] in (1, 2, 3, 4)
    assert all(set(c) == {"opt", "sizes"} for c in s.config_history.values())
    assert s.config_history[0] == {"opt": {"lr": 0.055}, "sizes": [2, None]}


def test_a_plain_dict_without_spaces_stays_a_constant():
    s = SearchSpace(a=Int(0, 1), table={"x": 1}, items=[1, 2])
    assert s.hyperparameters == ("a",)
    assert dict(s.constants) == {"table": {"x": 1}, "items": [1, 2]}


# -- configs: JSON data, built into values ---------------------------------------------


def test_configs_of_a_deep_space_are_json_and_build_into_objects():
    s = deep_space()
    rng = np.random.default_rng(0)
    kinds = set()
    for _ in range(60):
        config = s.sample(rng)
        assert json_round_trip(config) == config
        assert s.contains(config) and s.normalize(config) == config
        built = s.build(config)
        opt, net = built["opt"], built["net"]
        kinds.add(type(opt).__name__)
        if isinstance(opt, SGD):
            assert opt.momentum == 0.9 and opt.lr == config["opt"]["value"]["lr"]
        elif isinstance(opt, Adam):
            assert opt.beta in (0.9, 0.99) and opt.eps == 1e-8
        else:
            assert opt == "none" and config["opt"] == "none"
        assert isinstance(net, sch.Args) and net.act in ("relu", "tanh")
        assert net.layers == [config["net"]["layers"]["width"]] * config["net"]["layers"]["depth"]
        assert net.blocks[2] == 7 and config["net"]["blocks"][2] is None
        assert isinstance(net.blocks[1], sch.Args) and isinstance(net.blocks[1].norm, bool)
    assert kinds == {"SGD", "Adam", "str"}
    default = s.default_config()
    assert default["opt"] == {"choice": 0, "value": {"lr": pytest.approx(0.00316, rel=1e-2)}}


def test_leaves_paths_and_leaf_value_round_trip():
    s = deep_space()
    paths = [path for path, _ in s.leaves()]
    assert paths == [
        ("lr",),
        ("net", "act"),
        ("net", "blocks", 0),
        ("net", "blocks", 1, "drop"),
        ("net", "blocks", 1, "norm"),
        ("net", "layers", "depth"),
        ("net", "layers", "width"),
        ("opt",),
        ("opt", 0, "lr"),
        ("opt", 1, "beta"),
    ]
    assert s.leaf_name(("net", "blocks", 1, "drop")) == "net.blocks.1.drop"
    rng = np.random.default_rng(1)
    for _ in range(30):
        config = s.sample(rng)
        values = s.leaf_values(config)
        # only the chosen optimizer's leaves are active
        assert (("opt", 0, "lr") in values) == (
            config["opt"] != "none" and config["opt"]["choice"] == 0
        )
        assert s.config_from_leaf_values(values) == config
        x = s.to_unit_vector(config)
        assert x.shape == (len(paths),) and np.all((x >= 0) & (x <= 1))
        back = s.from_unit_vector(x)
        assert s.contains(back)
        assert np.allclose(s.to_unit_vector(back), x)


def test_categorical_choices_values_objects_tuples_and_spaces():
    class Opaque:
        def __repr__(self):
            return "Opaque()"

    marker = Opaque()
    c = Categorical("a", (64, 64), [64, 64], marker, Categorical("x", "y"), None)
    s = SearchSpace(c=c)
    configs = [s.config_at(i) for i in range(s.size)]
    assert s.size == 7  # 5 plain choices + the 2 of the nested Categorical
    assert [cfg["c"] for cfg in configs] == [
        "a",
        {"choice": 1},  # the tuple's list form is taken by the list choice
        [64, 64],
        {"choice": 3},
        {"choice": 4, "value": "x"},
        {"choice": 4, "value": "y"},
        None,
    ]
    assert [s.index_of(cfg) for cfg in configs] == list(range(7))
    built = [s.build(cfg)["c"] for cfg in configs]
    assert built[:3] == ["a", (64, 64), [64, 64]]
    assert isinstance(built[3], Opaque) and built[3] is not marker  # a copy per task
    assert built[4:] == ["x", "y", None]
    assert Categorical((1, 2), "b").default_config() == [1, 2]  # a lone tuple: its list
    assert space.SearchSpace(t=Categorical((1, 2), "b")).build({"t": [1, 2]}) == {"t": (1, 2)}


def test_a_value_given_directly_passes_through_build():
    s = deep_space()
    sgd = SGD().default
    assert s.build({"opt": sgd})["opt"] is sgd
    assert s.build({"lr": 5.0})["lr"] == 5.0  # overrides outside the domain are kept


def test_finite_nested_space_enumerates_each_config_once():
    s = SearchSpace(
        a=Categorical("plain", Dict(k=Int(1, 3), b=Bool())),
        b=List(Categorical(1, 2), "const"),
        c=Adam(),
    )
    assert s.size == (1 + 6) * 2 * 2
    configs = [s.config_at(i) for i in range(s.size)]
    keys = {s.config_key(cfg) for cfg in configs}
    assert len(keys) == s.size
    assert [s.index_of(cfg) for cfg in configs] == list(range(s.size))
    drawn = []
    searcher = RandomSearcher(s, random_seed=3)
    while (cfg := searcher.get_config()) is not None:
        drawn.append(cfg)
    assert sorted(s.config_key(c) for c in drawn) == sorted(keys)
    grid = []
    gs = GridSearcher(s)
    while (cfg := gs.get_config()) is not None:
        grid.append(cfg)
    assert sorted(s.config_key(c) for c in grid) == sorted(keys)


def test_grid_over_a_nested_infinite_space():
    s = SearchSpace(opt=Categorical(SGD(), "none"), n=Int(1, 2))
    searcher = GridSearcher(s, num_points=3)
    configs = []
    while (cfg := searcher.get_config()) is not None:
        configs.append(cfg)
    assert searcher.grid_size == (3 + 1) * 2 == len(configs)
    lrs = sorted(c["opt"]["value"]["lr"] for c in configs if c["opt"] != "none")
    assert lrs == pytest.approx([1e-4, 1e-4, 10**-2.5, 10**-2.5, 0.1, 0.1])


def test_searcher_state_round_trips_nested_configs():
    s = deep_space()
    searcher = RandomSearcher(s, random_seed=7)
    for i in range(8):
        searcher.update(searcher.get_config(), float(i))
    restored = RandomSearcher(deep_space(), random_seed=0)
    restored.load_state_dict(json_round_trip(searcher.state_dict()))
    assert restored.get_best_config() == searcher.get_best_config()
    assert [restored.get_config() for _ in range(5)] == [searcher.get_config() for _ in range(5)]


def test_rl_controller_over_a_nested_space():
    s = deep_space()
    controller = RLController(s, hidden_size=8, random_seed=0)
    assert controller.names[:3] == ("lr", "net.act", "net.blocks.0")
    for _ in range(20):
        actions = controller.sample()
        config = controller.config_from_actions(actions)
        assert s.contains(config) and json_round_trip(config) == config
        again = controller.config_from_actions(controller.actions_from_config(config))
        assert again == config
    controller.learn([controller.sample() for _ in range(3)], [0.1, 0.5, 0.9])


def test_encode_decode_of_nested_configs():
    s = deep_space()
    config = s.sample(np.random.default_rng(4))
    encoded = s.encode_config(config)
    assert json_round_trip(encoded) == encoded
    assert s.decode_config(encoded) == config
    assert s.config_key(json_round_trip(config)) == s.config_key(config)
    assert s.encode_config({**config, "net": {"bad": 1}})["net"] == {
        "raw": {"__dict__": [["bad", 1]]}
    }


def test_fingerprint_tells_nested_spaces_apart():
    a = SearchSpace(opt=Dict(lr=Real(0, 1)))
    assert a.fingerprint() == SearchSpace(opt={"lr": Real(0, 1), "const": 3}).fingerprint()
    assert a.fingerprint() != SearchSpace(opt=Dict(lr=Real(0, 2))).fingerprint()
    assert SearchSpace(o=SGD()).fingerprint() != SearchSpace(o=Adam()).fingerprint()
    assert json_round_trip(deep_space().fingerprint()) == deep_space().fingerprint()


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: SearchSpace(**{"a.b": Int(0, 1)}, a=Dict(b=Int(0, 1))),
            "share the dotted name 'a.b'",
        ),
        (lambda: Dict({1: Int(0, 1)}), "Dict: keys must be non-empty strings, got 1"),
        (lambda: SGD(Real(0, 1)), "positional argument 0 holds a search space"),
        (lambda: deep_space().normalize({"lr": 0.01}), "config is missing hyperparameter"),
        (
            lambda: SearchSpace(d=Dict(a=Int(0, 3))).normalize({"d": {"a": 9}}),
            r"config at 'd.a': Int.config: value must be an integer within \[0, 3\], got 9",
        ),
        (
            lambda: SearchSpace(c=Categorical("x", SGD())).normalize({"c": {"choice": 1}}),
            r"config at 'c': .*choice 1 is a space, its config needs a 'value'",
        ),
    ],
)
def test_nested_errors_name_the_path(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_obj_and_func_decorators():
    assert isinstance(SGD(), space.ObjectSpace) and SGD.kwspaces.keys() == {"lr"}
    override = SGD(lr=0.5)
    assert override.size == 1 and override.default.lr == 0.5
    assert make_layers().default == [36]  # depth: the first choice

    @space.obj
    class Bare:
        def __init__(self, k):
            self.k = k

    assert SearchSpace(b=Bare(k=Int(1, 2))).build({"b": {"k": 2}})["b"].k == 2


def test_top_level_aliases():
    for name in ("Real", "Int", "Categorical", "Bool", "Dict", "List", "obj", "func"):
        assert getattr(sch, name) is getattr(space, name)


# -- ConfigSpace -----------------------------------------------------------------------


def test_configspace_is_converted_never_read_as_empty():
    cs_mod = pytest.importorskip("ConfigSpace")
    import ConfigSpace.hyperparameters as csh

    cs = cs_mod.ConfigurationSpace(seed=1)
    cs.add(
        [
            csh.UniformFloatHyperparameter("a", lower=1e-4, upper=1e-1, log=True),
            csh.UniformFloatHyperparameter("b", lower=-2, upper=0, default_value=-1.5),
            csh.UniformIntegerHyperparameter("c", lower=0, upper=1000),
            csh.CategoricalHyperparameter("d", ["good", "neutral", "bad"], default_value="bad"),
            csh.OrdinalHyperparameter("e", [1, 2, 4]),
            csh.Constant("f", "fixed"),
        ]
    )
    s = SearchSpace(cs)
    assert s.hyperparameters == ("a", "b", "c", "d", "e")
    assert s["a"] == Real(1e-4, 1e-1, log=True, default=s["a"].default) and s["a"].log
    assert s["b"].default == -1.5 and s["c"] == Int(0, 1000, default=500)
    assert s["d"].data == ["bad", "good", "neutral"]  # the default first
    assert dict(s.constants) == {"f": "fixed"}
    searcher = RandomSearcher(cs, reward_attribute="accuracy")
    configs = [searcher.get_config() for _ in range(5)]
    assert all(set(c) == {"a", "b", "c", "d", "e"} for c in configs)
    assert configs[0] == s.default_config()
    controller = RLController(cs, hidden_size=4)
    assert controller.names == s.hyperparameters


def test_configspace_features_we_cannot_search_are_refused():
    cs_mod = pytest.importorskip("ConfigSpace")
    import ConfigSpace.hyperparameters as csh

    def space_with(*hps, condition=False):
        cs = cs_mod.ConfigurationSpace()
        cs.add(list(hps))
        if condition:
            cs.add(cs_mod.EqualsCondition(cs["y"], cs["x"], "a"))
        return cs

    cases = [
        (space_with(csh.UniformIntegerHyperparameter("n", 1, 64, log=True)), "'n': a log-scale"),
        (
            space_with(csh.NormalFloatHyperparameter("g", mu=0, sigma=1, lower=-3, upper=3)),
            "'g': a Normal",
        ),
        (
            space_with(csh.CategoricalHyperparameter("w", ["a", "b"], weights=[1, 3])),
            "'w': a weighted choice",
        ),
        (
            space_with(
                csh.CategoricalHyperparameter("x", ["a", "b"]),
                csh.UniformFloatHyperparameter("y", 0, 1),
                condition=True,
            ),
            "has 1 condition",
        ),
    ]
    for cs, message in cases:
        with pytest.raises(ValueError, match=message):
            RandomSearcher(cs)


def test_scheduler_searcher_given_a_configspace(tmp_path):
    cs_mod = pytest.importorskip("ConfigSpace")
    import ConfigSpace.hyperparameters as csh

    cs = cs_mod.ConfigurationSpace()
    cs.add([csh.UniformFloatHyperparameter("lr", 1e-3, 1e-1, log=True)])
    seen = []

    def train_fn(args, reporter):  # undecorated: the space comes from the ConfigSpace
        seen.append(args.lr)
        reporter(epoch=1, accuracy=args.lr)

    s = sch.FIFOScheduler(train_fn, searcher=cs, num_trials=4, backend="thread", progress=False)
    s.run()
    assert s.join_jobs(timeout=60)
    assert len(set(seen)) == 4 and all(1e-3 <= lr <= 1e-1 for lr in seen)
    assert s.space.hyperparameters == ("lr",)

    @sch.args(other=Int(0, 3))
    def decorated(args, reporter):
        pass

    with pytest.raises(ValueError, match=r"searcher's space .* train_fn's"):
        sch.FIFOScheduler(decorated, searcher=cs, num_trials=1)


# -- the runtime: Hyperband over a nested space with objects, killed and resumed ------

CRASH_SCRIPT = """
import json, os, sys
import scheduler as ag

REPORTS = []

@ag.obj(lr=ag.Real(1e-3, 1e-1, log=True), momentum=ag.Categorical(0.0, 0.9))
class Optimizer:
    def __init__(self, lr, momentum):
        self.lr, self.momentum = lr, momentum

@ag.args(
    opt=ag.Categorical(Optimizer(), "plain"),
    net={"width": ag.Int(4, 64), "act": ag.Categorical("relu", "tanh"), "depth": 2},
    blocks=[ag.Int(1, 3), ag.Bool()],
    epochs=9,
)
def train_fn(args, reporter):
    assert isinstance(args.net, ag.Args) and args.net.depth == 2
    lr = args.opt.lr if isinstance(args.opt, Optimizer) else 0.01
    marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crashed")
    start = (args.scheduler.resume_from or 0) + 1
    for epoch in range(start, args.epochs + 1):
        REPORTS.append(epoch)
        if sys.argv[1] == "crash" and len(REPORTS) == 22 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(3)  # the driver dies mid-task (thread backend: same process)
        value = 1 - 1 / (epoch * (1 + lr * args.net.width)) - 0.01 * args.blocks[0]
        reporter(epoch=epoch, accuracy=value)

s = ag.HyperbandScheduler(train_fn, resource={"num_cpus": 1, "num_gpus": 0},
                          total_resources={"num_cpus": 1, "num_gpus": 0}, backend="thread",
                          num_trials=16, type="promotion", reduction_factor=3,
                          checkpoint=sys.argv[2], resume=sys.argv[1] == "resume",
                          progress=False)
s.run()
s.join_jobs()
print(json.dumps({
    "configs": {str(t.config_id): t.config for t in s.history.tasks.values()},
    "rows": [[r["config_id"], r["epoch"], r["accuracy"], r["decision"]]
             for r in s.history.rows() if not r["replay"]],
    "best": [s.get_best_config(), s.get_best_reward()],
    "statuses": sorted(t.status for t in s.history.tasks.values()),
}))
"""


def _run_script(tmp_path, *argv):
    script = tmp_path / "nested_crash.py"
    script.write_text(CRASH_SCRIPT)
    env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(script), *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_hyperband_over_nested_objects_killed_and_resumed(tmp_path):
    crashed = _run_script(tmp_path, "crash", str(tmp_path / "a.json"))
    assert crashed.returncode == 3, crashed.stderr[-3000:]
    resumed = _run_script(tmp_path, "resume", str(tmp_path / "a.json"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    clean = _run_script(tmp_path, "clean", str(tmp_path / "b.json"))
    assert clean.returncode == 0, clean.stderr[-3000:]
    after, reference = json.loads(resumed.stdout), json.loads(clean.stdout)
    assert "interrupted" in after["statuses"]
    # The nested configs came back from the journal exactly (JSON in, JSON out) ...
    assert after["configs"] == reference["configs"]
    assert len(after["configs"]) == 16
    assert any(c["opt"] != "plain" for c in after["configs"].values())
    assert all(isinstance(c["net"], dict) for c in after["configs"].values())
    # ... and the run went on exactly as an uninterrupted one.
    assert after["rows"] == reference["rows"]
    assert after["best"] == reference["best"]
    assert not math.isnan(after["best"][1])


def test_bayesopt_encodes_nested_spaces_through_their_leaves():
    pytest.importorskip("scipy")
    from scheduler.searchers.bayesopt.encoding import Encoder, SpaceLeaves
    from scheduler.searchers.bayesopt.searcher import GPSearcher

    s = deep_space()
    encoder = Encoder(s)
    assert isinstance(encoder.leaves, SpaceLeaves)
    rng = np.random.default_rng(5)
    for _ in range(20):
        config = s.sample(rng)
        back = encoder.decode(encoder.encode(config))
        assert s.contains(back)
        assert np.allclose(encoder.encode(back), encoder.encode(config), atol=1e-9)
    # an object choice's config is a JSON stand-in: the flat path would not read it
    flat_objects = SearchSpace(c=Categorical(object(), "plain"), x=Real(0, 1))
    assert isinstance(Encoder(flat_objects).leaves, SpaceLeaves)

    searcher = GPSearcher(s, num_init_random=3, random_seed=0, num_init_candidates=30)
    seen = set()
    for i in range(7):
        config = searcher.get_config()
        assert s.contains(config) and json_round_trip(config) == config
        seen.add(s.config_key(config))
        searcher.update(config, float(i % 3) + config["lr"])
    assert len(seen) == 7
