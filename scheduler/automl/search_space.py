"""Search spaces written inside a training config: the annotation grammar.

A training config (``config_train.json``) is a JSON object: top-level variables
(``"learning_rate": 1e-4``), and sections holding *components*, objects like
``{"name": "Net", "args": {...}, "disabled": false}``. A ``search`` list added to a
component, or to the top level, makes some of its values searchable:

``{"domain": D, "type": T, "args": A, "targets": X}``
    ``domain``: a label (Clara uses ``lr``, ``net``, ``transform``), part of the key.
    ``type``: ``"float"`` (``targets`` is ``[min, max]``, the one sampled value goes to
    every arg) or ``"enum"`` (``targets`` is a list of choices, each a list with one
    value per arg; the search value is the choice's index). ``args``: one name or a
    list of names. On a component they name keys of its ``args`` object, or
    ``"@disabled"`` for its ``disabled`` flag (enum only, with true/false values). At
    the top level they name top-level variables, or declare *free tags*, names that
    exist nowhere else and serve only to be referenced. ``"name#alias"`` gives the
    searched value a name (a *tag*); a top-level arg is a tag by its own name.

``"apply": {"target": "tag", "@disabled": "tag", "target#alias": "tag"}``
    On a component (targets are its args, or ``@disabled``) or at the top level
    (targets are top-level variables): copy a tag's value there when a search result
    is applied. A tag is a search alias, a top-level searched arg or free tag, an
    alias of another apply (``target#alias``), or any top-level variable.

``"lr_search": [min, max]`` at the top level
    Short for a top-level float search of ``learning_rate`` in domain ``lr``.

Each search item is one parameter, with a stable, unique key (Clara's PRL):
``"<domain>.<type>.<location>"``, the location being the item's JSON path, e.g.
``net.enum.train.model.search[0]``, ``lr.float.search[0]``, ``lr.float.lr_search``.
Floats map to :class:`scheduler.space.Real` (on a log scale when the domain is ``lr``
and ``min > 0``), enums to :class:`scheduler.space.Categorical` of choice indexes, so
every searcher works on the space.

Every malformed annotation raises ``ValueError`` naming the JSON path and the rule: an
unknown key or type, an arg not in the component's ``args``, float targets that are
not ``[min, max]``, an enum choice of the wrong length, ``@disabled`` given a value
that is not true/false, a tag defined twice, an alias that is never defined, an arg
both searched and applied, a cycle of applies.
"""

from __future__ import annotations

import copy
import json
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from scheduler.automl.defs import SearchParam, SearchResult, SearchSpace

__all__ = ["DISABLED", "SearchSpaceManager", "apply_search_result", "json_path"]

#: the pseudo-arg naming a component's ``disabled`` flag
DISABLED = "@disabled"
_ITEM_KEYS = ("domain", "type", "args", "targets")
_TYPES = ("float", "enum")
_RESERVED = ("search", "apply", "lr_search")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def json_path(keys: tuple) -> str:
    """``$.train.loss[1]["odd key"]`` for the keys ``("train", "loss", 1, "odd key")``."""
    out = "$"
    for key in keys:
        if isinstance(key, int):
            out += f"[{key}]"
        elif _BARE_KEY.match(key):
            out += f".{key}"
        else:
            out += f"[{json.dumps(key)}]"
    return out


def _location(keys: tuple) -> str:
    path = json_path(keys)[1:]
    return path[1:] if path.startswith(".") else path


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Arg:
    name: str  # an args key, a top-level variable or free tag, or DISABLED
    alias: str | None
    text: str


@dataclass
class _Param:
    info: SearchParam
    owner: tuple  # keys of the owning object
    root: bool
    refs: list[_Arg]


@dataclass
class _Apply:
    owner: tuple
    root: bool
    path: str  # JSON path of this apply entry
    target: str
    alias: str | None
    source: str


@dataclass(frozen=True)
class _Tag:
    name: str
    path: str
    param: _Param | None = None  # a searched value: (param, arg index)
    index: int = 0
    apply: _Apply | None = None  # an apply alias


