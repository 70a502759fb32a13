"""Shipping a train_fn to a worker interpreter so that its tracebacks show real lines.

cloudpickle pickles functions from ``__main__`` and closures by value, and (since 3.0)
names their code ``File "<dynamic-code>"``, so a failure in a worker would not say
where it happened. :func:`dumps_function` keeps each code object's real file name and
collects the source lines of those files as the driver sees them (including sources
that exist only in the driver's ``linecache``: ``<stdin>``, notebook cells);
:func:`install_sources` puts them in the worker's ``linecache``, so tracebacks show the
user's file, line number and text even when the file is not readable there.

Imported by the worker; no thread, no I/O beyond reading the user's source files.
"""

from __future__ import annotations

import io
import linecache
import os
import pickle
import types
from collections.abc import Callable
from typing import IO, Any

import cloudpickle

__all__ = ["absolute_sys_path", "dumps_function", "install_sources"]

_MAX_SOURCE_BYTES = 2_000_000  # a generated module this large is not worth shipping


def _code(constructor: Callable[..., types.CodeType], args: tuple, filename: str) -> types.CodeType:
    """Rebuild a code object pickled by cloudpickle, with its real file name."""
    return constructor(*args).replace(co_filename=filename)


class _Pickler(cloudpickle.Pickler):
    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.filenames: set[str] = set()

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is types.CodeType:
            reduce = self.dispatch_table.get(types.CodeType)
            if reduce is not None:
                self.filenames.add(obj.co_filename)
                constructor, args = reduce(obj)
                return _code, (constructor, args, obj.co_filename)
        return super().reducer_override(obj)


def dumps_function(fn: object) -> tuple[bytes, dict[str, list[str]]]:
    """``(pickled fn, {filename: source lines})`` for the code pickled by value."""
    buffer = io.BytesIO()
    pickler = _Pickler(buffer)
    pickler.dump(fn)
    sources = {}
    for filename in pickler.filenames:
        lines = linecache.getlines(filename)
        if lines and sum(map(len, lines)) <= _MAX_SOURCE_BYTES:
            sources[filename] = lines
    return buffer.getvalue(), sources


def install_sources(sources: dict[str, list[str]]) -> None:
    """Make ``linecache`` (hence ``traceback``) serve these lines for these files.

    An entry without a modification time is never invalidated by ``checkcache``: the
    lines are those of the code that runs, even if the file changes meanwhile.
    """
    for filename, lines in sources.items():
        linecache.cache[filename] = (sum(map(len, lines)), None, list(lines), filename)


def absolute_sys_path(path: list[str]) -> list[str]:
    """The driver's ``sys.path`` for a worker, with ``''`` (the current folder)
    replaced by the driver's current folder, so that a task that changes folders
    does not change what the worker imports."""
    cwd = os.getcwd()
    return [cwd if entry == "" else entry for entry in path]
