"""The results layer: training history, the best config, results files, plots.

``History`` records what the runtime reports (starts, reports with their decisions,
ends) and keeps the best config by its reward at its highest fidelity; ``export``
writes ``results.csv``/``results.jsonl``; ``plot`` draws the training curves.

May import the runtime, the policy, the kernels and the shared modules at the package
root; never a facade, and not the durability layer (a sibling).
"""
