"""The runtime layer: runs tasks on a backend and carries reports and decisions.

``runner`` drives one policy over one backend (the loop, launches, deadlines, limits);
``tasks`` is the task table and its transitions; ``reporter`` is the task-side pipe;
``resources`` hands out CPUs and GPU ids; ``backends/`` run the tasks (threads, reused
worker processes). The history, the results files and the journal are handed in by the
facade and reached only through the small interfaces they implement.

May import the policy (``schedulers``, ``searchers``), the kernels and the shared
modules at the package root; never durability, results or a facade.
"""
