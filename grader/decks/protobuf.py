"""Just enough protobuf to read a varint field of a small message, without generated code.

Anki keeps a package's version (``meta``) and a note type's kind (``notetypes.config``) in
protobuf messages; both are varint fields, so this is all flashgrade needs of the format.
"""

from __future__ import annotations

from collections.abc import Iterator

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


def varint_fields(data: bytes) -> Iterator[tuple[int, int]]:
    """``(field number, value)`` of each top-level varint field; other fields are skipped.

    A malformed or truncated message ends the iteration rather than raising."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _varint(data, pos)
            if pos > len(data):
                return
            yield field, value
        elif wire == _LENGTH:
            length, pos = _varint(data, pos)
            pos += length
        elif wire in (_FIXED64, _FIXED32):
            pos += 8 if wire == _FIXED64 else 4
        else:
            return


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return value, len(data) + 1  # truncated or overlong: past the end, so the caller stops


def encode_varint_field(field: int, value: int) -> bytes:
    """One varint field, encoded: ``encode_varint_field(1, 3) == b"\\x08\\x03"``."""
    out = bytearray()
    for number in ((field << 3) | _VARINT, value):
        while number > 0x7F:
            out.append((number & 0x7F) | 0x80)
            number >>= 7
        out.append(number)
    return bytes(out)
