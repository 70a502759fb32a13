"""``scheduler.Command``: any executable as a trial, with its search space and defaults.

::

    train = scheduler.Command(
        ["python", "train.py"],
        lr=space.Real(1e-4, 1e-1, log=True),
        epochs=9,
        _cwd="project", _timeout=600,
    )
    scheduler.HyperbandScheduler(train, ...)   # wherever a train_fn is accepted

Keyword arguments are the search space and the defaults, exactly as for
:func:`scheduler.args` (``train.args``, ``train.space``, ``train.kwvars``,
``train.update(...)``). Options start with an underscore, so that no option can clash
with a hyperparameter name (and a hyperparameter name may not start with one):

``_cwd``
    Working folder of the program (default: the driver's). Relative to the task's copy
    of the template when ``_copy_from`` is given.
``_copy_from``
    A template folder cloned for every task (as Clara's executor clones an MMAR); the
    program runs in the copy, ``<task folder>/work``.
``_env``
    Extra environment variables (``{name: str}``), over the driver's environment.
``_score_file``, ``_score_key``
    A JSON file (an object) the program writes, relative to its working folder; when
    the program exits 0 the file is the task's final report. ``_score_key`` names the
    entry that holds the reward (Clara: ``_score_file="train_stats.json",
    _score_key="best_validation_metric"``); by default the file has the ``reward_attr``
    key itself. With a ``_score_key``, a report (a ``[scheduler]`` line or
    ``scheduler.report``) that has no ``reward_attr`` entry takes its reward from the
    ``_score_key`` entry too, so the program may use its own name for the score
    throughout (``_score_key`` works without a ``_score_file``).
``_timeout``
    Seconds a task may run before it is stopped and fails (``max_task_time`` applies too).
``_kill_grace``
    Seconds between SIGTERM and SIGKILL when a task is stopped (default 5).
``_config_args``
    Whether the config is appended as ``--name value`` arguments (default True). False
    for a program that reads its config elsewhere (``SCHEDULER_CONFIG``, or a file
    written for it, as Clara's executor writes the job's training config): nothing is
    appended, and only ``{name}`` templates put values on the command line.
``_merge_stderr``
    Send the program's stderr into its stdout stream (default False): one log,
    ``stdout.log``, holding both in the order they were written (Clara's ``log.txt``);
    ``[scheduler]`` lines are read from that stream, and a failure quotes its last 20
    lines instead of stderr's. (A report line must then be written in one piece: a
    stderr write between its text and its newline would break it.)

How the program gets its config: each entry (defaults overlaid with the task's config)
becomes ``--name value`` after ``argv``, unless ``argv`` places it with a ``{name}``
template (``"--learning-rate={lr}"``, ``"{epochs}"``, ``"{lr:.4f}"``); templates may also
use ``{task_id}``, ``{config_id}``, ``{checkpoint_dir}`` and ``{resume_from}``. Strings are
passed as they are, other values as JSON (``0.001``, ``9``, ``true``, ``null``,
``[1, 2]``). The whole config is also in ``SCHEDULER_CONFIG`` (JSON); see
:mod:`scheduler.trial` for the other environment variables and for reporting.
An ``argv[0]`` of ``python`` or ``python3`` runs the driver's own interpreter
(``sys.executable``).

Shared by every layer; imports only the search spaces and the decorator's helpers.
"""

from __future__ import annotations

import json
import math
import os
import string
from collections.abc import Mapping, Sequence
from typing import Any

from scheduler._decorator import Args, _default_of, _entries
from scheduler._validation import is_real
from scheduler.space import Domain, SearchSpace

__all__ = ["TASK_FIELDS", "Command", "format_value"]

#: fields an argv template may use besides the hyperparameters
TASK_FIELDS = ("task_id", "config_id", "checkpoint_dir", "resume_from")

