"""Real DICOM files judged by luna and by DCMTK and GDCM, for the conformance tests.

Good files are pydicom's own test files (they ship with pydicom) in every transfer syntax
DCMTK decodes, plus a synthetic radiograph; damaged copies are cut at many offsets or have
bytes appended. DCMTK decides: a file is good when `dcmftest` finds a Part 10 file and
`dcmj2pnm` (JPEG, RLE, native) or `dcml2pnm` (JPEG-LS) decodes every frame. GDCM's
`gdcmconv --raw` is shown beside it (it accepts some cut files DCMTK refuses).

    rows = judge_dicom(damaged_dicom_cases(), workdir)
    print(dicom_confusion_table(rows))
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file, get_testdata_files

from luna.validation import DeclaredFile, FileInspector

from .dicom import dicom

TOOLS = ("dcmftest", "dcmj2pnm", "dcml2pnm", "gdcmconv")
ALLOW_LIST = Path(__file__).resolve().parents[1] / "validation" / "dicom_allowlist.toml"
_TOOL_SECONDS = 30
_GDCM_SECONDS = 2
# pydicom test files, one or more per transfer syntax DCMTK decodes.
GOOD_FILES = (
    "CT_small.dcm",  # Explicit VR Little Endian, 16-bit
    "MR_small_implicit.dcm",  # Implicit VR Little Endian
    "MR_small_bigendian.dcm",  # Explicit VR Big Endian
    "MR_small_padded.dcm",  # trailing padding inside the pixel data
    "image_dfl.dcm",  # Deflated Explicit VR Little Endian
    "MR_small_RLE.dcm",  # RLE Lossless
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG Baseline
    "JPGExtended.dcm",  # JPEG Extended, 8-bit
    "JPEG-lossy.dcm",  # JPEG Extended, 12-bit, spectral range 0..0
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG Lossless SV1
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS Lossless
    "JPEGLSNearLossless_16.dcm",  # JPEG-LS Near-Lossless
)
_JPEG_LS = frozenset({"MR_small_jpeg_ls_lossless.dcm", "JPEGLSNearLossless_16.dcm"})
_CUT_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)
_CUT_FROM_END = (9, 1)
# Each tool run costs ~0.2 s (dictionary loading); run four at once.
_PARALLEL_TOOLS = 4


@dataclass(frozen=True)
class DicomCase:
    name: str
    kind: str  # "good", "truncate", "trailing"
    data: bytes
    jpeg_ls: bool = False  # DCMTK decodes JPEG-LS with dcml2pnm, the rest with dcmj2pnm


@dataclass
class DicomVerdicts:
    case: DicomCase
    luna: bool  # True: rejected
    luna_reason: str
    dcmtk: bool = False
    gdcm: bool = False
    output: dict[str, str] = field(default_factory=dict)


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def good_dicoms() -> dict[str, bytes]:
    files = {name: Path(get_testdata_file(name)).read_bytes() for name in GOOD_FILES}
    files["synthetic_dx.dcm"] = dicom(seed=1)
    return files


def damaged_dicom_cases() -> list[DicomCase]:
    cases = []
    for stem, good in good_dicoms().items():
        ls = stem in _JPEG_LS
        cases.append(DicomCase(f"{stem}-good", "good", good, ls))
        cuts = {int(len(good) * f) for f in _CUT_FRACTIONS} | {len(good) - n for n in _CUT_FROM_END}
        cases.extend(
            DicomCase(f"{stem}-cut{cut}", "truncate", good[:cut], ls) for cut in sorted(cuts)
        )
        cases.append(DicomCase(f"{stem}-trailing", "trailing", good + b"\x01garbage", ls))
    return cases


def luna_verdict(data: bytes) -> tuple[bool, str]:
    """Rejected when the file does not decode (image.corrupt, dicom.unsupported_syntax)."""
    declared = DeclaredFile(
        file_id=1,
        filename="file.dcm",
        content_type="application/dicom",
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    inspector = FileInspector(declared)
    inspector.feed(data)
    report = inspector.finish()
    bad = [
        f
        for f in report.findings
        if f.rule
        in (
            "image.corrupt",
            "image.type_mismatch",
            "dicom.unsupported_syntax",
            "dicom.no_pixels",
        )
    ]
    return bool(bad), "; ".join(f.message for f in bad)


def _run(argv: list[str], *, timeout_s: float = _TOOL_SECONDS) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return -1, f"{argv[0]} did not finish in {timeout_s} s"
    return done.returncode, (done.stdout + done.stderr).strip()


def dcmtk_rejects(path: Path, *, jpeg_ls: bool) -> tuple[bool, str]:
    code, said = _run(["dcmftest", str(path)])
    if code != 0:
        return True, said
    decoder = "dcml2pnm" if jpeg_ls else "dcmj2pnm"
    code, said = _run([decoder, "+Fa", str(path), "/dev/null"])
    return code != 0, said


def gdcm_rejects(path: Path) -> tuple[bool, str]:
    # gdcmconv spins on some cut Deflated files: a short wait, then it counts as refused.
    out = path.with_suffix(".gdcm-out")
    code, said = _run(["gdcmconv", "--raw", str(path), str(out)], timeout_s=_GDCM_SECONDS)
    return code != 0, said


def _tools(row: DicomVerdicts, path: Path) -> DicomVerdicts:
    row.dcmtk, row.output["dcmtk"] = dcmtk_rejects(path, jpeg_ls=row.case.jpeg_ls)
    row.gdcm, row.output["gdcm"] = gdcm_rejects(path)
    return row


def judge_dicom(cases: Iterable[DicomCase], workdir: Path) -> list[DicomVerdicts]:
    rows, paths = [], []
    for case in cases:
        path = workdir / case.name
        path.write_bytes(case.data)
        rejected, reason = luna_verdict(case.data)
        rows.append(DicomVerdicts(case=case, luna=rejected, luna_reason=reason))
        paths.append(path)
    with ThreadPoolExecutor(max_workers=_PARALLEL_TOOLS) as pool:
        return list(pool.map(_tools, rows, paths))


def allowed() -> dict[str, str]:
    """file or case name -> reason: where luna knowingly differs from DCMTK."""
    listed = tomllib.loads(ALLOW_LIST.read_text())
    return {entry["name"]: entry["reason"] for entry in listed.get("dicom", [])}


def disagreements(rows: Sequence[DicomVerdicts]) -> list[DicomVerdicts]:
    allow = allowed()
    return [r for r in rows if r.luna != r.dcmtk and r.case.name not in allow]


def dicom_confusion_table(rows: Sequence[DicomVerdicts]) -> str:
    lines = [f"dicom: {len(rows)} files ({sum(r.case.kind == 'good' for r in rows)} good)"]
    for tool in ("dcmtk", "gdcm"):
        counts = {(a, b): 0 for a in (False, True) for b in (False, True)}
        for r in rows:
            counts[(r.luna, getattr(r, tool))] += 1
        deciding = " (deciding)" if tool == "dcmtk" else ""
        lines += [
            f"  luna vs {tool}{deciding}:",
            f"    {'':16}{tool + ' accepts':>18}{tool + ' rejects':>18}",
            f"    {'luna accepts':16}{counts[(False, False)]:>18}{counts[(False, True)]:>18}",
            f"    {'luna rejects':16}{counts[(True, False)]:>18}{counts[(True, True)]:>18}",
        ]
    allow = allowed()
    differ = [r for r in rows if r.luna != r.dcmtk]
    lines.append(f"  disagreements with dcmtk: {len(differ)}")
    for r in differ:
        why = allow.get(r.case.name, "NOT ALLOWED")
        lines.append(
            f"    {r.case.name}: luna {'rejects' if r.luna else 'accepts'}, dcmtk "
            f"{'rejects' if r.dcmtk else 'accepts'} ({r.luna_reason or r.output['dcmtk'][:120]})"
            f" -- {why.splitlines()[0]}"
        )
    return "\n".join(lines)


@dataclass
class CorpusVerdict:
    name: str
    syntax: str
    luna: bool  # True: rejected
    luna_reason: str
    dcmtk: bool
    gdcm: bool


def pydicom_corpus() -> list[Path]:
    """pydicom's own test files that are DICOM Part 10 files with pixel data."""
    found = []
    for name in sorted(get_testdata_files()):
        path = Path(name)
        if not path.is_file() or path.read_bytes()[128:132] != b"DICM":
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=False, defer_size=1024)
        except Exception:  # unreadable headers are judged elsewhere
            continue
        if "PixelData" in ds:
            found.append(path)
    return found


def _judge_corpus_file(path: Path) -> CorpusVerdict:
    data = path.read_bytes()
    uid = pydicom.dcmread(path, stop_before_pixels=True).file_meta.get("TransferSyntaxUID")
    syntax = pydicom.uid.UID(uid).name if uid else "no transfer syntax"
    rejected, reason = luna_verdict(data)
    dcmtk = dcmtk_rejects(path, jpeg_ls="JPEG-LS" in syntax)[0]
    return CorpusVerdict(
        name=path.name,
        syntax=syntax,
        luna=rejected,
        luna_reason=reason,
        dcmtk=dcmtk,
        gdcm=gdcm_rejects_into(path)[0],
    )


def gdcm_rejects_into(path: Path) -> tuple[bool, str]:
    """gdcm_rejects on a copy, so its output lands in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="luna-gdcm-") as workdir:
        copy = Path(workdir) / path.name
        copy.write_bytes(path.read_bytes())
        return gdcm_rejects(copy)


def judge_corpus() -> list[CorpusVerdict]:
    with ThreadPoolExecutor(max_workers=_PARALLEL_TOOLS) as pool:
        return list(pool.map(_judge_corpus_file, pydicom_corpus()))
