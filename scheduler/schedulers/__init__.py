"""The policy layer (schedulers): pure decisions.

A policy answers what to start next, what to do with a report and what is best; it owns
no threads and does no I/O, and is driven by the runtime (DESIGN.md section 3).
``fifo``, ``hyperband`` (over the rung systems of ``rung_systems``) and ``rl``.

May import the searchers, the kernels and the shared modules at the package root;
never the runtime, durability, results or a facade.
"""
