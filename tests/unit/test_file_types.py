"""Evidence files are typed by their bytes, never by their names (DESIGN §18)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from adapters import file_types as t
from domain.errors import UnsupportedMediaType


def write(tmp_path: Path, data: bytes, name: str = "upload.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"%PDF-1.7\n", t.PDF),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", t.JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00", t.PNG),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", t.HEIC),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00", t.HEIC),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", t.WEBP),
        (zipped({"OFD.xml": b"<ofd/>"}), t.OFD),
        (zipped({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<w/>"}), t.XLSX),
        (zipped({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<d/>"}), t.DOCX),
    ],
)
def test_accepted_types(tmp_path: Path, data: bytes, media_type: str) -> None:
    assert t.detect_media_type(write(tmp_path, data, "whatever.exe")) == media_type


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00",  # a Windows executable
        b"\x7fELF\x02\x01",
        b"GIF89a",
        b"",
        b"PK\x03\x04broken",
        zipped({"word/document.xml": b"<d/>"}),  # no [Content_Types].xml
        zipped({"xl/workbook.xml": b"<w/>", "payload.exe": b"MZ"}),
    ],
)
def test_refused_types(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        t.detect_media_type(write(tmp_path, data))
    assert refused.value.code == "unsupported_media_type" and refused.value.field == "file"


def test_zip_bomb_is_refused_by_declared_and_by_real_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(t, "MAX_UNZIPPED_BYTES", 1024 * 1024)
    bomb = zipped({"OFD.xml": b"<ofd/>", "Doc_0/zeros": bytes(2 * 1024 * 1024)})
    with pytest.raises(UnsupportedMediaType, match="decompress"):
        t.detect_media_type(write(tmp_path, bomb))
    monkeypatch.setattr(t, "MAX_ZIP_ENTRIES", 3)
    many = zipped({"OFD.xml": b"<ofd/>", **{f"Doc_{i}": b"x" for i in range(4)}})
    with pytest.raises(UnsupportedMediaType, match="entries"):
        t.detect_media_type(write(tmp_path, many))
