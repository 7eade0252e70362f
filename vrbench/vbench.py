"""VBench passthrough: read VBench's own result files and compute its totals exactly as VBench does.

vrbench does not re-implement VBench's metrics. It reads what VBench wrote
(``<name>_eval_results.json``: ``{dimension: [aggregate, [per-video results]]}``) or a CSV of
published per-dimension values, and computes the totals per ../shared/spec/VBENCH.md (VBench
``scripts/cal_final_score.py`` and VBench-2.0 ``scripts/cal_final_score.py``):

* VBench (T2V): ``norm_d = (raw_d - Min_d) / (Max_d - Min_d) * Weight_d`` (no clipping);
  Quality and Semantic are weighted means of ``norm`` over their dimensions; Total = (4 Q + S) / 5.
* VBench-2.0: every dimension has Min 0, Max 1, weight 1; Total = mean of the five category means.
* VBench-I2V (``scripts/cal_i2v_final_score.py``): the same normalisation over its 9 dimensions
  (camera_motion weight 0.1, dynamic_degree 0.5); I2V = weighted mean of camera_motion,
  i2v_subject, i2v_background; Quality = weighted mean of the 6 quality dimensions;
  Total = (I2V + Quality) / 2.

A total is only given when every dimension it needs is present; otherwise it is ``None`` and the
missing dimensions are listed (VBench's own script silently counts a missing dimension as 0).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import VRBenchError
from .files import csv_rows, read_user_text

VBENCH = "vbench"
VBENCH2 = "vbench2"
VBENCH_I2V = "vbench-i2v"

# dimension: (Min, Max, Weight), from VBench scripts/constant.py as VBENCH.md records it.
T2V_NORMALIZATION: dict[str, tuple[float, float, float]] = {
    "subject_consistency": (0.1462, 1.0, 1.0),
    "background_consistency": (0.2615, 1.0, 1.0),
    "temporal_flickering": (0.6293, 1.0, 1.0),
    "motion_smoothness": (0.706, 0.9975, 1.0),
    "dynamic_degree": (0.0, 1.0, 0.5),
    "aesthetic_quality": (0.0, 1.0, 1.0),
    "imaging_quality": (0.0, 1.0, 1.0),
    "object_class": (0.0, 1.0, 1.0),
    "multiple_objects": (0.0, 1.0, 1.0),
    "human_action": (0.0, 1.0, 1.0),
    "color": (0.0, 1.0, 1.0),
    "spatial_relationship": (0.0, 1.0, 1.0),
    "scene": (0.0, 0.8222, 1.0),
    "appearance_style": (0.0009, 0.2855, 1.0),
    "temporal_style": (0.0, 0.364, 1.0),
    "overall_consistency": (0.0, 0.364, 1.0),
}
QUALITY_DIMENSIONS = (
    "subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness",
    "aesthetic_quality", "imaging_quality", "dynamic_degree",
)
SEMANTIC_DIMENSIONS = (
    "object_class", "multiple_objects", "human_action", "color", "spatial_relationship", "scene",
    "appearance_style", "temporal_style", "overall_consistency",
)
QUALITY_WEIGHT, SEMANTIC_WEIGHT = 4.0, 1.0

# VBench-2.0 categories (VBench-2.0 scripts/constant.py), keys in vrbench's canonical spelling.
V2_CATEGORIES: dict[str, tuple[str, ...]] = {
    "creativity": ("composition", "diversity"),
    "commonsense": ("instance_preservation", "motion_rationality"),
    "controllability": (
        "camera_motion", "complex_landscape", "complex_plot", "dynamic_attribute",
        "dynamic_spatial_relationship", "human_interaction", "motion_order_understanding",
    ),
    "human_fidelity": ("human_anatomy", "human_clothes", "human_identity"),
    "physics": ("material", "mechanics", "multi_view_consistency", "thermotics"),
}
V2_DIMENSIONS = tuple(d for dims in V2_CATEGORIES.values() for d in dims)
# VBench-I2V (scripts/constant.py NORMALIZE_DIC_I2V, DIM_WEIGHT_I2V): dimension -> (Min, Max, Weight).
I2V_NORMALIZATION: dict[str, tuple[float, float, float]] = {
    "camera_motion": (0.0, 1.0, 0.1),
    "i2v_subject": (0.1462, 1.0, 1.0),
    "i2v_background": (0.2615, 1.0, 1.0),
    **{d: T2V_NORMALIZATION[d] for d in ("subject_consistency", "background_consistency", "motion_smoothness",
                                         "dynamic_degree", "aesthetic_quality", "imaging_quality")},
}
I2V_DIMENSIONS_OF_I2V = ("camera_motion", "i2v_subject", "i2v_background")
I2V_QUALITY_DIMENSIONS = ("subject_consistency", "background_consistency", "motion_smoothness", "dynamic_degree",
                          "aesthetic_quality", "imaging_quality")
# Dimensions only VBench-I2V has: their presence marks a file as I2V (camera_motion is also VBench-2.0's).
I2V_ONLY_DIMENSIONS = ("i2v_subject", "i2v_background")

BENCHMARK_NAMES = {VBENCH: "VBench", VBENCH2: "VBench-2.0", VBENCH_I2V: "VBench-I2V"}


def canonical_dimension(name: str) -> str:
    """One spelling for every source: 'Multi-View Consistency', 'Multi-View_Consistency' -> 'multi_view_consistency'."""
    return "_".join(name.strip().lower().replace("-", " ").replace("_", " ").split())


def _check_values(dims: Mapping[str, float], known: Iterable[str], benchmark: str) -> dict[str, float]:
    known = tuple(known)
    out: dict[str, float] = {}
    for key, value in dims.items():
        if key not in known:
            raise VRBenchError(f"{BENCHMARK_NAMES[benchmark]} dimension '{key}': unknown (known: {', '.join(known)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise VRBenchError(f"{BENCHMARK_NAMES[benchmark]} dimension '{key}': expected a value in [0, 1], got {value!r}")
        out[key] = float(value)
    return out


def _weighted_mean(dims: Mapping[str, float], names: Iterable[str], table: Mapping[str, tuple[float, float, float]] = T2V_NORMALIZATION) -> float:
    norm = weight = 0.0
    for d in names:
        lo, hi, w = table[d]
        norm += (dims[d] - lo) / (hi - lo) * w
        weight += w
    return norm / weight


def total_scores(dims: Mapping[str, float]) -> dict:
    """VBench Total, Quality and Semantic scores (in [0, 1] scale, unclipped) from per-dimension values in [0, 1].

    Returns ``{"total", "quality", "semantic", "missing"}``; a score whose dimensions are not all
    present is ``None`` and ``missing`` lists what is absent (never a total over a subset).
    Unknown dimension names and values outside [0, 1] raise VRBenchError.
    """
    dims = _check_values(dims, T2V_NORMALIZATION, VBENCH)
    missing = [d for d in T2V_NORMALIZATION if d not in dims]
    quality = None if any(d in missing for d in QUALITY_DIMENSIONS) else _weighted_mean(dims, QUALITY_DIMENSIONS)
    semantic = None if any(d in missing for d in SEMANTIC_DIMENSIONS) else _weighted_mean(dims, SEMANTIC_DIMENSIONS)
    total = None
    if quality is not None and semantic is not None:
        total = (QUALITY_WEIGHT * quality + SEMANTIC_WEIGHT * semantic) / (QUALITY_WEIGHT + SEMANTIC_WEIGHT)
    return {"total": total, "quality": quality, "semantic": semantic, "missing": missing}


def total_scores_v2(dims: Mapping[str, float]) -> dict:
    """VBench-2.0 Total (mean of the five category means) and each category, from values in [0, 1].

    Returns ``{"total", "categories": {category: score or None}, "missing"}``, like total_scores.
    """
    dims = _check_values(dims, V2_DIMENSIONS, VBENCH2)
    missing = [d for d in V2_DIMENSIONS if d not in dims]
    categories = {
        cat: None if any(d in missing for d in names) else sum(dims[d] for d in names) / len(names)
        for cat, names in V2_CATEGORIES.items()
    }
    total = None if missing else sum(v for v in categories.values() if v is not None) / len(categories)
    return {"total": total, "categories": categories, "missing": missing}


def total_scores_i2v(dims: Mapping[str, float]) -> dict:
    """VBench-I2V Total, I2V and Quality scores (in [0, 1] scale, unclipped) from per-dimension values in [0, 1].

    Returns ``{"total", "i2v", "quality", "missing"}``, like total_scores.
    """
    dims = _check_values(dims, I2V_NORMALIZATION, VBENCH_I2V)
    missing = [d for d in I2V_NORMALIZATION if d not in dims]
    i2v = None if any(d in missing for d in I2V_DIMENSIONS_OF_I2V) else _weighted_mean(dims, I2V_DIMENSIONS_OF_I2V, I2V_NORMALIZATION)
    quality = None if any(d in missing for d in I2V_QUALITY_DIMENSIONS) else _weighted_mean(dims, I2V_QUALITY_DIMENSIONS, I2V_NORMALIZATION)
    total = None if i2v is None or quality is None else (i2v + quality) / 2
    return {"total": total, "i2v": i2v, "quality": quality, "missing": missing}


def benchmark_of(dimensions: Iterable[str], where: str) -> str:
    """Which benchmark a set of canonical dimension names belongs to; mixed or unknown names are an error."""
    dims = list(dimensions)
    if any(d in I2V_ONLY_DIMENSIONS for d in dims):
        other = [d for d in dims if d not in I2V_NORMALIZATION]
        if other:
            raise VRBenchError(f"{where}: mixes VBench-I2V dimensions with '{other[0]}'; give them in separate files")
        return VBENCH_I2V
    unknown = [d for d in dims if d not in T2V_NORMALIZATION and d not in V2_DIMENSIONS]
    if unknown:
        raise VRBenchError(f"{where}: unknown VBench dimension '{unknown[0]}' (expected VBench keys such as subject_consistency, or VBench-2.0 keys such as Human_Anatomy)")
    kinds = {VBENCH if d in T2V_NORMALIZATION else VBENCH2 for d in dims}
    if len(kinds) > 1:
        raise VRBenchError(f"{where}: mixes VBench and VBench-2.0 dimensions; give them in separate files")
    if not kinds:
        raise VRBenchError(f"{where}: no VBench dimensions found")
    return kinds.pop()


@dataclass
class VBenchResult:
    """One model's VBench (or VBench-2.0) per-dimension values in [0, 1], possibly gathered from several files."""

    model: str | None
    benchmark: str
    dimensions: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # dimension -> 'file' or 'file:line' it came from

    def totals(self) -> dict:
        return {VBENCH: total_scores, VBENCH2: total_scores_v2, VBENCH_I2V: total_scores_i2v}[self.benchmark](self.dimensions)

    def add(self, dim: str, value: float, where: str) -> None:
        old = self.dimensions.get(dim)
        if old is not None and not math.isclose(old, value, abs_tol=1e-12):
            raise VRBenchError(f"{where}: {dim} = {value} conflicts with {old} from {self.sources[dim]} for model {self.model or '(unnamed)'}")
        self.dimensions[dim] = value
        self.sources.setdefault(dim, where)


