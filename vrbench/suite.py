"""The VR-Bench suite: its metadata, cases and questions, and the validator behind `vrbench suite lint`.

A suite is a directory holding ``suite.json`` (name, version, dimensions, categories, layer weights)
and the case files it names (JSON lines, one case per line). The bundled suite lives in
``vrbench/prompts`` (the repository's ``prompts/`` folder). Loading validates everything and reports
every problem as ``file:line: field: problem``.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from .errors import SuiteError, VRBenchError
from .text import content_words, jaccard, normalize, tfidf_cosine_pairs

CASE_KEYS = ("id", "dimension", "prompt", "intent", "seconds", "tags", "questions")
REQUIRED_CASE_KEYS = ("id", "dimension", "prompt", "intent", "questions")
QUESTION_KEYS = ("id", "layer", "kind", "text")
LAYERS = (1, 2, 3)

# Questions must be phrased so that "yes" is the correct behaviour; negations invert that and
# confuse judges, so the linter rejects them outright.
NEGATION = re.compile(
    r"\b(not|no|never|none|nothing|nobody|nowhere|neither|nor|without|fail\w*)\b|n't\b", re.IGNORECASE
)
# A layer-3 question whose content words mostly appear in the prompt asks what the prompt already says.
LEAK_MIN_WORDS = 3
LEAK_MAX_SHARE = 0.8
# Two questions of one case sharing this much of their content words ask the same thing.
DUPLICATE_QUESTION_JACCARD = 0.8
# Two prompts this similar (TF-IDF cosine over content words) describe the same scene. Calibrated on
# VR-Bench v1.0: the one pair written independently for two dimensions that staged the same scene (a
# waiter balancing a tray of four glasses on one palm) scored 0.40, while every pair of genuinely
# different scenes scores below 0.32 (the closest: a frog on a lily pad vs a pebble dropped in a pond).
DUPLICATE_PROMPT_TFIDF = 0.35

# Stricter question rules, on when suite.json sets "strict_questions": true (VR-Bench v1.1 on).
# Which hand, foot or side of the body: judges are weak at it and a mirrored scene flips the answer.
HANDEDNESS = re.compile(
    r"\b(left|right)(?:[- ](?:front|hind|back|fore|rear|upper|lower))?[- ](hands?|feet|foot|legs?|arms?|paws?|hoofs?|hooves|"
    r"wings?|shoulders?|knees?|elbows?|hips?|fins?|ears?|eyes?|side of (?:the|its|his|her|their) body)\b|"
    r"\b(left|right)-handed\b|\bwhich (hand|foot|leg|arm|paw|side)\b",
    re.IGNORECASE,
)
# Motives and mental states cannot be seen; ask about the visible order of events instead.
MOTIVE = re.compile(
    r"\b(prompted|because|in order to|on purpose|deliberately|intend\w*|intention\w*|decid\w*|chooses|chose|chosen|"
    r"motiv\w*|realis(?:e|es|ed|ing)|realiz(?:e|es|ed|ing)|notic(?:e|es|ed|ing)|wants?|wanting|aware)\b",
    re.IGNORECASE,
)
# Two questions of one case sharing this much of their content words probably cannot get different answers.
STRICT_DUPLICATE_QUESTION_JACCARD = 0.6


@dataclass(frozen=True)
class Question:
    id: str
    layer: int
    text: str
    kind: str | None = None  # v1.1: presence, form, relation, motion, order, outcome or norm (see suite.json)


@dataclass(frozen=True)
class Case:
    id: str
    dimension: str
    category: str
    prompt: str
    intent: str
    questions: tuple[Question, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    seconds: float | None = None  # v1.1: the real-time span the intent needs

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "dimension": self.dimension,
            "prompt": self.prompt,
            "intent": self.intent,
            **({"seconds": self.seconds} if self.seconds is not None else {}),
            "tags": dict(self.tags),
            "questions": [{"id": q.id, "layer": q.layer, **({"kind": q.kind} if q.kind else {}), "text": q.text}
                          for q in self.questions],
        }


@dataclass(frozen=True)
class Dimension:
    code: str
    name: str
    category: str
    description: str = ""


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    dimensions: tuple[str, ...]


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    root: Path
    sha256: str
    dimensions: tuple[Dimension, ...]
    categories: tuple[Category, ...]
    layer_weights: tuple[float, float, float]
    question_layers: tuple[int, ...]
    cases: tuple[Case, ...]
    cases_per_dimension: int | None = None
    license: str = ""

    def case(self, case_id: str) -> Case:
        for c in self.cases:
            if c.id == case_id:
                return c
        raise VRBenchError(f"unknown case '{case_id}' (not in suite {self.name} {self.version})")

    def dimension(self, code: str) -> Dimension:
        for d in self.dimensions:
            if d.code == code:
                return d
        raise KeyError(code)

    def cases_by_dimension(self) -> dict[str, list[Case]]:
        out: dict[str, list[Case]] = {d.code: [] for d in self.dimensions}
        for c in self.cases:
            out[c.dimension].append(c)
        return out

    def select(self, selectors: Sequence[str] | None) -> list[Case]:
        """Cases matching any selector: a dimension code (ETV), a category code (HL-Comm) or a case id (ETV-07)."""
        if not selectors:
            return list(self.cases)
        by_id = {c.id: c for c in self.cases}
        wanted: dict[str, Case] = {}
        for raw in selectors:
            for sel in (s.strip() for s in raw.split(",")):
                if not sel:
                    continue
                key = sel.upper()
                if key in by_id:
                    wanted[key] = by_id[key]
                    continue
                dims = [d.code for d in self.dimensions if d.code == key]
                dims += [d for cat in self.categories if cat.code.upper() == key for d in cat.dimensions]
                if not dims:
                    known = ", ".join([d.code for d in self.dimensions] + [c.code for c in self.categories])
                    raise VRBenchError(
                        f"--cases: '{sel}' is not a case id, dimension or category (known: {known}, or an id like ETV-07)"
                    )
                for c in self.cases:
                    if c.dimension in dims:
                        wanted[c.id] = c
        order = {c.id: i for i, c in enumerate(self.cases)}
        return sorted(wanted.values(), key=lambda c: order[c.id])

    def info(self) -> dict:
        """What result files record about the suite."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256, "n_cases": len(self.cases)}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str
    dimension: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field}: {self.message}"


