"""A catalogue of named synthetic datasets: for every rule of `luna2025-xray-v1` at least
one dataset that breaks exactly that rule, and clean variants that must be accepted.

    from factories import DATASETS            # (or tests.factories, with the repo on sys.path)
    spec = DATASETS["image.corrupt"]
    spec.stored            # {filename: bytes} to PUT into storage
    spec.declared          # the `files` list of `upload/start`
    spec.expected_rules    # frozenset of rule ids the validation must report, nothing else
    spec.accepted          # True when no expected rule is an error

Names: a rule id for the first dataset breaking that rule, `<rule>--<variant>` for more,
`clean-<variant>` for datasets with no finding at all. Images are small (288 x 320 px) and
deterministic, so the whole catalogue builds in well under a second.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import MPEG2MPML

from luna.validation import SEVERITY, DeclaredFile

from .dicom import dicognito_deidentified, dicom, dicom_with, encoded_as, identified
from .images import (
    gif,
    jpeg,
    jpeg_claiming,
    png,
    png_bomb,
    png_with_bad_crc,
    truncated,
)
from .manifests import COLUMNS, manifest

Row = dict[str, str]

CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".dcm": "application/dicom",
    ".csv": "text/csv",
    ".gif": "image/gif",
}


def content_type_for(filename: str) -> str:
    dot = filename.rfind(".")
    return (
        CONTENT_TYPES.get(filename[dot:].lower(), "application/octet-stream")
        if dot > 0
        else "application/octet-stream"
    )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: what to store, what to declare, and what validation must find."""

    name: str
    description: str
    stored: dict[str, bytes]
    # `upload/start` `files` entries: {filename, content_type, size_bytes, sha256 (or None)}.
    declared: list[dict[str, Any]]
    expected_rules: frozenset[str] = field(default_factory=frozenset)

    @property
    def accepted(self) -> bool:
        return not any(SEVERITY[rule] == "error" for rule in self.expected_rules)

    @property
    def verdict(self) -> str:
        return "accepted" if self.accepted else "rejected"

    def declared_files(self) -> list[DeclaredFile]:
        """The declared entries as the validator sees them, file ids counting from 1."""
        return [
            DeclaredFile(
                file_id=i,
                filename=d["filename"],
                content_type=d["content_type"],
                size_bytes=d["size_bytes"],
                sha256=d.get("sha256"),
            )
            for i, d in enumerate(self.declared, start=1)
        ]

    def upload_start_body(self, *, dataset_name: str | None = None) -> dict[str, Any]:
        """A `POST /api/v1/upload/start` body for this dataset (sha256 left out when None)."""
        files = [{k: v for k, v in d.items() if v is not None} for d in self.declared]
        return {
            "dataset_name": dataset_name or self.name,
            "description": self.description,
            "files": files,
        }


def build_spec(
    name: str,
    description: str,
    files: Mapping[str, bytes],
    *,
    rows: Iterable[Row] | None = None,
    manifest_bytes: bytes | None = None,
    expect: Iterable[str] = (),
    declare: Mapping[str, Mapping[str, Any]] | None = None,
    not_stored: Iterable[str] = (),
    with_sha256: bool = True,
) -> DatasetSpec:
    """A spec from files plus either `rows` (written as a default manifest) or the raw
    `manifest_bytes`. `declare` overrides declared fields per filename (to declare what was
    not stored); `not_stored` files are declared but left out of storage."""
    everything = dict(files)
    if manifest_bytes is None and rows is not None:
        manifest_bytes = manifest(rows)
    if manifest_bytes is not None:
        everything["manifest.csv"] = manifest_bytes
    overrides = declare or {}
    declared = [
        {
            "filename": filename,
            "content_type": content_type_for(filename),
            "size_bytes": len(data),
            "sha256": sha256_hex(data) if with_sha256 else None,
            **overrides.get(filename, {}),
        }
        for filename, data in everything.items()
    ]
    skipped = set(not_stored)
    stored = {k: v for k, v in everything.items() if k not in skipped}
    return DatasetSpec(name, description, stored, declared, frozenset(expect))


