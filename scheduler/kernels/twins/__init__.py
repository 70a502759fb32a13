"""Pure-Python twins of the compiled rung kernels in ``scheduler._rungs``.

:mod:`scheduler.kernels` selects these when ``SCHEDULER_NO_EXTENSIONS=1``. One module
per kernel, named like its compiled counterpart (``levels``, ``stopping``,
``promotion``, ``brackets``, ``rows``, ``rewards``): every public name has the same
signature, docstring and error texts, returns the same values for the same calls, and
produces and accepts the same ``state_dict()`` (the stateful ones). The twins are written
to be read: sorted lists, :func:`bisect.insort` and plain loops, with the data
structures of the compiled kernels (heaps, open-addressing hash tables) described in
their docstrings only. The
contract both backends implement is ``DESIGN.md`` section 4.
"""

from scheduler.kernels.twins._checks import STATE_VERSION
from scheduler.kernels.twins.brackets import BracketSampler
from scheduler.kernels.twins.levels import rung_levels
from scheduler.kernels.twins.promotion import PromotionRungs
from scheduler.kernels.twins.rewards import Rewards
from scheduler.kernels.twins.rows import FlatRows
from scheduler.kernels.twins.stopping import StoppingRungs

__all__ = [
    "STATE_VERSION",
    "BracketSampler",
    "FlatRows",
    "PromotionRungs",
    "Rewards",
    "StoppingRungs",
    "rung_levels",
]
