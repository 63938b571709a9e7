"""A DICOM cut or damaged anywhere is image.corrupt, saying where; whole files pass."""

from __future__ import annotations

import io

import pydicom
import pytest
from factories import dicom, inspect_bytes
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000Lossless, RLELossless

from luna.validation import DeclaredFile, FileReport
from luna.validation.dicom_structure import walk_dicom
from luna.validation.raster import DecodeError


def _inspect(data: bytes) -> FileReport:
    declared = DeclaredFile(
        file_id=1, filename="a.dcm", content_type="application/dicom", size_bytes=len(data)
    )
    return inspect_bytes(declared, data)


def _errors(data: bytes) -> list[str]:
    report = _inspect(data)
    # Whether the file is whole and decodes; the pydicom files also break other rules.
    return [f.rule for f in report.findings if f.rule in ("image.corrupt", "dicom.no_pixels")]


def _with_trailing_padding(data: bytes) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.add_new(0xFFFCFFFC, "OB", bytes(256))  # DataSetTrailingPadding, after the pixels
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


GOOD = {
    "native": dicom(seed=1),
    "rle": dicom(seed=2, transfer_syntax=RLELossless),
    "j2k": dicom(seed=3, transfer_syntax=JPEG2000Lossless),
    "padded": _with_trailing_padding(dicom(seed=4)),
}


@pytest.mark.parametrize("name", list(GOOD))
def test_a_whole_file_passes(name: str) -> None:
    assert _errors(GOOD[name]) == []


@pytest.mark.parametrize("name", list(GOOD))
def test_a_cut_anywhere_is_corrupt_never_no_pixels(name: str) -> None:
    data = GOOD[name]
    cuts = sorted(
        {*range(140, len(data), max(1, len(data) // 60)), *range(len(data) - 12, len(data))}
    )
    for cut in cuts:
        assert _errors(data[:cut]) == ["image.corrupt"], cut


def test_a_cut_inside_trailing_padding_names_the_padding() -> None:
    data = GOOD["padded"]
    with pytest.raises(DecodeError, match=r"DataSetTrailingPadding \(FFFC,FFFC\)"):
        walk_dicom(io.BytesIO(data[:-100]))


def test_a_cut_inside_a_fragment_names_the_pixel_data() -> None:
    data = GOOD["j2k"]
    with pytest.raises(DecodeError, match=r"PixelData \(7FE0,0010\)"):
        walk_dicom(io.BytesIO(data[: len(data) - 500]))


def test_deflated_offsets_count_inflated_bytes() -> None:
    with open(get_testdata_file("image_dfl.dcm"), "rb") as fp:
        data = fp.read()
    assert _errors(data) == []  # its header says 258045 bytes more than the file has
    assert _errors(data[: len(data) - 100]) == ["image.corrupt"]


def test_bytes_after_the_deflate_stream_are_ignored_as_dcmtk_ignores_them() -> None:
    with open(get_testdata_file("image_dfl.dcm"), "rb") as fp:
        data = fp.read()
    walk_dicom(io.BytesIO(data + b"junk"))


def test_an_image_object_without_pixel_data_says_it_may_be_cut_short() -> None:
    (finding,) = _inspect(dicom(seed=5, pixels=False)).findings
    assert finding.rule == "dicom.no_pixels"
    assert "Digital X-Ray Image Storage" in finding.message
    assert "cut short right before the pixels" in finding.message