# --- the base dataset every variant starts from ----------------------------------------------

BASE = (
    ("p001_a", "LUNA-0001", "No Finding", "train", "PA"),
    ("p001_b", "LUNA-0001", "Cardiomegaly", "train", "AP"),
    ("p002_a", "LUNA-0002", "Effusion|Mass", "val", "PA"),
    ("p003_a", "LUNA-0003", "Nodule", "test", ""),
)

IMAGE_MAKERS: dict[str, Callable[[int], bytes]] = {
    "png": lambda seed: png(seed=seed),
    "png16": lambda seed: png(seed=seed, bits=16),
    "jpg": lambda seed: jpeg(seed=seed),
    "jpg-progressive": lambda seed: jpeg(seed=seed, progressive=True),
    "dcm": lambda seed: dicom(seed=seed),
    "dcm-cr": lambda seed: dicom(seed=seed, modality="CR", photometric="MONOCHROME1"),
}


@cache
def made(kind: str, seed: int) -> bytes:
    """One image of `kind` (a key of IMAGE_MAKERS), built once per process."""
    return IMAGE_MAKERS[kind](seed)


def base(
    kind: str = "png", *, ext: str | None = None, folder: str = ""
) -> tuple[dict[str, bytes], list[Row]]:
    """Four images of three patients over train/val/test, and their manifest rows."""
    extension = ext or {"png16": "png", "jpg-progressive": "jpeg", "dcm-cr": "dcm"}.get(kind, kind)
    files: dict[str, bytes] = {}
    rows: list[Row] = []
    for seed, (stem, patient, label, split, view) in enumerate(BASE):
        filename = f"{folder}{stem}.{extension}"
        files[filename] = made(kind, seed)
        rows.append(
            {
                "filename": filename,
                "patient_id": patient,
                "label": label,
                "split": split,
                "view": view,
            }
        )
    return files, rows


def with_row(
    rows: list[Row],
    filename: str,
    patient: str = "LUNA-0004",
    label: str = "Atelectasis",
    split: str = "train",
    view: str = "PA",
) -> list[Row]:
    return [
        *rows,
        {"filename": filename, "patient_id": patient, "label": label, "split": split, "view": view},
    ]


def replaced(rows: list[Row], index: int, **values: str) -> list[Row]:
    return [{**row, **values} if i == index else row for i, row in enumerate(rows)]


# --- the catalogue ------------------------------------------------------------------------