def bundled_suite_path() -> Path:
    try:
        return Path(str(resources.files("vrbench.prompts")))
    except ModuleNotFoundError:  # running from a source checkout that was never installed
        source = Path(__file__).resolve().parent.parent / "prompts"
        if (source / "suite.json").is_file():
            return source
        raise VRBenchError("the bundled suite is missing: install vrbench with `pip install .`, or pass --suite PATH") from None


def bundled_suite_paths() -> list[Path]:
    """The bundled suites: the current one first, then earlier versions kept for old runs (``v*/``)."""
    root = bundled_suite_path()
    return [root, *sorted((p.parent for p in root.glob("v*/suite.json")), reverse=True)]


def find_bundled_suite(sha256: str | None = None, version: str | None = None) -> Suite | None:
    """The bundled suite with this sha256 (or, when none is given, this version), if any."""
    for path in bundled_suite_paths():
        suite = load_suite(path)
        if (sha256 and suite.sha256 == sha256) or (not sha256 and version and suite.version == version):
            return suite
    return None


# Valid suites loaded by this process, keyed by _suite_stamp: linting takes about 0.5 s and one command
# loads the same suite several times. Suite is frozen, so sharing one object is safe.
_loaded: dict[tuple, Suite] = {}


def load_suite(path: str | Path | None = None) -> Suite:
    """Load and validate a suite directory (default: the bundled VR-Bench); raise SuiteError on any problem.

    An unchanged suite is validated once per process; editing suite.json or a case file re-reads it."""
    root = _suite_root(path)
    stamp = _suite_stamp(root)
    suite = _loaded.get(stamp) if stamp else None
    if suite is None:
        suite, problems = lint_suite(root)
        if problems:
            raise SuiteError(problems)
        assert suite is not None
        if stamp:
            _loaded[stamp] = suite
    # the same directory may be named another way (relative, via a link): keep the caller's root
    return suite if suite.root == root else replace(suite, root=root)


