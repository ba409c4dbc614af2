"""Files kept in the database in chunks, read back as seekable binary streams."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from typing import BinaryIO

from django.db import transaction

from kliento.dataio.transfer.models import CHUNK_SIZE, FileChunk, StoredFile


@transaction.atomic
def file_store(
    *, name: str, stream: BinaryIO | Iterable[bytes], content_type: str = ""
) -> StoredFile:
    """Copy a stream (or an iterable of byte strings) into the database, 1 MiB per row."""
    stored = StoredFile.objects.create(name=name[:255], content_type=content_type[:100])
    digest = hashlib.sha256()
    size = seq = 0
    buffer = bytearray()

    def pieces():
        if hasattr(stream, "read"):
            while True:
                piece = stream.read(CHUNK_SIZE)
                if not piece:
                    return
                yield piece
        else:
            yield from stream

    for piece in pieces():
        buffer += piece
        while len(buffer) >= CHUNK_SIZE:
            FileChunk.objects.create(file=stored, seq=seq, data=bytes(buffer[:CHUNK_SIZE]))
            digest.update(buffer[:CHUNK_SIZE])
            size += CHUNK_SIZE
            seq += 1
            del buffer[:CHUNK_SIZE]
    if buffer:
        FileChunk.objects.create(file=stored, seq=seq, data=bytes(buffer))
        digest.update(buffer)
        size += len(buffer)
    stored.size = size
    stored.sha256 = digest.hexdigest()
    stored.save(update_fields=["size", "sha256"])
    return stored


class ChunkReader(io.RawIOBase):
    """A seekable read-only stream over a StoredFile's chunks, one chunk in memory at a time."""

    def __init__(self, stored: StoredFile):
        self.stored = stored
        self.size = stored.size
        self.pos = 0
        self._seq = -1
        self._data = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self.pos = offset
        elif whence == io.SEEK_CUR:
            self.pos += offset
        else:
            self.pos = self.size + offset
        self.pos = max(0, self.pos)
        return self.pos

    def _load(self, seq: int) -> None:
        if seq != self._seq:
            data = (
                FileChunk.objects.filter(file_id=self.stored.pk, seq=seq)
                .values_list("data", flat=True)
                .first()
            )
            self._data = bytes(data or b"")
            self._seq = seq

    def readinto(self, buffer) -> int:
        if self.pos >= self.size:
            return 0
        seq, offset = divmod(self.pos, CHUNK_SIZE)
        self._load(seq)
        piece = self._data[offset : offset + len(buffer)]
        buffer[: len(piece)] = piece
        self.pos += len(piece)
        return len(piece)


def file_open(stored: StoredFile) -> BinaryIO:
    return io.BufferedReader(ChunkReader(stored), buffer_size=256 * 1024)


def file_iter(stored: StoredFile) -> Iterable[bytes]:
    """The file's bytes chunk by chunk (for a streamed download)."""
    last = stored.chunks.order_by("-seq").values_list("seq", flat=True).first()
    for seq in range(0 if last is None else last + 1):
        data = FileChunk.objects.filter(file_id=stored.pk, seq=seq).values_list("data", flat=True)
        yield bytes(data.first() or b"")


class ChunkWriter(io.RawIOBase):
    """A write-only stream into a new StoredFile (exports); call `close()` to finish."""

    def __init__(self, name: str, content_type: str = ""):
        self.stored = StoredFile.objects.create(name=name[:255], content_type=content_type)
        self.digest = hashlib.sha256()
        self.buffer = bytearray()
        self.seq = 0
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += data
        while len(self.buffer) >= CHUNK_SIZE:
            self._flush(bytes(self.buffer[:CHUNK_SIZE]))
            del self.buffer[:CHUNK_SIZE]
        return len(data)

    def _flush(self, data: bytes) -> None:
        FileChunk.objects.create(file=self.stored, seq=self.seq, data=data)
        self.digest.update(data)
        self.size += len(data)
        self.seq += 1

    def close(self) -> None:
        if self.closed:
            return
        if self.buffer:
            self._flush(bytes(self.buffer))
            self.buffer.clear()
        self.stored.size = self.size
        self.stored.sha256 = self.digest.hexdigest()
        self.stored.save(update_fields=["size", "sha256"])
        super().close()