def _clean() -> list[DatasetSpec]:
    specs = []
    for kind, what in (
        ("png", "8-bit grayscale PNGs"),
        ("png16", "16-bit grayscale PNGs"),
        ("jpg", "baseline JPEGs"),
        ("jpg-progressive", "progressive JPEGs named .jpeg"),
        ("dcm", "DICOM DX, MONOCHROME2, de-identified"),
        ("dcm-cr", "DICOM CR, MONOCHROME1, de-identified"),
    ):
        files, rows = base(kind)
        specs.append(
            build_spec(f"clean-{kind}", f"four {what}, a plain manifest", files, rows=rows)
        )

    files, rows = base()
    specs.append(
        build_spec(
            "clean-bom",
            "manifest with a UTF-8 byte order mark",
            files,
            manifest_bytes=manifest(rows, bom=True),
        )
    )
    specs.append(
        build_spec(
            "clean-crlf",
            "manifest with \\r\\n line endings",
            files,
            manifest_bytes=manifest(rows, crlf=True),
        )
    )
    specs.append(
        build_spec(
            "clean-bom-crlf-quoted",
            "BOM, \\r\\n and every field quoted",
            files,
            manifest_bytes=manifest(rows, bom=True, crlf=True, quote_all=True),
        )
    )
    specs.append(
        build_spec(
            "clean-no-sha256", "files declared without sha256", files, rows=rows, with_sha256=False
        )
    )
    specs.append(
        build_spec(
            "clean-no-optional-columns",
            "only filename, patient_id, label",
            files,
            manifest_bytes=manifest(rows, columns=("filename", "patient_id", "label")),
        )
    )
    reordered = ("view", "label", "site", "filename", "split", "age", "patient_id")
    extra = [{**row, "site": "Nijmegen, NL", "age": "60-69"} for row in rows]
    specs.append(
        build_spec(
            "clean-columns-reordered-extra",
            "columns in another order, unknown columns, a quoted comma",
            files,
            manifest_bytes=manifest(extra, columns=reordered),
        )
    )

    quoted = {
        "p001, frontal.png": png(seed=0),
        'p001 "lateral".png': png(seed=1),
        "p002.png": png(seed=2),
    }
    q_rows = [
        {
            "filename": "p001, frontal.png",
            "patient_id": "LUNA-0001",
            "label": "Mass|Nodule",
            "split": "train",
            "notes": "first line\nsecond line",
        },
        {
            "filename": 'p001 "lateral".png',
            "patient_id": "LUNA-0001",
            "label": "Mass",
            "split": "train",
            "notes": 'said "hi"',
        },
        {
            "filename": "p002.png",
            "patient_id": "LUNA-0002",
            "label": "No Finding",
            "split": "test",
            "notes": "",
        },
    ]
    specs.append(
        build_spec(
            "clean-quoted-fields",
            "RFC 4180 quoting: commas, quotes and a line break inside fields",
            quoted,
            manifest_bytes=manifest(q_rows, columns=(*COLUMNS, "notes")),
        )
    )

    files, rows = base(folder="images/train/")
    specs.append(
        build_spec(
            "clean-subfolders", "images in subfolders, the manifest at the root", files, rows=rows
        )
    )

    upper = {
        "P001_A.PNG": png(seed=0),
        "p001_b.JPG": jpeg(seed=1),
        "p002_a.JPEG": jpeg(seed=2, progressive=True),
        "p003_a.DCM": dicom(seed=3),
    }
    u_rows = [
        {"filename": n, "patient_id": p, "label": lab, "split": s, "view": v}
        for n, (_, p, lab, s, v) in zip(upper, BASE, strict=True)
    ]
    specs.append(
        build_spec("clean-uppercase-extensions", ".PNG, .JPG, .JPEG, .DCM", upper, rows=u_rows)
    )

    files, rows = base()
    multi = replaced(
        replaced(rows, 1, label="Cardiomegaly|Effusion|Edema"),
        3,
        label="Nodule|Mass|Pleural_Thickening|Hernia",
    )
    specs.append(
        build_spec("clean-multi-labels", "several findings joined by '|'", files, rows=multi)
    )

    files, rows = base()
    unassigned = [{**row, "split": "", "view": ""} for row in rows]
    specs.append(
        build_spec(
            "clean-empty-split-view",
            "split and view left empty (unassigned)",
            files,
            rows=unassigned,
        )
    )

    files, rows = base("dcm")
    pseudonymised = {
        name: dicom(seed=i, patient_id=row["patient_id"])
        for i, (name, row) in enumerate(zip(files, rows, strict=True))
    }
    specs.append(
        build_spec(
            "clean-dicom-pseudonym",
            "DICOM PatientID equal to the manifest's patient_id",
            pseudonymised,
            rows=rows,
        )
    )

    specs.append(
        build_spec(
            "clean-dicom-name-pseudonym",
            "DICOM PatientName and PatientID both equal to the manifest's patient_id",
            {
                name: dicom_with(
                    dicom(seed=i, patient_id=row["patient_id"]),
                    lambda ds, p=row["patient_id"]: setattr(ds, "PatientName", p),
                )
                for i, (name, row) in enumerate(zip(files, rows, strict=True))
            },
            rows=rows,
        )
    )
    specs.append(
        build_spec(
            "clean-dicom-placeholders",
            "DICOM de-identified with placeholders: ANONYMOUS, ANONYMIZED, 00010101, ^^^^",
            {name: dicom_with(dicom(seed=i), _placeholders) for i, name in enumerate(files)},
            rows=rows,
        )
    )
    specs.append(
        build_spec(
            "clean-dicom-dicognito",
            "identified DICOMs de-identified by dicognito (PatientIdentityRemoved YES), "
            "PatientID set to the pseudonym",
            {
                name: dicognito_deidentified(
                    dicom_with(dicom(seed=i), _identified_without_private),
                    pseudonym=row["patient_id"],
                )
                for i, (name, row) in enumerate(zip(files, rows, strict=True))
            },
            rows=rows,
        )
    )

    mixed = {
        "a.png": png(seed=10),
        "b.png": png(seed=11, bits=16),
        "c.jpg": jpeg(seed=12),
        "d.dcm": dicom(seed=13, modality="CR"),
    }
    m_rows = [
        {"filename": n, "patient_id": f"LUNA-01{i}", "label": "No Finding", "split": "train"}
        for i, n in enumerate(mixed)
    ]
    specs.append(
        build_spec(
            "clean-mixed-formats", "PNG 8 and 16-bit, JPEG and DICOM together", mixed, rows=m_rows
        )
    )

    files, rows = base()
    files["p001_b.png"] = jpeg(seed=1, gray_as_rgb=True)
    files = {("p001_b.jpg" if k == "p001_b.png" else k): v for k, v in files.items()}
    rows = replaced(rows, 1, filename="p001_b.jpg")
    specs.append(
        build_spec(
            "clean-gray-stored-as-rgb",
            "a grey JPEG stored with three equal channels",
            files,
            rows=rows,
        )
    )

    files, rows = base()
    specs.append(
        build_spec(
            "clean-minimum-size",
            "images of exactly 256 x 256 px",
            {k: png(256, 256, seed=i) for i, k in enumerate(files)},
            rows=rows,
        )
    )
    return specs


