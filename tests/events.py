"""Reads TensorBoard event files with the record format alone (length, CRCs, an Event proto), so the tests check
what TensorBoard would see without relying on the writer's own code paths."""

import struct
from collections.abc import Iterator
from pathlib import Path

from tensorboardX.proto import event_pb2, summary_pb2


def _events(logdir: Path) -> Iterator[event_pb2.Event]:
  for path in sorted(Path(logdir).glob("events.out.tfevents.*")):
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
      (length,) = struct.unpack("<Q", data[offset : offset + 8])
      record = data[offset + 12 : offset + 12 + length]
      offset += 12 + length + 4
      yield event_pb2.Event.FromString(record)


def read_scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
  """{tag: [(step, value), ...]} of every scalar in the event files under `logdir`."""
  out: dict[str, list[tuple[int, float]]] = {}
  for event in _events(logdir):
    for value in event.summary.value:
      if value.HasField("simple_value"):
        out.setdefault(value.tag, []).append((event.step, value.simple_value))
  return out


def read_values(logdir: Path) -> dict[str, list[tuple[int, summary_pb2.Summary.Value]]]:
  """{tag: [(step, Summary.Value), ...]} of every summary (scalars, images, plugin data) in the event files."""
  out: dict[str, list[tuple[int, summary_pb2.Summary.Value]]] = {}
  for event in _events(logdir):
    for value in event.summary.value:
      out.setdefault(value.tag, []).append((event.step, value))
  return out
