"""The durability layer: the journal of events, snapshots, save/load, resume.

Every event the policy acted on is appended to the journal before the task hears the
decision; snapshots compact it; resume rebuilds the exact state (DESIGN.md section 6).
Loading never unpickles: checkpoints are JSON.

May import the runtime, the policy, the kernels and the shared modules at the package
root; never a facade, and not the results layer (a sibling).
"""
