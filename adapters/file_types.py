"""What a stored file is, told by its bytes (magic numbers), never by its name.

Accepted: PDF, JPEG, PNG, HEIC/HEIF and WebP (phone photos), and three ZIP containers — OFD
(the Chinese e-invoice format, GB/T 33190), XLSX and DOCX. A ZIP is accepted only if its entries
make it one of those (`OFD.xml`; `[Content_Types].xml` + `xl/workbook.xml`; `[Content_Types].xml`
+ `word/document.xml`) and if every entry decompresses, CRC intact, within a bounded total
(`MAX_UNZIPPED_BYTES`) and entry count, so a zip bomb is refused before anyone opens it. The
table is short and written here on purpose: each rule is one line an auditor can check.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from domain.errors import UnsupportedMediaType

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
HEIC = "image/heic"
WEBP = "image/webp"
OFD = "application/ofd"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ACCEPTED = (PDF, JPEG, PNG, HEIC, WEBP, OFD, XLSX, DOCX)

# How many bytes of a file's head the detection needs.
HEAD_BYTES = 64
# A ZIP container's entries together may decompress to at most this, in at most this many
# entries (a real invoice or workbook is a few MiB; a bomb is gigabytes).
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_ZIP_ENTRIES = 10_000

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_ZIP_MAGIC = b"PK\x03\x04"


def detect_media_type(path: Path) -> str:
    """The media type of the file at `path` by its content, or `UnsupportedMediaType`."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return HEIC
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(_ZIP_MAGIC):
        return _zip_container_type(path)
    raise UnsupportedMediaType(
        "the file is none of PDF, JPEG, PNG, HEIC, WebP, OFD, XLSX, DOCX (by its content)",
        field="file",
    )


def _zip_container_type(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise _bomb(f"it has more than {MAX_ZIP_ENTRIES} entries")
            # The declared sizes first (cheap), then every entry decompressed for real: zipfile
            # stops an entry at its declared size and checks its CRC, so the two agree.
            declared = sum(entry.file_size for entry in entries)
            if declared > MAX_UNZIPPED_BYTES:
                raise _bomb(f"it would decompress to {declared} bytes")
            names = {entry.filename for entry in entries}
            media_type = _claimed_type(names)
            for entry in entries:
                with archive.open(entry) as member:
                    while member.read(1024 * 1024):
                        pass
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as e:
        raise UnsupportedMediaType(f"the ZIP container is unreadable ({e})", field="file") from e
    return media_type


def _claimed_type(names: set[str]) -> str:
    if "OFD.xml" in names:
        return OFD
    if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
        return XLSX
    if "[Content_Types].xml" in names and "word/document.xml" in names:
        return DOCX
    raise UnsupportedMediaType(
        "a ZIP file is accepted only as an OFD, XLSX or DOCX document, and its entries make "
        "it none of them",
        field="file",
    )


def _bomb(reason: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"the ZIP container is refused: {reason} (at most {MAX_UNZIPPED_BYTES} bytes decompressed)",
        field="file",
    )