def _suite_stamp(root: Path) -> tuple | None:
    """(resolved root, (path, size, mtime_ns) of suite.json and each case file), or None when suite.json
    cannot be read (then lint_suite reports why)."""
    meta_path = root / "suite.json"
    try:
        globs = json.loads(meta_path.read_text(encoding="utf-8")).get("cases", ["*.jsonl"])
        files = [meta_path, *_case_files(root, [globs] if isinstance(globs, str) else globs)]
        stats = tuple((str(f), st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()])
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    return (str(root.resolve()), stats)


def _suite_root(path: str | Path | None) -> Path:
    root = Path(path) if path is not None else bundled_suite_path()
    return root.parent if root.is_file() and root.name == "suite.json" else root


def lint_suite(path: str | Path | None = None) -> tuple[Suite | None, list[Problem]]:
    """Validate a suite and return it (None when unusable) with every problem found."""
    root = _suite_root(path)
    meta_path = root / "suite.json"
    if not meta_path.is_file():
        raise VRBenchError(f"{root}: not a suite directory (expected a suite.json in it)")
    problems: list[Problem] = []
    meta = _load_metadata(meta_path, problems)
    if meta is None:
        return None, problems

    files = _case_files(root, meta["case_globs"])
    if not files:
        problems.append(Problem(_rel(meta_path), None, "cases", f"no case files match {meta['case_globs']}"))
    digest = hashlib.sha256()
    digest.update(b"suite.json\0" + meta_path.read_bytes())
    cases: list[Case] = []
    first_seen: dict[str, str] = {}
    for path_ in files:
        digest.update(b"\0" + path_.relative_to(root).as_posix().encode() + b"\0" + path_.read_bytes())
        for case, where in _parse_case_file(path_, meta, problems):
            if case.id in first_seen:
                problems.append(Problem(where[0], where[1], "id", f"duplicate id {case.id} (first at {first_seen[case.id]})", case.dimension))
                continue
            first_seen[case.id] = f"{where[0]}:{where[1]}"
            cases.append(case)

    where_of = {c.id: first_seen[c.id] for c in cases}
    for sim, i, j in tfidf_cosine_pairs([c.prompt for c in cases], DUPLICATE_PROMPT_TFIDF):
        a, b = cases[i], cases[j]
        file_, line = where_of[b.id].rsplit(":", 1)
        problems.append(Problem(file_, int(line), "prompt", f"near-duplicate of {a.id}'s prompt (similarity {sim:.2f} >= {DUPLICATE_PROMPT_TFIDF}); write a different scenario", b.dimension))

    per_dim = meta["cases_per_dimension"]
    if per_dim is not None:
        counts = {d.code: 0 for d in meta["dimensions"]}
        for c in cases:
            counts[c.dimension] += 1
        for code, n in counts.items():
            if n != per_dim:
                problems.append(Problem(_rel(meta_path), None, "cases_per_dimension", f"dimension {code} has {n} cases, expected {per_dim}", code))

    suite = Suite(
        name=meta["name"],
        version=meta["version"],
        root=root,
        sha256=digest.hexdigest(),
        dimensions=meta["dimensions"],
        categories=meta["categories"],
        layer_weights=meta["layer_weights"],
        question_layers=meta["question_layers"],
        cases=tuple(sorted(cases, key=lambda c: ([d.code for d in meta["dimensions"]].index(c.dimension), c.id))),
        cases_per_dimension=per_dim,
        license=meta["license"],
    )
    return suite, problems


# --- metadata -------------------------------------------------------------------------------------


