"""The streaming reader: one site stream per segment, views where a read fits one piece."""

from __future__ import annotations

import os
from collections.abc import Iterator

from domicile.crypto import ENC_CHUNK_SIZE
from domicile.engine.streamread import StreamingReader
from domicile.sites import MemorySite
from domicile.sites.memory import READ_PIECE

HEADER = 200  # any header length: the reader only uses it to find the first chunk


class CountingSite(MemorySite):
    """A memory site that records every ``get`` it is asked for."""

    def __init__(self) -> None:
        super().__init__("m")
        self.gets: list[tuple[int, int | None]] = []

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        self.gets.append((start, end))
        return super().get(blob_id, start, end)


def blob_of(size: int) -> tuple[CountingSite, bytes]:
    site, data = CountingSite(), os.urandom(size)
    site.put("b1", [data])
    return site, data


def test_chunk_reads_are_views_except_where_they_straddle_two_pieces() -> None:
    size = HEADER + 40 * ENC_CHUNK_SIZE
    site, data = blob_of(size)
    reader = StreamingReader(site, "b1", header_length=HEADER, start=0, stop=size)
    answers = []
    for offset in range(HEADER, size, ENC_CHUNK_SIZE):
        answer = reader(offset, ENC_CHUNK_SIZE)
        assert bytes(answer) == data[offset : offset + ENC_CHUNK_SIZE]
        answers.append(answer)
    assert site.gets == [(HEADER, size)]  # one stream for the forty reads
    straddling = [a for a in answers if not isinstance(a, memoryview)]
    # The stream's pieces are 1 MiB from HEADER: only a chunk crossing a piece's end is
    # joined (two in forty here), every other read shares the piece's memory.
    assert len(straddling) == (40 * ENC_CHUNK_SIZE) // READ_PIECE == 2
    assert all(isinstance(a, bytes) for a in straddling)


def test_a_jump_reopens_the_stream_and_the_header_is_fetched_on_its_own() -> None:
    size = HEADER + 20 * ENC_CHUNK_SIZE
    site, data = blob_of(size)
    first = HEADER + 10 * ENC_CHUNK_SIZE
    reader = StreamingReader(site, "b1", header_length=HEADER, start=10 * 65536, stop=size)
    assert reader(0, 100) == data[:100]  # the header alone, not the stream
    assert bytes(reader(first, ENC_CHUNK_SIZE)) == data[first : first + ENC_CHUNK_SIZE]
    back = HEADER + 2 * ENC_CHUNK_SIZE
    assert bytes(reader(back, ENC_CHUNK_SIZE)) == data[back : back + ENC_CHUNK_SIZE]
    assert site.gets == [(0, 100), (first, size), (back, size)]
    reader.close()


def test_a_read_past_the_end_is_short() -> None:
    size = HEADER + ENC_CHUNK_SIZE
    site, data = blob_of(size)
    reader = StreamingReader(site, "b1", header_length=HEADER, start=0, stop=size)
    assert bytes(reader(HEADER, 2 * ENC_CHUNK_SIZE)) == data[HEADER:]