_OPTIONS = {
    "cwd": None,
    "copy_from": None,
    "env": None,
    "score_file": None,
    "score_key": None,
    "timeout": None,
    "kill_grace": 5.0,
    "config_args": True,
    "merge_stderr": False,
}

_formatter = string.Formatter()


def format_value(value: Any) -> str:
    """How a config value is written on the command line: strings as they are, anything
    else as JSON (``0.001``, ``true``, ``null``, ``[1, 2]``)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def _path(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ValueError(f"{name} must be a path (str or os.PathLike), got {value!r}")
    return os.fspath(value)


def _seconds(name: str, value: Any, *, allow_zero: bool, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    ok = is_real(value) and math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        rule = "a number of seconds >= 0" if allow_zero else "a positive number of seconds"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return float(value)


def _fields(element: str) -> list[tuple[str, str]]:
    """The ``(name, format_spec)`` of each ``{...}`` in one argv element."""
    try:
        parsed = list(_formatter.parse(element))
    except ValueError as exc:
        raise ValueError(f"argv element {element!r} is not a valid template: {exc}") from None
    fields = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or conversion:
            raise ValueError(
                f"argv element {element!r}: a template field must be a plain name like "
                f"{{lr}} or {{lr:.4f}}, got {{{name}{'!' + conversion if conversion else ''}}}"
            )
        fields.append((name, spec or ""))
    return fields


class Command:
    """A command line run as a trial; see the module docstring for the options.

    Parameters
    ----------
    argv : sequence of str
        The program and its fixed arguments, e.g. ``["python", "train.py"]``. A single
        string is refused (use ``shlex.split`` for a shell-style line).
    **kwargs
        Hyperparameters (:class:`~scheduler.space.Domain`) and constants; options with a
        leading underscore.

    Attributes
    ----------
    argv : list of str
    args : Args
        The defaults, each search space replaced by its default value.
    space : SearchSpace
        The searchable entries.
    kwvars : dict
        The keyword arguments as given (without the options).
    options : dict
        The options, without their underscore (``{"cwd": ..., "timeout": ...}``).
    """

    def __init__(self, argv: Sequence[str], **kwargs: Any):
        if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence) or not argv:
            raise ValueError(
                "argv must be a non-empty list of strings such as ['python', 'train.py'] "
                f"(shlex.split() turns a shell-style line into one), got {argv!r}"
            )
        elements = []
        for element in argv:
            if not isinstance(element, (str, os.PathLike)):
                raise ValueError(f"argv must hold strings, got {element!r} in {list(argv)!r}")
            elements.append(os.fspath(element))
        self.argv: list[str] = elements
        self._templates = [_fields(element) for element in elements]
        options = dict(_OPTIONS)
        for key in [k for k in kwargs if k.startswith("_")]:
            name = key[1:]
            if name not in _OPTIONS:
                known = ", ".join("_" + o for o in _OPTIONS)
                raise ValueError(
                    f"unknown Command option {key!r} (options start with '_': {known}); "
                    "hyperparameter names may not start with '_'"
                )
            options[name] = kwargs.pop(key)
        self.options = self._check_options(options)
        self.kwvars: dict[str, Any] = {}
        self.args = Args()
        self.space = SearchSpace()
        self.update(**kwargs)

    @staticmethod
    def _check_options(options: dict[str, Any]) -> dict[str, Any]:
        options["cwd"] = _path("_cwd", options["cwd"])
        options["copy_from"] = _path("_copy_from", options["copy_from"])
        if options["copy_from"] is not None:
            options["copy_from"] = os.path.abspath(options["copy_from"])
            if not os.path.isdir(options["copy_from"]):
                raise ValueError(
                    f"_copy_from must be an existing folder, got {options['copy_from']!r}"
                )
        if options["cwd"] is not None and options["copy_from"] is None:
            options["cwd"] = os.path.abspath(options["cwd"])
        env = options["env"]
        if env is not None:
            if not isinstance(env, Mapping):
                raise ValueError(f"_env must be a dict of str to str, got {env!r}")
            for key, value in env.items():
                if not isinstance(key, str) or not isinstance(value, str) or not key:
                    raise ValueError(
                        f"_env must be a dict of str to str, got {key!r}: {value!r} in {env!r}"
                    )
            options["env"] = dict(env)
        options["score_file"] = _path("_score_file", options["score_file"])
        if options["score_key"] is not None and not isinstance(options["score_key"], str):
            raise ValueError(f"_score_key must be a string, got {options['score_key']!r}")
        options["timeout"] = _seconds(
            "_timeout", options["timeout"], allow_zero=False, allow_none=True
        )
        options["kill_grace"] = _seconds("_kill_grace", options["kill_grace"], allow_zero=True)
        for name in ("config_args", "merge_stderr"):
            if not isinstance(options[name], bool):
                raise ValueError(f"_{name} must be True or False, got {options[name]!r}")
        return options

    def update(self, **kwvars: Any) -> Command:
        """Add or replace hyperparameters or constants; returns the command."""
        for key in kwvars:
            if key.startswith("_"):
                raise ValueError(
                    f"update() sets hyperparameters, not options; got {key!r} (names may "
                    "not start with '_')"
                )
        kwvars = _entries(kwvars, "Command()")
        self.kwvars.update(kwvars)
        for name, value in kwvars.items():
            self.args[name] = _default_of(value)
        self.space = SearchSpace({k: v for k, v in self.kwvars.items() if isinstance(v, Domain)})
        return self

    @property
    def kwspaces(self) -> dict[str, Domain]:
        """The searchable entries, ``{name: domain}``."""
        return {k: v for k, v in self.space.domains.items() if isinstance(v, Domain)}

    @property
    def templated(self) -> frozenset[str]:
        """Names placed by a ``{name}`` template in argv (not appended as ``--name``)."""
        return frozenset(name for fields in self._templates for name, _ in fields)

    def command_line(self, values: Mapping[str, Any], task: Mapping[str, Any]) -> list[str]:
        """The argv of one task: templates filled, then ``--name value`` for the entries
        of ``values`` that no template placed (when ``_config_args``).

        Parameters
        ----------
        values : mapping
            The task's hyperparameters and constants.
        task : mapping
            The task fields (:data:`TASK_FIELDS`).

        Raises
        ------
        ValueError
            For a template field that is neither in ``values`` nor a task field.
        """
        argv = []
        for element, fields in zip(self.argv, self._templates):
            if not fields:
                argv.append(element)
                continue
            filled = {}
            for name, spec in fields:
                if name in values:
                    value = values[name]
                elif name in task:
                    value = "" if task[name] is None else task[name]  # a fresh start
                else:
                    known = ", ".join([*sorted(values), *TASK_FIELDS])
                    raise ValueError(
                        f"argv template {{{name}}} in {element!r} names no hyperparameter "
                        f"or task field (known: {known})"
                    )
                filled[name] = format(value, spec) if spec else format_value(value)
            argv.append(element.format_map({k: _Verbatim(v) for k, v in filled.items()}))
        if self.options["config_args"]:
            placed = self.templated
            for name, value in values.items():
                if name not in placed:
                    argv.extend([f"--{name}", format_value(value)])
        return argv

    def __repr__(self) -> str:
        entries = ", ".join(f"{k}={v!r}" for k, v in self.kwvars.items())
        options = ", ".join(f"_{k}={v!r}" for k, v in self.options.items() if v != _OPTIONS[k])
        inner = ", ".join(part for part in (repr(self.argv), entries, options) if part)
        return f"Command({inner})"


class _Verbatim(str):
    """A pre-formatted value: ``format(_Verbatim(s), spec)`` ignores the spec (already
    applied)."""

    def __format__(self, spec: str) -> str:
        return str(self)