def _positive_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _load_metadata(path: Path, problems: list[Problem]) -> dict | None:
    where = _rel(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        problems.append(Problem(where, e.lineno, "json", f"invalid JSON: {e.msg}"))
        return None
    except UnicodeDecodeError:
        problems.append(Problem(where, None, "encoding", "expected UTF-8 text"))
        return None
    if not isinstance(raw, dict):
        problems.append(Problem(where, 1, "suite", "expected a JSON object"))
        return None

    def need(key, kind, default=None):
        value = raw.get(key, default)
        if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
            problems.append(Problem(where, None, key, f"expected a non-empty {kind.__name__ if isinstance(kind, type) else 'value'}"))
            return None
        return value

    name = need("name", str)
    version = need("version", str)
    globs = raw.get("cases", ["*.jsonl"])
    if isinstance(globs, str):
        globs = [globs]
    if not isinstance(globs, list) or not all(isinstance(g, str) and g for g in globs):
        problems.append(Problem(where, None, "cases", "expected a list of glob patterns such as [\"cases/*.jsonl\"]"))
        globs = []

    layers = raw.get("question_layers", [1, 1, 2, 2, 2, 3, 3, 3])
    if (
        not isinstance(layers, list)
        or not layers
        or any(not isinstance(x, int) or isinstance(x, bool) or x not in LAYERS for x in layers)
        or layers != sorted(layers)
        or set(layers) != set(LAYERS)
    ):
        problems.append(Problem(where, None, "question_layers", "expected a non-decreasing list of layers 1, 2 and 3, e.g. [1,1,2,2,2,3,3,3]"))
        layers = None

    weights = raw.get("layer_weights", {"1": 0.2, "2": 0.3, "3": 0.5})
    layer_weights = None
    if isinstance(weights, dict) and set(weights) == {"1", "2", "3"} and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in weights.values()
    ):
        layer_weights = tuple(float(weights[k]) for k in ("1", "2", "3"))
        if abs(sum(layer_weights) - 1.0) > 1e-9:
            problems.append(Problem(where, None, "layer_weights", f"weights must sum to 1, got {sum(layer_weights):g}"))
            layer_weights = None
    else:
        problems.append(Problem(where, None, "layer_weights", 'expected {"1": w1, "2": w2, "3": w3} with non-negative numbers'))

    per_dim = raw.get("cases_per_dimension")
    if per_dim is not None and (not isinstance(per_dim, int) or isinstance(per_dim, bool) or per_dim < 1):
        problems.append(Problem(where, None, "cases_per_dimension", "expected a positive integer or null"))
        per_dim = None

    dims: list[Dimension] = []
    cat_of: dict[str, str] = {}
    categories: list[Category] = []
    raw_cats = raw.get("categories")
    if not isinstance(raw_cats, list) or not raw_cats:
        problems.append(Problem(where, None, "categories", "expected a non-empty list of {code, name, dimensions}"))
        raw_cats = []
    for i, cat in enumerate(raw_cats):
        f = f"categories[{i}]"
        if not isinstance(cat, dict) or not isinstance(cat.get("code"), str) or not isinstance(cat.get("dimensions"), list):
            problems.append(Problem(where, None, f, "expected {code, name, dimensions: [...]}"))
            continue
        for d in cat["dimensions"]:
            if d in cat_of:
                problems.append(Problem(where, None, f, f"dimension {d} is in two categories ({cat_of[d]} and {cat['code']})"))
            cat_of[d] = cat["code"]
        categories.append(Category(cat["code"], str(cat.get("name", cat["code"])), tuple(cat["dimensions"])))
    raw_dims = raw.get("dimensions")
    if not isinstance(raw_dims, list) or not raw_dims:
        problems.append(Problem(where, None, "dimensions", "expected a non-empty list of {code, name, description}"))
        raw_dims = []
    for i, d in enumerate(raw_dims):
        f = f"dimensions[{i}]"
        code = d.get("code") if isinstance(d, dict) else None
        if not isinstance(code, str) or not re.fullmatch(r"[A-Z]{2,8}", code):
            problems.append(Problem(where, None, f, "expected {code: 2-8 capital letters, name, description}"))
            continue
        if any(x.code == code for x in dims):
            problems.append(Problem(where, None, f, f"duplicate dimension code {code}"))
            continue
        if code not in cat_of:
            problems.append(Problem(where, None, f, f"dimension {code} belongs to no category"))
            continue
        dims.append(Dimension(code, str(d.get("name", code)), cat_of[code], str(d.get("description", ""))))
    for d in cat_of:
        if not any(x.code == d for x in dims):
            problems.append(Problem(where, None, "categories", f"category {cat_of[d]} lists unknown dimension {d}"))

    max_seconds = raw.get("max_seconds")
    if max_seconds is not None and not _positive_number(max_seconds):
        problems.append(Problem(where, None, "max_seconds", "expected a positive number of seconds or null"))
        max_seconds = None
    kinds = raw.get("question_kinds")
    if kinds is not None and (not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) and k for k in kinds)):
        problems.append(Problem(where, None, "question_kinds", 'expected a list of names such as ["presence", "motion"], or null'))
        kinds = None
    strict = raw.get("strict_questions", False)
    if not isinstance(strict, bool):
        problems.append(Problem(where, None, "strict_questions", "expected true or false"))
        strict = False

    if None in (name, version, layers, layer_weights) or not dims:
        return None
    return {
        "name": name,
        "version": version,
        "case_globs": globs,
        "question_layers": tuple(layers),
        "layer_weights": layer_weights,
        "cases_per_dimension": per_dim,
        "dimensions": tuple(dims),
        "categories": tuple(categories),
        "license": str(raw.get("license", "")),
        "max_seconds": None if max_seconds is None else float(max_seconds),
        "question_kinds": None if kinds is None else tuple(kinds),
        "strict_questions": strict,
    }