class SearchSpaceManager:
    """The search space of an annotated training config, and its application.

    Parameters
    ----------
    train_config : dict
        The parsed ``config_train.json``; copied, never modified.
    location : str
        Where the config comes from (its file name), for error messages.
    remove_search_augs : bool
        Whether :meth:`apply_search_result` removes every ``search``, ``lr_search``
        and ``apply`` key from the configs it makes.

    Raises
    ------
    ValueError
        For a malformed annotation, naming its JSON path and the rule (see the module
        documentation).
    """

    def __init__(
        self, train_config: object, location: str = "", remove_search_augs: bool = False
    ) -> None:
        self.location = str(location or "")
        self.remove_search_augs = bool(remove_search_augs)
        if not isinstance(train_config, Mapping):
            self._fail("$", f"a training config must be a JSON object, got {train_config!r}")
        self._config = copy.deepcopy(dict(train_config))
        self._params: list[_Param] = []
        self._applies: list[_Apply] = []
        self._tags: dict[str, _Tag] = {}
        self._searched: dict[tuple, str] = {}  # (owner keys, arg name) -> item path
        self._owners: list[tuple] = []  # objects holding search/apply keys
        self._scan_lr_search()
        self._scan(self._config, ())
        self._check_applies()
        self._order = self._apply_order()
        self._check_disabled_applies()
        self._space = SearchSpace(self.location or "config", [p.info for p in self._params])

    # -- errors ----------------------------------------------------------------------
    def _fail(self, path: str, rule: str) -> NoReturn:
        prefix = f"{self.location}: " if self.location else ""
        raise ValueError(f"{prefix}{path}: {rule}")

    # -- scanning --------------------------------------------------------------------
    def _scan(self, node: Any, keys: tuple) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                self._scan(item, (*keys, i))
            return
        if not isinstance(node, dict):
            return
        if "lr_search" in node and keys:
            self._fail(
                json_path((*keys, "lr_search")), "lr_search is allowed at the top level only"
            )
        if "search" in node or "apply" in node:
            self._owners.append(keys)
        if "search" in node:
            self._scan_search(node, keys)
        if "apply" in node:
            self._scan_apply(node, keys)
        for key, value in node.items():
            if key in _RESERVED:
                continue
            self._scan(value, (*keys, key))

    def _scan_search(self, owner: dict, keys: tuple) -> None:
        items = owner["search"]
        path = json_path((*keys, "search"))
        if not isinstance(items, list):
            self._fail(path, f"search must be a list of search items, got {items!r}")
        for i, item in enumerate(items):
            self._scan_item(owner, keys, (*keys, "search", i), item)

    def _scan_item(self, owner: dict, owner_keys: tuple, item_keys: tuple, item: Any) -> None:
        path = json_path(item_keys)
        root = not owner_keys
        if not isinstance(item, dict):
            self._fail(
                path, f"a search item must be an object with keys {list(_ITEM_KEYS)}, got {item!r}"
            )
        unknown = [k for k in item if k not in _ITEM_KEYS]
        if unknown:
            self._fail(path, f"unknown key(s) {unknown}; a search item has {list(_ITEM_KEYS)}")
        missing = [k for k in _ITEM_KEYS if k not in item]
        if missing:
            self._fail(path, f"missing key(s) {missing}; a search item needs {list(_ITEM_KEYS)}")
        domain = item["domain"]
        if not isinstance(domain, str) or not _NAME.match(domain):
            self._fail(
                f"{path}.domain",
                f"domain must be a name such as 'lr', 'net' or 'transform', got {domain!r}",
            )
        kind = item["type"]
        if kind not in _TYPES:
            self._fail(f"{path}.type", f"unknown type {kind!r}; type must be 'float' or 'enum'")
        refs = self._parse_args(item["args"], f"{path}.args")
        comp_args = owner.get("args")
        for k, ref in enumerate(refs):
            arg_path = f"{path}.args[{k}]" if isinstance(item["args"], list) else f"{path}.args"
            if ref.name == DISABLED:
                if root:
                    self._fail(
                        arg_path,
                        "@disabled names a component's disabled flag; the top level has none",
                    )
                if kind == "float":
                    self._fail(
                        arg_path,
                        "@disabled takes true/false: search it with type 'enum', not 'float'",
                    )
            elif root:
                if ref.name in _RESERVED:
                    self._fail(arg_path, f"{ref.name!r} is reserved and cannot be searched")
            elif not isinstance(comp_args, dict) or ref.name not in comp_args:
                have = (
                    sorted(comp_args) if isinstance(comp_args, dict) else "none (no 'args' object)"
                )
                self._fail(arg_path, f"arg {ref.name!r} is not in the component's args ({have})")
            where = (owner_keys, ref.name)
            if where in self._searched:
                self._fail(
                    arg_path, f"{ref.name!r} is searched twice (also at {self._searched[where]})"
                )
            self._searched[where] = path
        targets = item["targets"]
        tpath = f"{path}.targets"
        if kind == "float":
            if not isinstance(targets, list) or len(targets) != 2:
                self._fail(
                    tpath, f"float targets must be a list [min, max] of length 2, got {targets!r}"
                )
            low, high = targets
            if not (
                _is_real(low) and _is_real(high) and math.isfinite(low) and math.isfinite(high)
            ):
                self._fail(
                    tpath, f"float targets must be two finite numbers [min, max], got {targets!r}"
                )
            if not low < high:
                self._fail(tpath, f"float targets need min < max, got {targets!r}")
            info = SearchParam(
                prl=f"{domain}.float.{_location(item_keys)}",
                domain=domain,
                type="float",
                args=tuple(r.text for r in refs),
                path=path,
                min=float(low),
                max=float(high),
                log=domain == "lr" and low > 0,
            )
        else:
            if not isinstance(targets, list) or not targets:
                self._fail(
                    tpath, f"enum targets must be a non-empty list of choices, got {targets!r}"
                )
            for c, choice in enumerate(targets):
                if not isinstance(choice, list) or len(choice) != len(refs):
                    self._fail(
                        f"{tpath}[{c}]",
                        f"each enum choice must be a list with one value per arg ({len(refs)}: "
                        f"{[r.text for r in refs]}), got {choice!r}",
                    )
                for ref, value in zip(refs, choice):
                    if ref.name == DISABLED and not isinstance(value, bool):
                        self._fail(f"{tpath}[{c}]", f"@disabled takes true or false, got {value!r}")
            info = SearchParam(
                prl=f"{domain}.enum.{_location(item_keys)}",
                domain=domain,
                type="enum",
                args=tuple(r.text for r in refs),
                path=path,
                choices=tuple(tuple(copy.deepcopy(c)) for c in targets),
            )
        param = _Param(info, owner_keys, root, refs)
        self._params.append(param)
        for k, ref in enumerate(refs):
            if ref.alias is not None:
                self._add_tag(_Tag(ref.alias, path, param=param, index=k))
            elif root:
                self._add_tag(_Tag(ref.name, path, param=param, index=k))

    def _parse_args(self, args: Any, path: str) -> list[_Arg]:
        texts = [args] if isinstance(args, str) else args
        if not isinstance(texts, list) or not texts:
            self._fail(path, f"args must be a name or a non-empty list of names, got {args!r}")
        refs = []
        for k, text in enumerate(texts):
            refs.append(self._parse_ref(text, path if isinstance(args, str) else f"{path}[{k}]"))
        names = [r.name for r in refs]
        for name in names:
            if names.count(name) > 1:
                self._fail(path, f"arg {name!r} is listed twice")
        return refs

    def _parse_ref(self, text: Any, path: str) -> _Arg:
        if not isinstance(text, str) or not text:
            self._fail(path, f"an arg must be a non-empty string, got {text!r}")
        parts = text.split("#")
        if len(parts) > 2:
            self._fail(path, f"an arg is 'name' or 'name#alias' (one '#'), got {text!r}")
        name = parts[0]
        alias = parts[1] if len(parts) == 2 else None
        if name != DISABLED and not _NAME.match(name):
            self._fail(
                path, f"an arg name must be an identifier or '@disabled', got {name!r} in {text!r}"
            )
        if alias is not None and not _NAME.match(alias):
            self._fail(path, f"an alias must be an identifier, got {alias!r} in {text!r}")
        return _Arg(name, alias, text)

    def _add_tag(self, tag: _Tag) -> None:
        other = self._tags.get(tag.name)
        if other is not None:
            self._fail(tag.path, f"tag {tag.name!r} is defined twice (also at {other.path})")
        is_alias = tag.apply is not None or (
            tag.param is not None and tag.param.refs[tag.index].alias
        )
        if is_alias and tag.name in self._config and tag.name not in _RESERVED:
            self._fail(
                tag.path, f"alias {tag.name!r} is also the name of a top-level variable; rename it"
            )
        self._tags[tag.name] = tag

    def _scan_apply(self, owner: dict, keys: tuple) -> None:
        spec = owner["apply"]
        path = json_path((*keys, "apply"))
        root = not keys
        if not isinstance(spec, dict) or not spec:
            self._fail(path, f"apply must be a non-empty object {{target: tag}}, got {spec!r}")
        comp_args = owner.get("args")
        seen: dict[str, str] = {}
        for key, source in spec.items():
            entry = json_path((*keys, "apply", key))
            ref = self._parse_ref(key, entry)
            if ref.name == DISABLED:
                if root:
                    self._fail(
                        entry, "@disabled names a component's disabled flag; the top level has none"
                    )
            elif root:
                if ref.name in _RESERVED or ref.name not in self._config:
                    self._fail(
                        entry, f"top-level apply target {ref.name!r} is not a top-level variable"
                    )
            elif not isinstance(comp_args, dict) or ref.name not in comp_args:
                have = (
                    sorted(comp_args) if isinstance(comp_args, dict) else "none (no 'args' object)"
                )
                self._fail(
                    entry, f"apply target {ref.name!r} is not in the component's args ({have})"
                )
            if ref.name in seen:
                self._fail(entry, f"{ref.name!r} is applied twice (also by {seen[ref.name]})")
            seen[ref.name] = entry
            if not isinstance(source, str) or not _NAME.match(source):
                self._fail(entry, f"an apply value must be a tag name, got {source!r}")
            apply = _Apply(keys, root, entry, ref.name, ref.alias, source)
            self._applies.append(apply)
            if ref.alias is not None:
                self._add_tag(_Tag(ref.alias, entry, apply=apply))

    def _scan_lr_search(self) -> None:
        if "lr_search" not in self._config:
            return
        path = "$.lr_search"
        targets = self._config["lr_search"]
        if "learning_rate" not in self._config:
            self._fail(
                path, "lr_search searches the top-level variable 'learning_rate', which is missing"
            )
        if (
            not isinstance(targets, list)
            or len(targets) != 2
            or not all(_is_real(t) and math.isfinite(t) for t in targets)
        ):
            self._fail(
                path, f"lr_search must be a list [min, max] of two finite numbers, got {targets!r}"
            )
        if not targets[0] < targets[1]:
            self._fail(path, f"lr_search needs min < max, got {targets!r}")
        where = ((), "learning_rate")
        if where in self._searched:
            self._fail(path, f"'learning_rate' is searched twice (also at {self._searched[where]})")
        self._searched[where] = path
        info = SearchParam(
            prl="lr.float.lr_search",
            domain="lr",
            type="float",
            args=("learning_rate",),
            path=path,
            min=float(targets[0]),
            max=float(targets[1]),
            log=targets[0] > 0,
        )
        param = _Param(info, (), True, [_Arg("learning_rate", None, "learning_rate")])
        self._params.append(param)
        self._add_tag(_Tag("learning_rate", path, param=param))

    # -- applies -----------------------------------------------------------------------
    def _root_apply(self, name: str) -> _Apply | None:
        for apply in self._applies:
            if apply.root and apply.target == name:
                return apply
        return None

    def _source_of(self, apply: _Apply) -> _Tag | _Apply | tuple[str, str]:
        """What an apply copies: a _Tag, an _Apply (a top-level variable it sets), or
        ("const", name) for an unsearched top-level variable."""
        name = apply.source
        tag = self._tags.get(name)
        if tag is not None:
            return tag.apply if tag.apply is not None else tag
        derived = self._root_apply(name)
        if derived is not None:
            return derived
        if name in self._config and name not in _RESERVED:
            return ("const", name)
        self._fail(
            apply.path,
            f"alias {name!r} is never defined (no search arg '...#{name}', no top-level search "
            f"or free tag {name!r}, no apply '...#{name}', no top-level variable {name!r})",
        )

    def _check_applies(self) -> None:
        for apply in self._applies:
            where = (apply.owner, apply.target)
            if where in self._searched:
                self._fail(
                    apply.path,
                    f"{apply.target!r} is both searched (at {self._searched[where]}) and applied",
                )
            self._source_of(apply)

    def _apply_order(self) -> list[_Apply]:
        order: list[_Apply] = []
        state: dict[int, str] = {}

        def visit(apply: _Apply, chain: list[_Apply]) -> None:
            key = id(apply)
            if state.get(key) == "done":
                return
            if state.get(key) == "active":
                cycle = [*chain[chain.index(apply) :], apply]
                self._fail(
                    apply.path,
                    "apply cycle: " + " -> ".join(f"{a.path} (= {a.source!r})" for a in cycle),
                )
            state[key] = "active"
            source = self._source_of(apply)
            if isinstance(source, _Apply):
                visit(source, [*chain, apply])
            state[key] = "done"
            order.append(apply)

        for apply in self._applies:
            visit(apply, [])
        return order

    def _possible_values(self, apply: _Apply) -> list[Any] | None:
        """The values an apply can copy (None: any float)."""
        source = self._source_of(apply)
        if isinstance(source, _Apply):
            return self._possible_values(source)
        if isinstance(source, tuple):
            return [self._config[source[1]]]
        param = source.param
        if param is None:  # (a tag holds a searched value or an apply alias)
            raise AssertionError(f"tag {source.name!r} holds neither a value nor an apply")
        if param.info.type == "float" or param.info.choices is None:
            return None
        return [choice[source.index] for choice in param.info.choices]

    def _check_disabled_applies(self) -> None:
        for apply in self._applies:
            if apply.target != DISABLED:
                continue
            values = self._possible_values(apply)
            if values is None:
                self._fail(
                    apply.path, f"@disabled takes true/false, but tag {apply.source!r} is a float"
                )
            bad = [v for v in values if not isinstance(v, bool)]
            if bad:
                self._fail(
                    apply.path,
                    f"@disabled takes true/false, but tag {apply.source!r} can be {bad[0]!r}",
                )

    # -- the public API ----------------------------------------------------------------
    @property
    def train_config(self) -> dict:
        """A copy of the annotated config."""
        return copy.deepcopy(self._config)

    def extract_search_space(self) -> SearchSpace:
        """The :class:`~scheduler.automl.defs.SearchSpace` of the config (params in the
        order they appear)."""
        return self._space

    def _values(self, search_result: Any) -> dict[str, Any]:
        values = search_result.values if isinstance(search_result, SearchResult) else search_result
        return self._space.check_values(values)

    def map_search_result(self, search_result: Any) -> dict[str, list[Any]]:
        """``{prl: [concrete value per arg]}`` (an enum index becomes its choice)."""
        values = self._values(search_result)
        return {
            prl: copy.deepcopy(self._space.params[prl].concrete(v)) for prl, v in values.items()
        }

    def apply_search_result(self, search_result: Any) -> dict:
        """A new config with ``search_result`` applied (this manager's config is left
        unchanged): searched args set (an enum's choice spread over its args), applies
        resolved, and with ``remove_search_augs`` every ``search``, ``lr_search`` and
        ``apply`` key removed.

        ``search_result``: a :class:`~scheduler.automl.defs.SearchResult` or a dict
        ``{prl: value}``; every PRL needs a valid value (``ValueError`` otherwise).
        """
        values = self._values(search_result)
        config = copy.deepcopy(self._config)
        tag_values: dict[str, Any] = {}
        for param in self._params:
            concrete = param.info.concrete(values[param.info.prl])
            owner = _navigate(config, param.owner)
            for k, ref in enumerate(param.refs):
                value = copy.deepcopy(concrete[k])
                if ref.alias is not None:
                    tag_values[ref.alias] = value
                elif param.root:
                    tag_values[ref.name] = value
                if ref.name == DISABLED:
                    owner["disabled"] = value
                elif param.root:
                    if ref.name in config:  # a free tag is written nowhere
                        config[ref.name] = copy.deepcopy(value)
                else:
                    owner["args"][ref.name] = copy.deepcopy(value)
        applied: dict[int, Any] = {}
        for apply in self._order:
            source = self._source_of(apply)
            if isinstance(source, _Apply):
                value = applied[id(source)]
            elif isinstance(source, tuple):
                value = self._config[source[1]]
            else:
                value = tag_values[source.name]
            applied[id(apply)] = value
            owner = _navigate(config, apply.owner)
            if apply.target == DISABLED:
                owner["disabled"] = copy.deepcopy(value)
            elif apply.root:
                config[apply.target] = copy.deepcopy(value)
            else:
                owner["args"][apply.target] = copy.deepcopy(value)
        if self.remove_search_augs:
            for keys in self._owners:
                owner = _navigate(config, keys)
                owner.pop("search", None)
                owner.pop("apply", None)
            config.pop("lr_search", None)
        return config


def _navigate(config: Any, keys: tuple) -> Any:
    node = config
    for key in keys:
        node = node[key]
    return node


def apply_search_result(
    train_config: Mapping, search_result: Any, remove_search_augs: bool = False
) -> dict:
    """``SearchSpaceManager(train_config, remove_search_augs=...).apply_search_result(...)``."""
    manager = SearchSpaceManager(train_config, remove_search_augs=remove_search_augs)
    return manager.apply_search_result(search_result)
