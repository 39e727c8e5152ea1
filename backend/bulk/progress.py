"""Progress of an import on a terminal (a bar with rate and ETA) or in a log (a plain
line every few seconds), and the byte counting its ETA comes from. Every source's command
reports through ``ImportProgress``."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from typing import IO, TextIO

from backend.bulk.report import ImportReport, LineMessage


class CountedLines:
    """The lines of a binary file, counting the bytes read (for progress and ETA)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self.file:
            self.bytes_read += len(line)
            yield line


def file_size(file: IO[bytes]) -> int | None:
    """The size of a regular file, None for a pipe or terminal (no ETA then)."""
    try:
        status = os.fstat(file.fileno())
    except (OSError, ValueError, AttributeError):  # no file descriptor (tests' streams)
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


class ImportProgress:
    """Progress of an import on ``stream``: on a terminal a redrawn bar with rate and ETA,
    elsewhere (logs, CI) a plain line every ``PLAIN_EVERY`` seconds. The share done is
    ``bytes_read`` of ``total_bytes``: bytes of a file, or results of a database source."""

    PLAIN_EVERY = 10.0
    REDRAW_EVERY = 0.2
    WIDTH = 30

    def __init__(self, stream: TextIO, total_bytes: int | None) -> None:
        self.stream = stream
        self.total_bytes = total_bytes or None
        self.is_tty = stream.isatty()
        self.started = time.monotonic()
        self.shown_at = self.started
        self.drawn = False

    def update(self, report: ImportReport, bytes_read: int) -> None:
        now = time.monotonic()
        every = self.REDRAW_EVERY if self.is_tty else self.PLAIN_EVERY
        if now - self.shown_at < every:
            return
        self.shown_at = now
        status = self._status(report, bytes_read, now - self.started)
        if self.is_tty:
            self.stream.write("\r\x1b[K" + status)
            self.drawn = True
        else:
            self.stream.write(status + "\n")
        self.stream.flush()

    def _status(self, report: ImportReport, bytes_read: int, elapsed: float) -> str:
        rate = report.results / elapsed if elapsed else 0.0
        counts = f"{report.lines:,} {report.unit}  {report.results:,} results  {rate:,.0f}/s"
        if report.failed:
            counts += f"  {report.failed:,} failed"
        if not self.total_bytes:
            return counts
        done = min(bytes_read / self.total_bytes, 1.0)
        eta = elapsed * (1 - done) / done if done else 0.0
        if self.is_tty:
            filled = int(done * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            return f"[{bar}] {done:4.0%}  {counts}  ETA {_duration(eta)}"
        return f"{done:.0%}  {counts}  ETA {_duration(eta)}"

    def message(self, message: LineMessage) -> None:
        self._clear()
        self.stream.write(f"{message}\n")
        self.stream.flush()

    def finish(self, report: ImportReport) -> None:
        self._clear()
        self.stream.write(report.summary() + "\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.drawn = False


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"
