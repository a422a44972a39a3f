"""A cluster build's progress lines: each stage's rate across all workers and the time it has left."""

from __future__ import annotations

import time

EVERY = 10.0  # seconds between the progress lines a cluster build logs (rates and ETA)


class Pace:
    """Progress lines with the rate and time left across all workers, every EVERY seconds and at the end."""

    def __init__(self, progress, stage: str, total: int, unit: str, workers: int):
        self.progress, self.stage, self.total, self.unit, self.workers = progress, stage, total, unit, workers
        self.started = self.last = time.monotonic()

    def update(self, done: int, extra: str = "") -> None:
        now = time.monotonic()
        if now - self.last >= EVERY and done < self.total:
            self.last = now
            self.progress.log(self.line(done, extra, now))

    def finish(self, done: int, extra: str = "") -> None:
        if self.total:
            self.progress.log(self.line(done, extra, time.monotonic()))

    def line(self, done: int, extra: str, now: float) -> str:
        took = max(now - self.started, 1e-9)
        rate = done / took
        also = ""
        if extra:
            n, word = extra.split(" ", 1)
            also = f", {extra} ({int(n) / took:.1f} {word}/s)"
        left = f", about {clock((self.total - done) / rate)} left" if 0 < done < self.total else ""
        where = f"{self.workers} worker{'s' if self.workers != 1 else ''}"
        return (f"{self.stage} on {where}: {done}/{self.total} {self.unit} in {took:.1f}s "
                f"({rate:.1f} {self.unit}/s){also}{left}")


def clock(seconds: float) -> str:
    """Seconds as m:ss."""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}:{secs:02d}"
