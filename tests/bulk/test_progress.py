"""The import's progress display: a bar on a terminal, plain lines elsewhere."""

import io

from backend.bulk import ImportReport, LineMessage
from backend.bulk.progress import ImportProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_redrawn_bar_with_rate_and_eta(monkeypatch):
    stream = Terminal()
    display = ImportProgress(stream, total_bytes=1000)
    monkeypatch.setattr(display, "started", display.started - 10)
    monkeypatch.setattr(display, "shown_at", display.shown_at - 10)

    display.update(ImportReport(lines=500, results=400), bytes_read=250)
    display.message(LineMessage(7, "no site named 'X'"))
    display.finish(ImportReport(lines=500, results=400, elapsed=10))

    output = stream.getvalue()
    bar = output.split("\r\x1b[K")[1]
    assert bar.startswith("[#######-----------------------]  25%")
    assert "400 results" in bar
    assert "/s" in bar
    assert "ETA 0:00:3" in bar  # a quarter done in 10 s: about 30 s to go
    assert "\r\x1b[Kline 7: error: no site named 'X'\n" in output
    assert output.endswith("(40 results/s)\ncreated: none; matched existing: none\n")


def test_elsewhere_plain_lines_at_most_every_ten_seconds(monkeypatch):
    stream = io.StringIO()
    display = ImportProgress(stream, total_bytes=None)

    display.update(ImportReport(lines=10, results=10), bytes_read=100)
    monkeypatch.setattr(display, "shown_at", display.shown_at - ImportProgress.PLAIN_EVERY)
    display.update(ImportReport(lines=20, results=20), bytes_read=200)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("20 lines  20 results")
    assert "\r" not in stream.getvalue()