def split_source(spec: str) -> tuple[str | None, Path]:
    """'MODEL=PATH' names the model of a file that does not name it (VBench JSON); a plain PATH does not."""
    if "=" in spec and not Path(spec).exists():
        model, path = spec.split("=", 1)
        if model.strip():
            return model.strip(), Path(path)
    return None, Path(spec)


def read_vbench_sources(specs: Iterable[str], percent: bool = False) -> list[VBenchResult]:
    """Read VBench result files (JSON) and per-dimension CSVs; merge rows of the same model and benchmark.

    ``percent``: CSV values are in percent (0-100, as the VBench leaderboard shows them). JSON
    aggregates are always in [0, 1], as VBench writes them.
    """
    merged: dict[tuple[str | None, str], VBenchResult] = {}
    for spec in specs:
        model, path = split_source(spec)
        if not path.is_file():
            raise VRBenchError(f"{path}: VBench file not found")
        text = read_user_text(path, what="VBench file", encoding="utf-8-sig")
        if path.suffix.lower() == ".json":
            rows = [(model, _read_json(text, path))]
        elif path.suffix.lower() in (".csv", ".tsv"):
            rows = _read_csv(text, path, model, percent)
        else:
            raise VRBenchError(f"{path}: expected a VBench *_eval_results.json or a .csv of per-dimension values")
        for row_model, values in rows:
            benchmark = benchmark_of((d for d, _, _ in values), str(path))
            result = merged.setdefault((row_model, benchmark), VBenchResult(row_model, benchmark))
            for dim, value, where in values:
                result.add(dim, value, where)
    return list(merged.values())


