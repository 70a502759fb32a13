"""Search spaces: the domain of each hyperparameter, nested as deep as needed.

Leaf *domains* describe the values of one hyperparameter:

- :class:`Real` -- a float in ``[lower, upper]``, optionally on a log scale;
- :class:`Int` -- an integer in ``[lower, upper]`` (both ends included);
- :class:`Categorical` -- one of a list of choices: any Python values, objects, or
  spaces (picking a space searches it too);
- :class:`Bool` -- ``Categorical(False, True)``.

*Nested* spaces hold spaces and constants: :class:`Dict` (a task gets an
:class:`~scheduler.Args`, ``args.opt.lr``), :class:`List` (a list), and the searchable
objects of :func:`obj` (a class) and :func:`func` (a function), whose task value is the
object built from the searched arguments. A plain dict, list or tuple holding a space is
read as a ``Dict`` / ``List`` (:func:`to_space`). They nest to any depth.

A :class:`SearchSpace` maps names to spaces (plus constants, carried but not searched).
Its *configs* are JSON data -- ``{"lr": 0.01, "opt": {"momentum": 0.9}, "net":
{"choice": 1, "value": {"depth": 3}}}`` -- so they pass through the journal, snapshots
and results files unchanged; :meth:`SearchSpace.build` (run in each task) turns a config
into the values the training function receives. How each space writes its configs:

===============  ============================================================
``Real``/``Int``  the number
``Bool``          ``true`` / ``false``
``Categorical``   a choice that is JSON data: itself (a tuple: its list); any
                  other choice: ``{"choice": i}``; a space choice:
                  ``{"choice": i, "value": <its config>}``
``Dict``, obj     ``{key: config}`` over the searched keys / arguments
``List``          ``[config, ...]``, ``None`` for constant elements
===============  ============================================================

Every domain has an encoding into ``[0, 1]`` (:meth:`Domain.to_unit` and
:meth:`Domain.from_unit`): linear (or logarithmic) for :class:`Real`, the centre of the
value's bin for :class:`Int` and :class:`Categorical`. :meth:`SearchSpace.leaves` lists
every leaf domain with its path (``('opt', 'lr')``; a Categorical's space choice ``i``
has its leaves under ``path + (i,)``), and a config is a vector with one coordinate per
leaf (:meth:`SearchSpace.to_unit_vector`; names sorted, then depth first).

Configs also have a canonical JSON encoding (:meth:`SearchSpace.encode_config`) and key
(:meth:`SearchSpace.config_key`): searchers use the key to recognise a config they have
seen, and the encoding to save their state as plain JSON. :meth:`SearchSpace.fingerprint`
describes the space itself, so that a checkpoint saved for one space is refused by
another. A :class:`ConfigTable` stores many configs of one space compactly (8 bytes per
hyperparameter of a flat space) and finds them again exactly, as the key would. A
``ConfigSpace.ConfigurationSpace`` is read with :func:`from_configspace`.

Example
-------
>>> import numpy as np
>>> from scheduler import space
>>> s = space.SearchSpace(lr=space.Real(1e-3, 1e-2, log=True), layers=space.Int(1, 4))
>>> s.default_config()
{'layers': 2, 'lr': 0.0031622776601683794}
>>> s.size is None
True
>>> nested = space.SearchSpace(opt=dict(lr=space.Real(0.01, 0.1), momentum=0.9))
>>> nested.default_config()
{'opt': {'lr': 0.055}}
>>> nested.build(nested.default_config())["opt"].momentum
0.9
"""

from scheduler._space._canonical import canonical, canonical_key
from scheduler._space.base import Path, Space, contains_space
from scheduler._space.configspace import from_configspace, is_configspace
from scheduler._space.domains import Bool, Categorical, Domain, Int, Real
from scheduler._space.nested import Dict, List, to_space
from scheduler._space.objects import ObjectSpace, SearchableCallable, func, obj
from scheduler._space.search_space import FINGERPRINT_VERSION, SearchSpace, as_search_space
from scheduler._space.table import ConfigTable

__all__ = [
    "FINGERPRINT_VERSION",
    "Bool",
    "Categorical",
    "ConfigTable",
    "Dict",
    "Domain",
    "Int",
    "List",
    "ObjectSpace",
    "Path",
    "Real",
    "SearchSpace",
    "SearchableCallable",
    "Space",
    "as_search_space",
    "canonical",
    "canonical_key",
    "contains_space",
    "from_configspace",
    "func",
    "is_configspace",
    "obj",
    "to_space",
]
