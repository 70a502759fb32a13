"""Implementation of :mod:`scheduler.space` (the public module): one job per file.

- ``_canonical``: canonical JSON forms of values, the JSON data configs may hold;
- ``_checks``: argument checks of the domains;
- ``base``: :class:`Space`, what every space answers about its configs;
- ``domains``: the leaf domains ``Real``, ``Int``, ``Categorical``, ``Bool``;
- ``nested``: ``Dict``, ``List`` and the reading of plain dicts/lists holding spaces;
- ``objects``: searchable objects (``@obj``, ``@func``);
- ``search_space``: :class:`SearchSpace`, the space of a training function;
- ``configspace``: reading a ``ConfigSpace.ConfigurationSpace``.

Imports nothing of ``scheduler`` but :mod:`scheduler._args`.
"""
