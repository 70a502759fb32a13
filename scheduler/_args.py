"""The ``Args`` namespace: a dict with attribute access.

A task's ``args`` (and a built :class:`scheduler.space.Dict`) is an :class:`Args`.
Shared by every layer; imports nothing of ``scheduler``.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any

__all__ = ["Args"]


class Args:
    """A namespace of arguments with attribute and item access.

    ``args.lr`` and ``args['lr']`` are the same entry; ``'lr' in args``, iteration over
    the names, ``len``, ``keys()``, ``values()``, ``items()``, ``get()`` and ``vars(args)``
    work as for a dict. Picklable and copyable. An entry whose name is that of a method
    (``get``, ``keys``, ...) is still reachable as ``args['get']``; attribute access
    gives the entry.
    """

    def __init__(self, entries: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), **kwargs: Any):
        self.__dict__.update(dict(entries, **kwargs))

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails, i.e. for a missing entry.
        if name.startswith("__"):
            raise AttributeError(name)
        known = ", ".join(sorted(self.__dict__)) or "none"
        raise AttributeError(f"args has no entry {name!r} (entries: {known})")

    def __setattr__(self, name: str, value: Any) -> None:
        # ``args.lr = 0.1`` sets an entry (as ``args['lr'] = 0.1`` does)
        self.__dict__[name] = value

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value

    def __delitem__(self, name: str) -> None:
        del self.__dict__[name]

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.__dict__))

    def __len__(self) -> int:
        return len(self.__dict__)

    def keys(self) -> KeysView[str]:
        return self.__dict__.keys()

    def values(self) -> ValuesView[Any]:
        return self.__dict__.values()

    def items(self) -> ItemsView[str, Any]:
        return self.__dict__.items()

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)

    def to_dict(self) -> dict[str, Any]:
        """A shallow copy as a plain dict (nested Args become dicts too)."""
        return {k: v.to_dict() if isinstance(v, Args) else v for k, v in self.__dict__.items()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Args):
            return self.__dict__ == other.__dict__
        if isinstance(other, Mapping):
            return self.__dict__ == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Args({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"
