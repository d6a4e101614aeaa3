"""RGB PNG files for the end-to-end tests, written without any imaging library."""
import os
import struct
import zlib


def write_png_rows(path, width, height, rows):
    """An 8-bit RGB PNG from `height` rows of width * 3 bytes each; folders are made."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    raw = b"".join(b"\0" + bytes(row) for row in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write_png(path, width, height, rgb):
    """A solid-colour RGB PNG."""
    write_png_rows(path, width, height, [bytes(rgb) * width] * height)
