"""The two rung systems of Hyperband behind one interface, picked by ``type``.

``stopping`` records each report that reaches a rung and stops a task below the rung's
running quantile; ``promotion`` (ASHA) pauses every config at each rung it reaches and
promotes the best paused ones (DESIGN.md section 4). Both wrap a kernel from
:mod:`scheduler.kernels`; the Hyperband policy talks to :class:`RungSystem` only.
"""

from __future__ import annotations

import abc

from scheduler import kernels

__all__ = ["RUNG_SYSTEMS", "PromotionSystem", "RungSystem", "StoppingSystem"]


class RungSystem(abc.ABC):
    """The rungs of one bracket (or of all, when shared)."""

    #: the decision for a config that does not pass a rung ("stop" or "pause")
    fail_decision: str

    def __init__(self, kernel):
        self.kernel = kernel

    @classmethod
    @abc.abstractmethod
    def create(cls, levels: list[int], quantiles: list[float], max_t: int, mode: str) -> RungSystem:
        """A system over ``levels`` with promotion quantiles ``quantiles``."""

    def add(self, config_id: int, skip_rungs: int) -> None:  # noqa: B027 - optional hook
        """A new config enters the system (bracket ``skip_rungs`` when shared)."""

    @property
    def tracks_configs(self) -> bool:
        """Whether :meth:`add` must hear of every new config (it is overridden)."""
        return type(self).add is not RungSystem.add

    def report_fn(self):
        """:meth:`on_report` as one callable to call per report: the kernel's own
        method where the arguments match (no Python frame of this class between)."""
        return self.on_report

    @abc.abstractmethod
    def on_report(self, config_id: int, time: int, reward: float, skip_rungs: int) -> bool:
        """Record a report; True if the config goes on now."""

    def promote(self) -> tuple[int, int] | None:
        """A paused config to promote as ``(config_id, resume_from)``, or None."""
        return None

    def copy(self) -> RungSystem:
        """An independent copy (the kernel's buffers copied at memcpy speed), for a
        snapshot taken under the runtime's lock and serialized after it."""
        return type(self)(self.kernel.copy())

    def num_recorded(self, rung_index: int) -> int:
        """Entries recorded at rung ``rung_index``."""
        return self.kernel.num_recorded(rung_index)

    def state_dict(self) -> dict:
        return self.kernel.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.kernel = type(self.kernel).from_state_dict(state)


class StoppingSystem(RungSystem):
    fail_decision = "stop"

    @classmethod
    def create(cls, levels, quantiles, max_t, mode):
        return cls(kernels.StoppingRungs(levels, quantiles, mode))

    def on_report(self, config_id, time, reward, skip_rungs):
        # keyed by config: a config restarted after a crash is not recorded twice
        return self.kernel.on_report(config_id, time, reward, skip_rungs)

    def report_fn(self):
        # the kernel's bound method (unless a subclass has an on_report of its own);
        # load_state_dict replaces the kernel, and the policy's routes are rebuilt with
        # it (HyperbandPolicy.load_state_dict)
        if type(self).on_report is not StoppingSystem.on_report:
            return self.on_report
        return self.kernel.on_report


class PromotionSystem(RungSystem):
    fail_decision = "pause"

    @classmethod
    def create(cls, levels, quantiles, max_t, mode):
        return cls(kernels.PromotionRungs(levels, quantiles, max_t, mode))

    def add(self, config_id, skip_rungs):
        self.kernel.add(config_id, skip_rungs)

    def on_report(self, config_id, time, reward, skip_rungs):
        return self.kernel.on_report(config_id, time, reward)

    def promote(self):
        return self.kernel.promote()


#: registry: ``type`` -> rung system class
RUNG_SYSTEMS: dict[str, type[RungSystem]] = {
    "stopping": StoppingSystem,
    "promotion": PromotionSystem,
}