def _json_line(text: str, key: str) -> int:
    """Line of the first occurrence of a JSON key, for error messages (1 when not found)."""
    needle = json.dumps(key)
    pos = text.find(needle)
    return text.count("\n", 0, pos) + 1 if pos >= 0 else 1


def _read_json(text: str, path: Path) -> list[tuple[str, float, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise VRBenchError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(data, dict):
        raise VRBenchError(f"{path}:1: expected a JSON object {{dimension: [score, [per-video results]]}}")
    values = []
    for key, entry in data.items():
        where = f"{path}:{_json_line(text, key)}"
        score = entry[0] if isinstance(entry, list) and entry else entry
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise VRBenchError(f"{where}: {key}: expected [score, [per-video results]] with a numeric score, got {json.dumps(entry)[:60]}")
        if not 0.0 <= score <= 1.0:
            raise VRBenchError(f"{where}: {key}: expected an aggregate score in [0, 1], got {score}")
        values.append((canonical_dimension(key), float(score), where))
    return values


def _read_csv(text: str, path: Path, model: str | None, percent: bool) -> list[tuple[str | None, list[tuple[str, float, str]]]]:
    """Wide (a row per model: model, <dimension>...) or long (dimension, value[, model]) CSV.

    Columns that are not VBench dimensions (date, published totals...) are ignored.
    """
    reader = csv.reader(io.StringIO(text), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    try:
        header = next(reader)
    except StopIteration:
        raise VRBenchError(f"{path}:1: empty file (expected a header row)") from None
    columns = [canonical_dimension(h) for h in header]
    known = set(T2V_NORMALIZATION) | set(V2_DIMENSIONS) | set(I2V_NORMALIZATION)
    scale = 100.0 if percent else 1.0
    unit = "a percentage in [0, 100]" if percent else "a value in [0, 1] (pass --percent for leaderboard-style 0-100 values)"

    def number(cell: str, where: str, field_: str) -> float:
        try:
            v = float(cell)
        except ValueError:
            raise VRBenchError(f"{where}: {field_}: expected {unit}, got {cell!r}") from None
        if not math.isfinite(v) or not 0.0 <= v <= scale:
            raise VRBenchError(f"{where}: {field_}: expected {unit}, got {cell!r}")
        return v / scale

    rows: dict[str | None, list[tuple[str, float, str]]] = {}
    long = "dimension" in columns and "value" in columns
    if not long and not any(c in known for c in columns):
        raise VRBenchError(f"{path}:1: no VBench dimension columns (expected 'model' and columns such as subject_consistency, or 'dimension,value')")
    model_col = columns.index("model") if "model" in columns else None
    if model_col is not None and model is not None:
        raise VRBenchError(f"{path}: the file has a model column; drop the '{model}=' prefix")
    for lineno, cells in csv_rows(reader, len(header), path):
        where = f"{path}:{lineno}"
        row_model = model
        if model_col is not None:
            row_model = cells[model_col].strip()
            if not row_model:
                raise VRBenchError(f"{where}: model: expected a model name")
        if long:
            dim = canonical_dimension(cells[columns.index("dimension")])
            if dim not in known:
                raise VRBenchError(f"{where}: dimension: unknown VBench dimension {cells[columns.index('dimension')]!r}")
            rows.setdefault(row_model, []).append((dim, number(cells[columns.index("value")], where, "value"), where))
        else:
            for col, cell in zip(columns, cells):
                if col in known and cell.strip():
                    rows.setdefault(row_model, []).append((col, number(cell, where, col), where))
    if not rows:
        raise VRBenchError(f"{path}: no data rows")
    return list(rows.items())