def _upload() -> list[DatasetSpec]:
    files, rows = base()
    extra = png(seed=9)
    missing = build_spec(
        "upload.missing",
        "an image declared (and listed) but never uploaded",
        {**files, "p004_a.png": extra},
        rows=with_row(rows, "p004_a.png"),
        not_stored={"p004_a.png"},
        expect={"upload.missing"},
    )
    size = build_spec(
        "upload.size_mismatch",
        "one image's declared size_bytes is 100 bytes more than what is stored",
        files,
        rows=rows,
        declare={"p001_a.png": {"size_bytes": len(files["p001_a.png"]) + 100}},
        expect={"upload.size_mismatch"},
    )
    checksum = build_spec(
        "upload.checksum_mismatch",
        "one image's declared sha256 is another file's",
        files,
        rows=rows,
        declare={"p002_a.png": {"sha256": sha256_hex(b"some other file")}},
        expect={"upload.checksum_mismatch"},
    )
    return [missing, size, checksum]


def _manifest() -> list[DatasetSpec]:
    files, rows = base()
    specs = [
        build_spec(
            "manifest.missing", "images and no manifest.csv", files, expect={"manifest.missing"}
        ),
        build_spec(
            "manifest.missing--nested",
            "the manifest sits in a subfolder, not at the root",
            {**files, "meta/manifest.csv": manifest(rows)},
            expect={"manifest.missing", "image.unsupported_type"},
        ),
        build_spec(
            "manifest.unreadable",
            "manifest saved as Latin-1 (an accented site name)",
            files,
            manifest_bytes=manifest(
                [{**r, "site": "Hôpital Saint-Éloi"} for r in rows],
                columns=(*COLUMNS, "site"),
                encoding="latin-1",
            ),
            expect={"manifest.unreadable"},
        ),
        build_spec(
            "manifest.unreadable--open-quote",
            "a quoted field that never closes",
            files,
            manifest_bytes=manifest(rows) + b'p009.png,"LUNA-0009,Mass,train,PA\n',
            expect={"manifest.unreadable"},
        ),
        build_spec(
            "manifest.unreadable--empty",
            "a manifest of zero bytes",
            files,
            manifest_bytes=b"",
            expect={"manifest.unreadable"},
        ),
        build_spec(
            "manifest.missing_column",
            "no label column",
            files,
            manifest_bytes=manifest(rows, columns=("filename", "patient_id", "split", "view")),
            expect={"manifest.missing_column"},
        ),
        build_spec(
            "manifest.missing_column--semicolons",
            "a manifest separated by ';' (a European spreadsheet's CSV)",
            files,
            manifest_bytes=manifest(rows, delimiter=";"),
            expect={"manifest.missing_column"},
        ),
        build_spec(
            "manifest.duplicate_row",
            "one image listed twice",
            files,
            rows=[*rows, rows[0]],
            expect={"manifest.duplicate_row"},
        ),
        build_spec(
            "manifest.unknown_file",
            "a row naming an image that was not uploaded",
            files,
            rows=with_row(rows, "p009_a.png"),
            expect={"manifest.unknown_file"},
        ),
        build_spec(
            "manifest.unlisted_image",
            "an uploaded image without a row",
            {**files, "p004_a.png": png(seed=9)},
            rows=rows,
            expect={"manifest.unlisted_image"},
        ),
        build_spec(
            "manifest.bad_label",
            "label 'Cancer'",
            files,
            rows=replaced(rows, 2, label="Cancer"),
            expect={"manifest.bad_label"},
        ),
        build_spec(
            "manifest.bad_label--no-finding-combined",
            "'No Finding|Mass'",
            files,
            rows=replaced(rows, 0, label="No Finding|Mass"),
            expect={"manifest.bad_label"},
        ),
        build_spec(
            "manifest.bad_label--wrong-case",
            "'cardiomegaly' in lower case",
            files,
            rows=replaced(rows, 1, label="cardiomegaly"),
            expect={"manifest.bad_label"},
        ),
        build_spec(
            "manifest.bad_patient_id",
            "patient_id with a space and a '#'",
            files,
            rows=replaced(rows, 3, patient_id="LUNA #0003"),
            expect={"manifest.bad_patient_id"},
        ),
        build_spec(
            "manifest.bad_patient_id--empty",
            "an empty patient_id",
            files,
            rows=replaced(rows, 3, patient_id=""),
            expect={"manifest.bad_patient_id"},
        ),
        build_spec(
            "manifest.bad_split",
            "split 'training'",
            files,
            rows=replaced(rows, 0, split="training"),
            expect={"manifest.bad_split"},
        ),
        build_spec(
            "manifest.bad_view",
            "view 'lateral'",
            files,
            rows=replaced(rows, 1, view="lateral"),
            expect={"manifest.bad_view"},
        ),
    ]
    return specs


