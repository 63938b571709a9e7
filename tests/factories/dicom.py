"""Synthetic DICOM radiographs (DX, CR, or anything else), explicit VR little endian.

dicom(288, 320, seed=3)                                  # DX, MONOCHROME2, de-identified
dicom(seed=4, modality="CR", photometric="MONOCHROME1")
dicom(seed=5, patient_id="LUNA-0001")                    # the manifest's pseudonym
dicom(seed=6, phi={"PatientName": "Doe^John"})
dicom(seed=7, pixels=False)                              # header only
dicom(seed=8, transfer_syntax=JPEG2000Lossless)          # compressed by pydicom's encoders
encoded_as(MPEG2MPML, dicom(seed=9))                     # claims a syntax, frames as given
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    JPEG2000,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

from .images import HEIGHT, WIDTH, chest_pixels, colour_pixels

SOP_CLASSES = {
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
    "CR": "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
    "RG": "1.2.840.10008.5.1.4.1.1.1.1",
    "CT": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
}
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def dicom(
    width: int = WIDTH,
    height: int = HEIGHT,
    *,
    seed: int = 0,
    modality: str = "DX",
    photometric: str = "MONOCHROME2",
    patient_id: str = "",
    phi: dict[str, str] | None = None,
    burned_in: str | None = "NO",
    pixels: bool = True,
    rows: int | None = None,
    columns: int | None = None,
    preamble: bool = True,
    transfer_syntax: str | None = None,
) -> bytes:
    """A DICOM Part 10 file. `rows`/`columns` override what the header claims (the pixel data
    keeps `height` x `width`); `preamble=False` writes a bare data set without 'DICM';
    `transfer_syntax` compresses the pixels (RLE Lossless, JPEG 2000) or deflates the file."""
    ds = _dataset(seed=seed, modality=modality, patient_id=patient_id, burned_in=burned_in)
    for keyword, value in (phi or {}).items():
        setattr(ds, keyword, value)
    if pixels:
        _add_pixels(ds, width, height, seed=seed, photometric=photometric)
        if rows is not None:
            ds.Rows = rows
        if columns is not None:
            ds.Columns = columns
    if transfer_syntax in (RLELossless, JPEG2000Lossless, JPEG2000):
        ds.compress(
            transfer_syntax,
            encoding_plugin="pydicom" if transfer_syntax == RLELossless else "pylibjpeg",
        )
    elif transfer_syntax is not None:
        ds.file_meta.TransferSyntaxUID = transfer_syntax
    buffer = io.BytesIO()
    if preamble:
        ds.preamble = b"\x00" * 128
        ds.save_as(buffer, enforce_file_format=True)
    else:
        ds.save_as(buffer, implicit_vr=False, little_endian=True)
    return buffer.getvalue()


def encoded_as(transfer_syntax: str, data: bytes, frames: list[bytes] | None = None) -> bytes:
    """`data` (a DICOM file) relabelled with `transfer_syntax`, its pixels the given
    encapsulated frames (by default one frame of zeros): for syntaxes nothing here encodes."""
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.PixelData = encapsulate(frames or [bytes(64)])
    ds["PixelData"].VR = "OB"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _dataset(*, seed: int, modality: str, patient_id: str, burned_in: str | None) -> Dataset:
    def uid(part: str) -> str:
        return generate_uid(entropy_srcs=[part, str(seed), modality])

    sop_class = SOP_CLASSES.get(modality, SECONDARY_CAPTURE)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid("sop")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.Modality = modality
    ds.PatientName = ""
    ds.PatientID = patient_id
    ds.PatientSex = "O"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    if burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    return ds


def _add_pixels(ds: Dataset, width: int, height: int, *, seed: int, photometric: str) -> None:
    ds.Rows, ds.Columns = height, width
    ds.PhotometricInterpretation = photometric
    ds.PixelRepresentation = 0
    if photometric == "RGB":
        ds.SamplesPerPixel = 3
        ds.PlanarConfiguration = 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = colour_pixels(width, height, seed=seed).tobytes()
        return
    ds.SamplesPerPixel = 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    pixels = chest_pixels(width, height, seed=seed, bits=12)
    if photometric == "MONOCHROME1":  # CR films often store brightness inverted
        pixels = (4095 - pixels).astype(np.uint16)
    ds.PixelData = pixels.astype("<u2").tobytes()


def dicom_with(data: bytes, change: Callable[[Dataset], object]) -> bytes:
    """`data` (a DICOM file) read, changed by `change(ds)`, written again."""
    ds = pydicom.dcmread(io.BytesIO(data))
    change(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def identified(ds: Dataset) -> None:
    """What a hospital export carries: names, ids, dates, a station, nested and private."""
    ds.PatientName = "Doe^John"
    ds.PatientID = "MRN-4711"
    ds.PatientBirthDate = "19600214"
    ds.InstitutionName = "St. Elsewhere"
    ds.ReferringPhysicianName = "House^Gregory"
    ds.StudyDate, ds.StudyTime = "20240131", "101500"
    ds.StationName = "XR-ROOM-3"
    ds.AccessionNumber = "ACC-99812"
    referenced = Dataset()
    referenced.PatientName = "Doe^John"
    referenced.PatientID = "MRN-4711"
    ds.ReferencedPatientSequence = [referenced]
    ds.add_new(0x00090010, "LO", "ACME_PRIVATE")
    ds.add_new(0x00091001, "LO", "Doe John, ward 7")


def dicognito_deidentified(data: bytes, *, pseudonym: str) -> bytes:
    """dicognito (a PS3.15 de-identifier) over the file, then PatientID set to the manifest's
    pseudonym as a team's export script does."""
    from dicognito.anonymizer import Anonymizer

    def change(ds: Dataset) -> None:
        Anonymizer().anonymize(ds)
        ds.PatientID = pseudonym

    return dicom_with(data, change)
