"""An example dataset: what a team uploads, small enough to try luna in a minute.

Grayscale chest-X-ray-like pictures (PNG, JPEG and a few DICOM files, 512 x 512), made of
smooth anatomy-like gradients and noise, and a `manifest.csv` that the ruleset accepts.
`broken=True` adds the mistakes teams make most, so the user sees a rejection too.

    example = write_example_dataset(Path("my-dataset"), images=12)
    example.files          # relative filenames written, the manifest first
    write_example_dataset(Path("bad-dataset"), broken=True)
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from luna.validation.ruleset import LABEL_SEPARATOR, LABELS, MANIFEST_NAME, NO_FINDING

SIDE_PX: Final = 512
DEFAULT_IMAGES: Final = 12
DEFAULT_SEED: Final = 2025
# About half of a real chest X-ray collection is "No Finding"; the rest draws from the others.
NO_FINDING_SHARE: Final = 0.5
# Digital Radiography "For Presentation": what a DX modality stores.
DX_SOP_CLASS: Final = UID("1.2.840.10008.5.1.4.1.1.1.1")
# Each image of a patient stays in that patient's split: no leakage between train and test.
SPLIT_WEIGHTS: Final = {"train": 0.7, "val": 0.15, "test": 0.15}
MANIFEST_COLUMNS: Final = ("filename", "patient_id", "label", "split", "view")


@dataclass(frozen=True)
class ExampleRow:
    filename: str
    patient_id: str
    label: str
    split: str
    view: str


@dataclass(frozen=True)
class ExampleDataset:
    """What `write_example_dataset` wrote: every file, and the mistakes when broken."""

    directory: Path
    files: tuple[str, ...]
    rows: tuple[ExampleRow, ...]
    patients: int
    mistakes: tuple[str, ...] = ()


class DirectoryNotEmpty(FileExistsError):
    """The target directory already holds files; an example never overwrites anything."""


def write_example_dataset(
    directory: Path,
    *,
    images: int = DEFAULT_IMAGES,
    broken: bool = False,
    seed: int = DEFAULT_SEED,
) -> ExampleDataset:
    """Write `images` pictures and their manifest under `directory` (created if needed)."""
    if images < 1:
        raise ValueError("an example dataset needs at least one image")
    if directory.exists() and any(directory.iterdir()):
        raise DirectoryNotEmpty(f"{directory} is not empty; choose a new directory")
    rng = np.random.default_rng(seed)
    rows = plan_rows(images, rng=rng)
    (directory / "images").mkdir(parents=True, exist_ok=True)
    for index, row in enumerate(rows):
        (directory / row.filename).write_bytes(
            encode_image(row, seed=seed + index, rng=rng, side_px=SIDE_PX)
        )
    mistakes: list[str] = []
    if broken:
        rows, mistakes = _break(directory, rows, seed=seed)
    (directory / MANIFEST_NAME).write_bytes(manifest_bytes(rows))
    written = sorted(
        p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()
    )
    files = [MANIFEST_NAME, *(f for f in written if f != MANIFEST_NAME)]
    return ExampleDataset(
        directory=directory,
        files=tuple(files),
        rows=tuple(rows),
        patients=len({r.patient_id for r in rows}),
        mistakes=tuple(mistakes),
    )


def plan_rows(images: int, *, rng: np.random.Generator) -> list[ExampleRow]:
    """One to three images per patient, every patient in one split; every eighth image a
    DICOM, every third a JPEG, the rest PNG."""
    rows: list[ExampleRow] = []
    patient = 0
    while len(rows) < images:
        patient += 1
        patient_id = f"LUNA-{patient:04d}"
        split = str(rng.choice(list(SPLIT_WEIGHTS), p=list(SPLIT_WEIGHTS.values())))
        for study in range(min(int(rng.integers(1, 4)), images - len(rows))):
            number = len(rows) + 1
            extension = ".dcm" if number % 8 == 4 else ".jpg" if number % 3 == 0 else ".png"
            rows.append(
                ExampleRow(
                    filename=f"images/{patient_id.lower()}_{study + 1}{extension}",
                    patient_id=patient_id,
                    label=_label(rng),
                    split=split,
                    view="LAT" if study == 2 else str(rng.choice(["PA", "PA", "AP"])),
                )
            )
    return rows


def _label(rng: np.random.Generator) -> str:
    if rng.random() < NO_FINDING_SHARE:
        return NO_FINDING
    findings = [label for label in LABELS if label != NO_FINDING]
    count = 1 if rng.random() < 0.75 else 2
    chosen = rng.choice(findings, size=count, replace=False)
    return LABEL_SEPARATOR.join(sorted(str(c) for c in chosen))


def manifest_bytes(rows: list[ExampleRow]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for r in rows:
        writer.writerow([r.filename, r.patient_id, r.label, r.split, r.view])
    return buffer.getvalue().encode()


# --- pictures ------------------------------------------------------------------------------


def chest_density(side_px: int, *, rng: np.random.Generator) -> np.ndarray:
    """Radiodensity in [0, 1] shaped like a frontal chest film: torso, two lungs, ribs,
    spine and heart, slightly shifted per picture, plus film grain."""
    y, x = np.mgrid[-1 : 1 : side_px * 1j, -1 : 1 : side_px * 1j]
    x = x - rng.uniform(-0.05, 0.05)
    y = y - rng.uniform(-0.05, 0.05)
    torso = np.sqrt(np.clip(1 - (x / 0.9) ** 2, 0, 1))
    lung_width = rng.uniform(0.25, 0.3)
    lungs = sum(
        np.exp(-((((x - side) / lung_width) ** 2 + ((y + 0.05) / 0.55) ** 2) ** 2))
        for side in (-0.38, 0.38)
    )
    ribs = 0.06 * np.sin(16 * y + 4 * np.abs(x) + rng.uniform(0, np.pi)) * lungs
    spine = np.exp(-((x / 0.07) ** 2))
    heart = np.exp(-2 * (((x + 0.12) / 0.3) ** 2 + ((y - 0.25) / 0.3) ** 2))
    density = 0.2 + 0.55 * torso - 0.4 * lungs + 0.25 * spine + 0.25 * heart + ribs
    density += rng.normal(0, 0.025, size=density.shape)
    return np.clip(density, 0, 1)


def encode_image(row: ExampleRow, *, seed: int, rng: np.random.Generator, side_px: int) -> bytes:
    density = chest_density(side_px, rng=rng)
    if row.filename.endswith(".dcm"):
        return dicom_bytes(density, patient_id=row.patient_id, view=row.view, seed=seed)
    picture = Image.fromarray((density * 255).astype(np.uint8))
    buffer = io.BytesIO()
    if row.filename.endswith(".jpg"):
        picture.save(buffer, format="JPEG", quality=90)
    else:
        picture.save(buffer, format="PNG")
    return buffer.getvalue()


def dicom_bytes(density: np.ndarray, *, patient_id: str, view: str, seed: int) -> bytes:
    """A de-identified DX radiograph, explicit VR little endian, 12 bits stored in 16: the
    only identifier is the manifest's pseudonym in PatientID."""

    def uid(part: str) -> UID:
        return generate_uid(entropy_srcs=[part, patient_id, str(seed)])

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_SOP_CLASS
    meta.MediaStorageSOPInstanceUID = uid("instance")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = DX_SOP_CLASS
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.Modality = "DX"
    ds.PatientName = ""
    ds.PatientID = patient_id
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = view if view in ("PA", "AP") else "LL"
    ds.BurnedInAnnotation = "NO"
    rows, columns = density.shape
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelRepresentation = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelData = (density * 4095).astype("<u2").tobytes()
    ds.preamble = b"\x00" * 128
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