def _image() -> list[DatasetSpec]:
    files, rows = base()

    def swap(name: str, data: bytes, **kw: Any) -> DatasetSpec:
        return build_spec(
            name, kw.pop("description"), {**files, "p003_a.png": data}, rows=rows, **kw
        )

    jpg = jpeg(seed=3)
    dcm_files, dcm_rows = base("dcm")
    jpg_rows = replaced(rows, 3, filename="p003_a.jpg")

    def renamed_jpg(data: bytes) -> dict[str, bytes]:
        """The base files with the last image replaced by a JPEG, `p003_a.jpg`."""
        return {**{k: v for k, v in files.items() if k != "p003_a.png"}, "p003_a.jpg": data}

    return [
        build_spec(
            "image.unsupported_type",
            "a GIF uploaded beside the images",
            {**files, "extra/p004_a.gif": gif(seed=9)},
            rows=rows,
            expect={"image.unsupported_type"},
        ),
        swap(
            "image.type_mismatch",
            jpg,
            description="a JPEG named .png",
            expect={"image.type_mismatch"},
        ),
        build_spec(
            "image.type_mismatch--dicom-without-preamble",
            "a .dcm written as a bare data set, without preamble and 'DICM'",
            {**dcm_files, "p003_a.dcm": dicom(seed=3, preamble=False)},
            rows=dcm_rows,
            expect={"image.type_mismatch"},
        ),
        build_spec(
            "image.corrupt",
            "a JPEG cut at 60% of its bytes (declared with its cut size)",
            renamed_jpg(truncated(jpg)),
            rows=jpg_rows,
            expect={"image.corrupt"},
        ),
        swap(
            "image.corrupt--truncated-png",
            truncated(png(seed=3)),
            description="a PNG cut at 60%",
            expect={"image.corrupt"},
        ),
        swap(
            "image.corrupt--png-crc",
            png_with_bad_crc(png(seed=3)),
            description="a PNG with one damaged byte (CRC fails)",
            expect={"image.corrupt"},
        ),
        swap("image.corrupt--empty", b"", description="a zero-byte .png", expect={"image.corrupt"}),
        build_spec(
            "image.corrupt--dicom-truncated",
            "a DICOM cut in its pixel data",
            {**dcm_files, "p003_a.dcm": truncated(dcm_files["p003_a.dcm"], keep=0.7)},
            rows=dcm_rows,
            expect={"image.corrupt"},
        ),
        swap(
            "image.too_small",
            png(200, 240, seed=3),
            description="a 200 x 240 px thumbnail",
            expect={"image.too_small"},
        ),
        swap(
            "image.too_large",
            png_bomb(100_000, 100_000),
            description="a PNG header claiming 100,000 x 100,000 px (a decompression bomb)",
            expect={"image.too_large"},
        ),
        build_spec(
            "image.too_large--jpeg-bomb",
            "a JPEG whose frame header claims 60,000 x 60,000 px",
            renamed_jpg(jpeg_claiming(jpg, width=60_000, height=60_000)),
            rows=jpg_rows,
            expect={"image.too_large"},
        ),
        build_spec(
            "image.too_large--dicom-header",
            "a DICOM whose header claims 9,000 rows",
            {**dcm_files, "p003_a.dcm": dicom(seed=3, rows=9000)},
            rows=dcm_rows,
            expect={"image.too_large"},
        ),
        swap(
            "image.not_grayscale",
            png(seed=3, colour=True),
            description="a colour PNG (warning only)",
            expect={"image.not_grayscale"},
        ),
        build_spec(
            "image.not_grayscale--dicom-rgb",
            "a DICOM with PhotometricInterpretation RGB (warning only)",
            {**dcm_files, "p003_a.dcm": dicom(seed=3, photometric="RGB")},
            rows=dcm_rows,
            expect={"image.not_grayscale"},
        ),
        build_spec(
            "image.metadata",
            "a JPEG with EXIF GPS position and Artist (warning only)",
            renamed_jpg(jpeg(seed=3, artist="Dr. Jane Roe", gps=True)),
            rows=jpg_rows,
            expect={"image.metadata"},
        ),
        swap(
            "image.metadata--png-author",
            png(seed=3, text={"Author": "J. Roe, St. Elsewhere"}),
            description="a PNG with an Author text chunk (warning only)",
            expect={"image.metadata"},
        ),
    ]


