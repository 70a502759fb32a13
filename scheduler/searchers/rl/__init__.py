"""The RL controller searcher: an LSTM policy over the search space, trained with
REINFORCE (Zoph & Le, 2017), in numpy.

``network`` is the LSTM (forward, sampling, backpropagation through time), ``optimizer``
is Adam, ``controller`` is :class:`RLController`, the searcher that maps configs to
choices and learns from rewards. Policy only, like every searcher: no I/O, no threads.
"""

from scheduler.searchers.rl.controller import RLController

__all__ = ["RLController"]
