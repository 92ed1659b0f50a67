"""Small value types shared by every layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: Reads ``length`` bytes at ``offset`` of some ciphertext (a local file, a remote blob).
#: It may return fewer bytes only at the end of the data, and may return a view (of a
#: larger buffer it read) rather than a copy.
RangeReader = Callable[[int, int], bytes | memoryview]


@dataclass(frozen=True, slots=True)
class ByteRange:
    """A half-open range ``[start, end)`` of bytes."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid byte range [{self.start}, {self.end})")

    @property
    def length(self) -> int:
        return self.end - self.start
