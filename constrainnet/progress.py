r"""Progress of a training run on stderr: a tqdm bar on a terminal, plain lines every few seconds elsewhere.

A run whose stderr is redirected to a file or a pipe (a batch job, CI, ``2>
log``) gets one line every ``PLAIN_SECONDS`` seconds and one for the last
epoch, ``fit: epoch 12/900, loss 0.0123, val_mse 0.0201, 34.2 s``, instead of
a bar redrawn with carriage returns, or silence.

Example:
    >>> import io
    >>> stream = io.StringIO()
    >>> bar = EpochProgress(total=3, stream=stream, interval=0.0)
    >>> for epoch in range(3):
    ...     bar.update(epoch, {"loss": "0.5"})
    >>> bar.close()
    >>> stream.getvalue().splitlines()[-1].split(",")[:2]
    ['fit: epoch 3/3', ' loss 0.5']
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["EpochProgress", "PLAIN_SECONDS"]

#: Seconds between two plain progress lines when stderr is not a terminal.
PLAIN_SECONDS = 5.0


class EpochProgress:
    """Progress over the epochs of a run.

    Args:
        total: epochs in the run.
        start: epochs already done (a resumed run).
        enabled: False shows nothing.
        desc: the name at the start of each line.
        stream: where to write (default: ``sys.stderr``).
        interval: seconds between plain lines (default :data:`PLAIN_SECONDS`).
        bar: a tqdm bar (True), plain lines (False), or by whether ``stream`` is a
            terminal (None).
    """

    def __init__(
        self, total: int, start: int = 0, enabled: bool = True, desc: str = "fit", stream: TextIO | None = None,
        interval: float = PLAIN_SECONDS, bar: bool | None = None,
    ) -> None:  # fmt: skip
        self.total, self.desc, self.enabled = total, desc, enabled
        self.stream = sys.stderr if stream is None else stream
        self.interval = interval
        self._start = time.perf_counter()
        self._last = float("-inf")
        self._bar = None
        if enabled and (bar if bar is not None else _is_terminal(self.stream)):
            from tqdm import tqdm  # optional dependency: imported where used

            self._bar = tqdm(total=total, initial=start, desc=desc, unit="epoch", file=self.stream)

    def update(self, epoch: int, postfix: dict[str, Any]) -> None:
        """Report that ``epoch`` (0-based) has ended, with its figures."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(1)
            return
        now = time.perf_counter()
        if now - self._last >= self.interval or epoch + 1 == self.total:
            self._last = now
            figures = "".join(f", {k} {v}" for k, v in postfix.items())
            print(f"{self.desc}: epoch {epoch + 1}/{self.total}{figures}, {now - self._start:.1f} s", file=self.stream, flush=True)

    def close(self) -> None:
        """Close the bar (if any)."""
        if self._bar is not None:
            self._bar.close()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
