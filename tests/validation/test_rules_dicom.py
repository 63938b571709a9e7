"""DICOM reading and the dicom.* rules."""

from __future__ import annotations

import io

import pydicom
import pytest
from factories import dicom
from factories.dicom import dicognito_deidentified, dicom_with, identified
from pydicom.data import get_testdata_file, get_testdata_files
from pydicom.uid import MPEG2MPML, ExplicitVRLittleEndian

from luna.validation.dicom_file import read_dicom_header
from luna.validation.dicom_pixels import decode_dicom_pixels
from luna.validation.dicom_syntax import (
    COMPRESSED,
    UnsupportedSyntax,
    decoder_for,
    missing_decoders,
)
from luna.validation.manifest_csv import ManifestRow
from luna.validation.raster import DecodeError
from luna.validation.rules.dicom import check_header, check_patient_id, check_patient_name


def header_of(data: bytes):  # type: ignore[no-untyped-def]
    return read_dicom_header(io.BytesIO(data))


def rules(data: bytes) -> list[str]:
    return [f.rule for f in check_header("a.dcm", header_of(data))]


def test_a_clean_radiograph_passes_and_decodes() -> None:
    header = header_of(dicom(300, 280, modality="CR", photometric="MONOCHROME1"))
    assert (header.columns, header.rows, header.frames, header.modality) == (300, 280, 1, "CR")
    assert check_header("a.dcm", header) == []
    decode_dicom_pixels(header)
    assert "PixelData" not in header.dataset  # released after decoding


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (dicom(modality="CT"), ["dicom.not_xray"]),
        (dicom(modality=""), ["dicom.not_xray"]),
        (dicom(modality="RG"), []),
        (dicom(phi={"PatientName": "Doe^John"}), []),  # judged against the row: below
        (dicom(phi={"PatientBirthDate": "19700101"}), ["dicom.phi"]),
        (dicom(phi={"PatientName": ""}), []),
        (dicom(phi={"OperatorsName": "Smith^A", "InstitutionAddress": "Main St 1"}), ["dicom.phi"]),
        (dicom(burned_in="YES"), ["dicom.burned_in"]),
        (dicom(burned_in=None), []),
        (dicom(pixels=False), ["dicom.no_pixels"]),
        (dicom(photometric="RGB"), ["image.not_grayscale"]),
    ],
)
def test_header_rules(data: bytes, expected: list[str]) -> None:
    assert rules(data) == expected


def test_phi_message_names_every_attribute() -> None:
    (finding,) = check_header(
        "a.dcm",
        header_of(dicom(phi={"OperatorsName": "Roe^Ann", "PatientBirthDate": "19700101"})),
    )
    assert (
        "OperatorsName ('Roe^Ann')" in finding.message
        and "PatientBirthDate ('19700101')" in finding.message
    )


def test_a_nested_patient_name_is_named_by_its_path() -> None:
    def nest(ds: pydicom.Dataset) -> None:
        referenced = pydicom.Dataset()
        referenced.PatientName = "Doe^John"
        other = pydicom.Dataset()
        other.PatientID = "MRN-4711"
        ds.ReferencedPatientSequence = [referenced]
        ds.OtherPatientIDsSequence = [other]

    (finding,) = check_header("a.dcm", header_of(dicom_with(dicom(), nest)))
    assert finding.rule == "dicom.phi"
    assert "ReferencedPatientSequence[0].PatientName ('Doe^John')" in finding.message
    assert "OtherPatientIDsSequence[0].PatientID ('MRN-4711')" in finding.message


@pytest.mark.parametrize("value", ["ANONYMOUS", "anonymized", "^^^^", "REMOVED", "", "  ", "XXX"])
def test_placeholders_de_identification_tools_write_are_not_names(value: str) -> None:
    header = header_of(dicom(phi={"PatientName": value, "OperatorsName": value}))
    assert header.patient_name == ""
    assert check_header("a.dcm", header) == []