def _dicom() -> list[DatasetSpec]:
    files, rows = base("dcm")

    def swap(name: str, data: bytes, description: str, expect: set[str]) -> DatasetSpec:
        return build_spec(
            name, description, {**files, "p003_a.dcm": data}, rows=rows, expect=expect
        )

    return [
        swap("dicom.not_xray", dicom(seed=3, modality="CT"), "Modality CT", {"dicom.not_xray"}),
        swap(
            "dicom.phi",
            dicom(seed=3, phi={"PatientName": "Doe^John"}),
            "PatientName set",
            {"dicom.phi"},
        ),
        swap(
            "dicom.phi--many",
            dicom(
                seed=3,
                phi={
                    "PatientBirthDate": "19600101",
                    "InstitutionName": "St. Elsewhere",
                    "ReferringPhysicianName": "House^Gregory",
                },
            ),
            "birth date, institution and referring physician set",
            {"dicom.phi"},
        ),
        swap(
            "dicom.phi--patient-id",
            dicom(seed=3, patient_id="MRN-4711"),
            "PatientID other than the row's patient_id",
            {"dicom.phi"},
        ),
        swap(
            "dicom.burned_in",
            dicom(seed=3, burned_in="YES"),
            "BurnedInAnnotation YES",
            {"dicom.burned_in"},
        ),
        swap(
            "dicom.no_pixels",
            dicom(seed=3, pixels=False),
            "a DICOM header without pixel data",
            {"dicom.no_pixels"},
        ),
        swap(
            "dicom.phi--nested",
            dicom_with(dicom(seed=3), _nested_name),
            "a patient name inside ReferencedPatientSequence",
            {"dicom.phi"},
        ),
        swap(
            "dicom.quasi_identifier",
            dicom_with(dicom(seed=3), _quasi_identifiers),
            "study date, station name and a private tag set (warning only)",
            {"dicom.quasi_identifier"},
        ),
        swap(
            "dicom.unsupported_syntax",
            encoded_as(MPEG2MPML, dicom(seed=3)),
            "pixel data encoded as MPEG-2 video",
            {"dicom.unsupported_syntax"},
        ),
    ]


