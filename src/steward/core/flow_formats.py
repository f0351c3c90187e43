"""File formats that an app above sharing writes for sharing's scheduled deliveries.

Sharing delivers an export flow as one file per record type (CSV or JSON) from its own change feed.
Some recipients want the flow in a standard of their own instead: a learning platform takes a
school's roster as the OneRoster 1.2 CSV zip, built by the `rostering` app. Rostering sits in the
same layer as sharing and already imports it, so sharing may not import rostering back (no loop
between apps). Instead rostering *registers* its writer here, in its `AppConfig.ready`, under a
format code; sharing's delivery looks the code of a flow's delivery target up and calls the writer.
Neither names the other, and a new standard is one registration in the app that knows it.

A writer is given the flow, the folder and the point to write changes from (None: everything, a
first delivery) and answers how many records it wrote, the file it moved into place, and the
newest modification time it delivered (the next delivery's starting point). It writes through a
temporary file, records its own disclosures, and raises `OSError` or `FlowFileRefused` when it
cannot: sharing runs it inside a savepoint and records the attempt as failed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class FlowFileRefused(Exception):
    """The writer cannot deliver this flow in its format (why, in words)."""


@dataclass(frozen=True)
class FlowFile:
    """What a scheduled delivery asks a format's writer for."""

    school_id: int
    flow_id: int
    folder: Path
    since: dt.datetime | None  # None: a whole snapshot (first delivery)


@dataclass(frozen=True)
class FlowFileWritten:
    """What the writer delivered: `path` is None when there was nothing to send."""

    records: int
    path: Path | None
    watermark: dt.datetime | None  # the newest modification delivered; `since` of the next run


@dataclass(frozen=True)
class FlowFormat:
    code: str
    label: str
    service: str  # flows of this register service's activity only (e.g. "rostering")
    write: Callable[[FlowFile], FlowFileWritten]


_formats: dict[str, FlowFormat] = {}


def register_flow_format(flow_format: FlowFormat) -> None:
    """Offer a format to sharing's deliveries. Registering the same code twice with another writer
    is a mistake at start-up, not a silent replacement."""
    known = _formats.get(flow_format.code)
    if known is not None and known != flow_format:
        raise ValueError(f"flow format {flow_format.code!r} is already registered by {known.write.__module__}")
    _formats[flow_format.code] = flow_format


def flow_format(code: str) -> FlowFormat | None:
    """The registered format with this code, or None (sharing's own CSV and JSON are not here)."""
    return _formats.get(code)