def test_dummy_dates_are_not_birth_dates() -> None:
    assert rules(dicom(phi={"PatientBirthDate": "00010101"})) == []


def test_quasi_identifiers_warn_with_their_paths() -> None:
    def add(ds: pydicom.Dataset) -> None:
        ds.StudyDate, ds.PatientAge, ds.DeviceSerialNumber = "20240131", "054Y", "SN-1"
        ds.PatientComments = "lives next to the hospital"
        ds.add_new(0x00291010, "LO", "private note")

    (finding,) = check_header("a.dcm", header_of(dicom_with(dicom(), add)))
    assert (finding.rule, finding.severity) == ("dicom.quasi_identifier", "warning")
    for said in ("StudyDate", "PatientAge", "DeviceSerialNumber", "PatientComments", "(0029,1010)"):
        assert said in finding.message


def test_a_declared_de_identification_keeps_the_tools_replacements() -> None:
    def declared(ds: pydicom.Dataset) -> None:
        identified(ds)
        del ds[0x00091001]
        del ds[0x00090010]
        ds.PatientID = ""
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = "a PS3.15 tool"

    header = header_of(dicom_with(dicom(), declared))
    assert check_header("a.dcm", header) == []
    assert header.patient_name == ""


def test_identity_removed_without_a_method_is_not_a_declaration() -> None:
    def half(ds: pydicom.Dataset) -> None:
        identified(ds)
        ds.PatientIdentityRemoved = "YES"

    assert "dicom.phi" in rules(dicom_with(dicom(), half))


def test_dicognito_output_passes_the_header_rules() -> None:
    data = dicognito_deidentified(dicom_with(dicom(), identified), pseudonym="LUNA-1")
    header = header_of(data)
    assert [f.rule for f in check_header("a.dcm", header)] == ["dicom.quasi_identifier"]
    assert "(0009,1001) (private)" in check_header("a.dcm", header)[0].message
    assert header.patient_id == "LUNA-1" and header.patient_name == ""


def test_patient_name_may_hold_the_rows_pseudonym() -> None:
    row = ManifestRow(row=4, filename="a.dcm", patient_id="LUNA-1", label="Mass", split="", view="")
    assert check_patient_name("a.dcm", name="LUNA-1", row=row) == []
    assert check_patient_name("a.dcm", name="LUNA-1^^^^", row=row) == []
    (finding,) = check_patient_name("a.dcm", name="Doe^Jane", row=row)
    assert (finding.rule, finding.row) == ("dicom.phi", 4)
    assert "'Doe^Jane'" in finding.message and "'LUNA-1'" in finding.message
    (unlisted,) = check_patient_name("a.dcm", name="Doe^Jane", row=None)
    assert unlisted.rule == "dicom.phi"


def test_patient_id_is_judged_against_the_row() -> None:
    row = ManifestRow(row=7, filename="a.dcm", patient_id="LUNA-1", label="Mass", split="", view="")
    assert check_patient_id("a.dcm", dicom_patient_id="LUNA-1", row=row) == []
    (finding,) = check_patient_id("a.dcm", dicom_patient_id="MRN-42", row=row)
    assert (finding.rule, finding.row) == ("dicom.phi", 7)
    assert "'MRN-42'" in finding.message and "'LUNA-1'" in finding.message


def test_pixel_data_shorter_than_the_header_says() -> None:
    ds = pydicom.dcmread(io.BytesIO(dicom(300, 280)))
    ds.PixelData = ds.PixelData[:1000]
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    with pytest.raises(DecodeError, match="need 168000"):
        decode_dicom_pixels(header_of(buffer.getvalue()))


def test_a_transfer_syntax_without_decoder_is_named() -> None:
    header = header_of(dicom())
    header.transfer_syntax = MPEG2MPML
    with pytest.raises(UnsupportedSyntax, match=r"MPEG2 Main Profile / Main Level \(1\.2\.840"):
        decode_dicom_pixels(header)