# --- mistakes --------------------------------------------------------------------------------


def _break(
    directory: Path, rows: list[ExampleRow], *, seed: int
) -> tuple[list[ExampleRow], list[str]]:
    """A misspelt label, an image left out of the manifest, and a JPEG cut short."""
    rows = list(rows)
    mistakes: list[str] = []
    first = rows[0]
    rows[0] = ExampleRow(first.filename, first.patient_id, "Pneumonai", first.split, first.view)
    mistakes.append(f"{first.filename}: label 'Pneumonai' is not in the vocabulary")

    rng = np.random.default_rng(seed + 10_000)
    unlisted = "images/extra_scan.png"
    extra = ExampleRow(unlisted, "LUNA-9999", NO_FINDING, "train", "PA")
    (directory / unlisted).write_bytes(encode_image(extra, seed=seed, rng=rng, side_px=SIDE_PX))
    mistakes.append(f"{unlisted}: an image with no row in {MANIFEST_NAME}")

    cut = ExampleRow("images/cut_short.jpg", "LUNA-9998", "Effusion", "train", "AP")
    whole = encode_image(cut, seed=seed + 1, rng=rng, side_px=SIDE_PX)
    (directory / cut.filename).write_bytes(whole[: len(whole) * 6 // 10])
    rows.append(cut)
    mistakes.append(f"{cut.filename}: a JPEG cut short, as by an interrupted copy")
    return rows, mistakes