def _case_files(root: Path, patterns: Iterable[str]) -> list[Path]:
    found: dict[Path, None] = {}
    for pattern in patterns:
        for p in sorted(glob.glob(str(root / pattern))):
            found[Path(p)] = None
    return [p for p in found if p.is_file()]


# --- cases -----------------------------------------------------------------------------------------


def _parse_case_file(path: Path, meta: dict, problems: list[Problem]):
    where = _rel(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        problems.append(Problem(where, None, "encoding", "expected UTF-8 text"))
        return
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(where, lineno, "json", f"invalid JSON: {e.msg} (column {e.colno})"))
            continue
        case = _parse_case(obj, where, lineno, meta, problems)
        if case is not None:
            yield case, (where, lineno)


def _parse_case(obj, where: str, lineno: int, meta: dict, problems: list[Problem]) -> Case | None:
    n_before = len(problems)
    dims = {d.code: d for d in meta["dimensions"]}
    dim_guess = obj.get("dimension") if isinstance(obj, dict) and isinstance(obj.get("dimension"), str) else None

    def bad(field_: str, message: str) -> None:
        problems.append(Problem(where, lineno, field_, message, dim_guess))

    if not isinstance(obj, dict):
        bad("case", "expected a JSON object")
        return None
    for key in obj:
        if key not in CASE_KEYS:
            bad(key, f"unknown field (allowed: {', '.join(CASE_KEYS)})")
    for key in REQUIRED_CASE_KEYS:
        if key not in obj:
            bad(key, "missing")
    if len(problems) > n_before and any(k not in obj for k in REQUIRED_CASE_KEYS):
        return None

    case_id, dimension = obj["id"], obj["dimension"]
    if not isinstance(dimension, str) or dimension not in dims:
        bad("dimension", f"unknown dimension {dimension!r} (expected one of {', '.join(dims)})")
    if not isinstance(case_id, str) or not re.fullmatch(r"[A-Z]{2,8}-\d{2,3}", case_id):
        bad("id", f"expected an id like ETV-07, got {case_id!r}")
    elif isinstance(dimension, str) and not case_id.startswith(dimension + "-"):
        bad("id", f"id {case_id} does not start with its dimension {dimension}-")
    for key in ("prompt", "intent"):
        if not isinstance(obj[key], str) or not obj[key].strip():
            bad(key, "expected non-empty text")
    tags = obj.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in tags.items()):
        bad("tags", "expected an object of non-empty strings, e.g. {\"culture\": \"Japan\"}")
        tags = {}
    seconds = obj.get("seconds")
    max_seconds = meta["max_seconds"]
    if max_seconds is not None and "seconds" not in obj:
        bad("seconds", f"missing: the real-time span (in seconds, at most {max_seconds:g}) the intent needs")
    elif seconds is not None and not _positive_number(seconds):
        bad("seconds", f"expected a positive number of seconds, got {seconds!r}")
    elif seconds is not None and max_seconds is not None and seconds > max_seconds:
        bad("seconds", f"{seconds:g} s is over the {max_seconds:g} s budget: start the prompt later in the action, or show less of it")

    questions = _parse_questions(obj["questions"], meta, bad)
    prompt = obj["prompt"] if isinstance(obj["prompt"], str) else ""
    if questions and prompt.strip():
        prompt_words = content_words(prompt)
        for i, q in enumerate(questions):
            if q.layer != 3:
                continue
            qwords = content_words(q.text)
            if len(qwords) >= LEAK_MIN_WORDS and len(qwords & prompt_words) / len(qwords) >= LEAK_MAX_SHARE:
                bad(f"questions[{i}].text", f"the prompt already states this layer-3 answer ({', '.join(sorted(qwords & prompt_words))}); let the outcome be inferred")

    if len(problems) > n_before:
        return None
    dim = dims[dimension]
    return Case(case_id, dimension, dim.category, prompt.strip(), obj["intent"].strip(), tuple(questions), dict(tags),
                None if seconds is None else float(seconds))