def test_a_private_transfer_syntax_is_named() -> None:
    header = header_of(dicom())
    header.transfer_syntax = "1.3.6.1.4.1.9999.1"
    with pytest.raises(UnsupportedSyntax, match=r"private transfer syntax '1\.3\.6\.1"):
        decode_dicom_pixels(header)


def test_every_compressed_syntax_has_its_one_decoder_installed() -> None:
    assert missing_decoders() == []
    assert {decoder_for(syntax) for syntax in COMPRESSED} == {"pylibjpeg"}
    assert decoder_for(ExplicitVRLittleEndian) == ""


def _saved(ds: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _with_pixels(length_bytes: int, **attributes: object) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(dicom(300, 280)))
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.PixelData = bytes(length_bytes)
    return _saved(ds)


def test_an_odd_pixel_count_is_padded_to_an_even_length() -> None:
    data = _with_pixels(
        257 * 257 + 1, Rows=257, Columns=257, BitsAllocated=8, BitsStored=8, HighBit=7
    )
    decode_dicom_pixels(header_of(data))


def test_trailing_padding_short_of_a_frame_is_accepted() -> None:
    decode_dicom_pixels(header_of(_with_pixels(300 * 280 * 2 + 128)))


def test_a_whole_frame_more_than_the_header_says_is_refused() -> None:
    with pytest.raises(DecodeError, match="NumberOfFrames, Rows or Columns"):
        decode_dicom_pixels(header_of(_with_pixels(300 * 280 * 2 * 2)))


def test_ybr_full_422_needs_two_samples_a_pixel() -> None:
    data = _with_pixels(
        300 * 280 * 2,
        PhotometricInterpretation="YBR_FULL_422",
        SamplesPerPixel=3,
        PlanarConfiguration=0,
        BitsAllocated=8,
        BitsStored=8,
        HighBit=7,
    )
    decode_dicom_pixels(header_of(data))


def test_a_sequential_jpeg_with_a_progressive_scan_range_decodes_as_dcmtk_does() -> None:
    # pydicom's JPEG-lossy.dcm: 12-bit JPEG Extended whose scan header says Se=0.
    with open(get_testdata_file("JPEG-lossy.dcm"), "rb") as fp:
        decode_dicom_pixels(header_of(fp.read()))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_damaged_header_is_a_decode_error() -> None:
    with pytest.raises(DecodeError) as caught:
        header_of(b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00" + b"\xff" * 50)
    assert "Error" not in caught.value.reason and "(" not in caught.value.reason.split(":")[0]


def _real_cr() -> bytes:
    # A real computed radiograph from pydicom's test files (Doe^Archibald, 16 x 16 px).
    (path,) = [p for p in get_testdata_files() if p.endswith("CR1/6154")]
    with open(path, "rb") as fp:
        return fp.read()


def test_a_real_radiograph_de_identified_by_dicognito_passes_the_phi_rules() -> None:
    original = _real_cr()
    # pydicom's file was de-identified by 'dcanon', which declares it: its name is the tool's.
    declared = header_of(original)
    assert declared.identifiers.declared and declared.patient_name == ""
    assert "dicom.phi" not in rules(original)

    def undeclared(ds: pydicom.Dataset) -> None:
        del ds.PatientIdentityRemoved
        del ds.DeidentificationMethod

    identified_cr = dicom_with(original, undeclared)
    assert header_of(identified_cr).patient_name == "Doe^Archibald"
    # The team checked the pixels for burned-in text, so dicognito may declare the removal.
    checked = dicom_with(identified_cr, lambda ds: setattr(ds, "BurnedInAnnotation", "NO"))
    header = header_of(dicognito_deidentified(checked, pseudonym="LUNA-0007"))
    assert header.identifiers.declared
    assert header.patient_name == "" and header.patient_id == "LUNA-0007"
    assert "dicom.phi" not in {f.rule for f in check_header("a.dcm", header)}