def _nested_name(ds: Any) -> None:
    referenced = Dataset()
    referenced.PatientName = "Doe^John"
    ds.ReferencedPatientSequence = [referenced]


def _quasi_identifiers(ds: Any) -> None:
    ds.StudyDate = "20240131"
    ds.StationName = "XR-ROOM-3"
    ds.add_new(0x00090010, "LO", "ACME_PRIVATE")
    ds.add_new(0x00091001, "LO", "ward 7 portable")


def _identified_without_private(ds: Any) -> None:
    identified(ds)
    del ds[0x00091001]  # dicognito keeps private tags: they would (rightly) warn
    del ds[0x00090010]


def _placeholders(ds: Any) -> None:
    ds.PatientName = "ANONYMOUS"
    ds.InstitutionName = "ANONYMIZED"
    ds.PatientBirthDate = "00010101"
    ds.OperatorsName = "^^^^"
    ds.ReferringPhysicianName = "REMOVED"


def _dataset() -> list[DatasetSpec]:
    files, rows = base()
    return [
        build_spec(
            "dataset.empty",
            "a manifest with a header and no image",
            {},
            rows=[],
            expect={"dataset.empty"},
        ),
        build_spec(
            "dataset.duplicate_image",
            "the same bytes uploaded under two names",
            {**files, "p001_c.png": files["p001_a.png"]},
            rows=with_row(rows, "p001_c.png", patient="LUNA-0001"),
            expect={"dataset.duplicate_image"},
        ),
        build_spec(
            "dataset.patient_leakage",
            "one patient in train and test",
            files,
            rows=replaced(rows, 1, split="test"),
            expect={"dataset.patient_leakage"},
        ),
    ]


def build_catalogue() -> dict[str, DatasetSpec]:
    specs = [*_clean(), *_upload(), *_manifest(), *_image(), *_dicom(), *_dataset()]
    catalogue = {spec.name: spec for spec in specs}
    assert len(catalogue) == len(specs), "dataset names must be unique"
    return catalogue


DATASETS: dict[str, DatasetSpec] = build_catalogue()
CLEAN: dict[str, DatasetSpec] = {
    name: spec for name, spec in DATASETS.items() if not spec.expected_rules
}