def _parse_questions(raw, meta: dict, bad) -> list[Question]:
    layers: Sequence[int] = meta["question_layers"]
    kinds, strict = meta["question_kinds"], meta["strict_questions"]
    if not isinstance(raw, list):
        bad("questions", f"expected a list of {len(layers)} questions")
        return []
    if len(raw) != len(layers):
        bad("questions", f"expected {len(layers)} questions, got {len(raw)}")
        return []
    out: list[Question] = []
    ok = True
    for i, (q, layer) in enumerate(zip(raw, layers)):
        f = f"questions[{i}]"
        if not isinstance(q, dict):
            bad(f, "expected {id, layer, text}")
            ok = False
            continue
        for key in q:
            if key not in QUESTION_KEYS:
                bad(f"{f}.{key}", f"unknown field (allowed: {', '.join(QUESTION_KEYS)})")
                ok = False
        qid, qlayer, text, kind = q.get("id"), q.get("layer"), q.get("text"), q.get("kind")
        if kinds is not None and kind not in kinds:
            bad(f"{f}.kind", f"expected one of {', '.join(kinds)}, got {kind!r}")
            ok = False
        elif kinds is None and kind is not None:
            bad(f"{f}.kind", "this suite declares no question_kinds in its suite.json")
            ok = False
        if qid != f"Q{i + 1}":
            bad(f"{f}.id", f"expected Q{i + 1}, got {qid!r}")
            ok = False
        if qlayer != layer or isinstance(qlayer, bool):
            bad(f"{f}.layer", f"expected layer {layer} (layers must be {'/'.join(str(layers.count(n)) for n in LAYERS)} for layers 1/2/3), got {qlayer!r}")
            ok = False
        if not isinstance(text, str) or not text.strip():
            bad(f"{f}.text", "expected non-empty text")
            ok = False
            continue
        text = text.strip()
        if not text.endswith("?"):
            bad(f"{f}.text", "expected a yes/no question ending with '?'")
            ok = False
        m = NEGATION.search(normalize(text))
        if m:
            bad(f"{f}.text", f"contains the negation {m.group(0)!r}; phrase it so that 'yes' is the correct behaviour")
            ok = False
        if strict:
            for pattern, why in ((HANDEDNESS, "asks which hand, foot or side of the body ({}); a mirrored scene flips it and "
                                              "judges are weak at it: ask about something both sides share"),
                                 (MOTIVE, "asks about a motive or state of mind ({}), which cannot be seen: ask about the "
                                          "visible order of events")):
                m = pattern.search(text)
                if m:
                    bad(f"{f}.text", why.format(repr(m.group(0))))
                    ok = False
        out.append(Question(f"Q{i + 1}", layer, text, kind))
    if not ok:
        return []
    threshold = STRICT_DUPLICATE_QUESTION_JACCARD if strict else DUPLICATE_QUESTION_JACCARD
    for i in range(len(out)):
        for j in range(i):
            a, b = content_words(out[i].text), content_words(out[j].text)
            if normalize(out[i].text) == normalize(out[j].text) or jaccard(a, b) >= threshold:
                bad(f"questions[{i}].text", f"asks nearly the same thing as {out[j].id} ({jaccard(a, b):.0%} of their content "
                                            "words shared): merge them, or ask about a fact a clip could get wrong on its own")
    return out
