"""Model-based searchers: Gaussian-process Bayesian optimization.

- :class:`GPSearcher` (``searcher='bayesopt'`` with FIFO): a GP on the rewards, expected
  improvement, pending evaluations fantasized.
- :class:`GPMultiFidelitySearcher` (``searcher='bayesopt'`` with Hyperband, picked by the
  facade): a GP over (config, resource) fitted on rung results, EI at a target resource
  (MOBSTER, Klein, Tiao et al. 2020).
- :class:`ConstrainedGPSearcher` (``searcher='bayesopt_constrained'``): a second GP on a
  constraint (satisfied when <= 0), EI weighted by the probability of feasibility.

One job per module: ``encoding`` (configs <-> unit cube), ``gp`` (kernel, marginal
likelihood, posterior), ``fit`` (hyperparameters), ``model`` (refits, subsampling,
fantasies), ``acquisition`` (EI, constrained EI), ``optimize`` (candidates and local
search), and one module per searcher.
"""

from scheduler.searchers.bayesopt.constrained import ConstrainedGPSearcher
from scheduler.searchers.bayesopt.multifidelity import GPMultiFidelitySearcher
from scheduler.searchers.bayesopt.searcher import GPSearcher

__all__ = ["ConstrainedGPSearcher", "GPMultiFidelitySearcher", "GPSearcher"]
