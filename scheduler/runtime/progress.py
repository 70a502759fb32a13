"""The progress bar: configs finished, best reward, promotions and failures so far.

Updated from the runtime's loop thread (never under its lock) from counters the lock
holder keeps, so drawing a bar never delays a decision.
"""

from __future__ import annotations

__all__ = ["ProgressBar"]


class ProgressBar:
    """A tqdm bar over configs (``num_trials`` counts configs)."""

    def __init__(self, total: int | None, initial: int):
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=total,
            initial=min(initial, total) if total is not None else initial,
            unit="trial",
            desc="trials",
            leave=True,
        )
        self._shown: tuple[int, float | None, int, int] = (initial, None, 0, 0)

    def update(self, configs_done: int, best: float | None, promotions: int, failed: int) -> None:
        """Show the counters (a no-op when nothing changed)."""
        state = (configs_done, best, promotions, failed)
        if state == self._shown:
            return
        done_before = self._shown[0]
        self._shown = state
        postfix: dict[str, str | int] = {}
        if best is not None:
            postfix["best"] = f"{best:.4g}"
        if promotions:
            postfix["promoted"] = promotions
        if failed:
            postfix["failed"] = failed
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(configs_done - done_before)

    def write(self, line: str) -> None:
        """Print a line above the bar (failure warnings, so the bar stays intact)."""
        self._bar.write(line)

    def close(self) -> None:
        self._bar.close()
