"""The gate: limits the user sets, and the targets the project holds itself to.

A violation is one line, `GATE <artifact>: <figure> <value> breaks <limit>` (for the
latency, which depends on the thread count, `GATE <artifact> <threads>t: ...`),
for each artifact (the eager reference is what artifacts are held against,
so it is never gated). A row that failed a check (❎) is always a violation:
an artifact that does not do what its manifest claims must not pass quietly.
Rows that cannot run here (⏭) have no figures to gate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from melanoma import config_checks as checks
from melanoma.benchmarks.timing import PREEMPTED_BELOW
from melanoma.errors import on_one_line


@dataclass(frozen=True)
class GateLimits:
    max_auc_drop: float | None = None  # fail if reference AUC - artifact AUC exceeds this
    min_agreement: float | None = None  # fail if the same-decision fraction is below this
    max_latency_ms: float | None = None  # fail if batch-1 p50 latency exceeds this
    # fail if reference accuracy - artifact accuracy (at the threshold) exceeds this
    max_accuracy_drop: float | None = None
    # fail if no int8 artifact ran: drift limits held by float files alone measure no drift
    require_int8: bool = False
    # fail if any test image's P(melanoma) moved more than this from the float model's.
    # Agreement and accuracy count decisions at one threshold, and AUC only ranks: logits
    # squeezed towards that threshold keep all three, yet move every score band edge the
    # app shows and every other threshold's decisions.
    max_abs_dprob: float | None = None

    def __post_init__(self) -> None:
        # NaN compares false with everything, so a NaN limit would pass every row; a
        # negative drop or an agreement above 1 would fail every row.
        given = sorted(name for name, limit in self.numeric().items() if limit is not None)
        checks.fraction(self, *(n for n in given if n != "max_latency_ms"))
        checks.non_negative(self, *(n for n in given if n == "max_latency_ms"), allow_zero=False)

    def as_dict(self) -> dict[str, float | bool | None]:
        return dataclasses.asdict(self)

    def numeric(self) -> dict[str, float | None]:
        return {k: v for k, v in self.as_dict().items() if k != "require_int8"}

    def any(self) -> bool:
        return self.require_int8 or any(v is not None for v in self.numeric().values())


def violations(
    rows: list[dict], limits: GateLimits, shown: Callable[[str], str] = str
) -> list[str]:
    """One line per broken limit per artifact (per row for the latency), in row order; with
    limits set and no artifact that ran here, or --require-int8 and no int8 one, a line
    saying so. `shown` writes the artifact names and reasons the lines quote (report.md's
    md_text), the rest being the gate's own words and figures."""
    lines = []
    ran = _ran_here(rows)
    if limits.any() and not ran:
        lines.append("GATE: no artifact could run here, so none was held to the limits")
    elif limits.require_int8 and not any(row["precision"] == "int8" for row in ran):
        lines.append("GATE: no int8 artifact ran here, so quantization drift was not measured")
    said = set()
    for row in ran:
        broken = _broken(row, limits)
        if row["name"] not in said:  # status and accuracy figures: one per artifact, not thread
            said.add(row["name"])
            where = f"GATE {shown(row['name'])}:"
            if row["status"] == "failed":
                reasons = shown("; ".join(row["reasons"]))
                lines.append(f"{where} status failed breaks verified ({reasons})")
            lines += [f"{where} {text}" for figure, text in broken if figure != LATENCY]
        where = f"GATE {shown(row['name'])} {row['threads']}t:"
        lines += [f"{where} {text}" for figure, text in broken if figure == LATENCY]
    return lines


def passed_text(limits: GateLimits, rows: list[dict]) -> str:
    """The line a passed gate prints: each limit it held, and the rows of each precision."""
    # `is not None`: 0 is a limit too
    held = [f"--{k.replace('_', '-')} {v:g}" for k, v in limits.numeric().items() if v is not None]
    held += ["--require-int8"] * limits.require_int8
    precisions = [row["precision"] for row in _ran_here(rows)]
    counts = ", ".join(f"{precisions.count(p)} {p}" for p in sorted(set(precisions)))
    return f"gate passed: every runnable artifact row ({counts}) held to {', '.join(held)}"


def _ran_here(rows: list[dict]) -> list[dict]:
    """The artifact rows (not eager PyTorch's) whose runtime exists on this machine."""
    return [r for r in rows if r["target"] != "pytorch" and r["status"] != "not_runnable"]


# Figures are counts over images (accuracy in 1/600 steps, AUC in 1/90000): 476/600 -
# 473/600 is 0.0050000000000000044 in floating point, so a drop of exactly the limit
# failed. Any real step past a limit is 1e-5 or more, far above this.
ROUNDING = 1e-9


def _past(value: float, limit: float, op: str) -> bool:
    """True when value breaks `op limit` ("<=" or ">=") by more than float rounding."""
    return value > limit + ROUNDING if op == "<=" else value < limit - ROUNDING


def number(value: float, digits: int = 6) -> str:
    """Six significant digits: a figure that counts images (AUC in 1/90000 steps on 600
    images) breaking its limit never prints as the limit with these (0.00504 vs 0.005)."""
    return f"{value + 0.0:.{digits}g}"  # + 0.0 turns -0.0 into 0


def value_and_limit(value: float, limit: float, op: str) -> tuple[str, str]:
    """Both with six significant digits, or more where six would print a value past its
    limit as the limit itself (a latency is continuous: 1.0000004 ms against 1 ms). A value
    equal to its limit up to float rounding passes, and prints as the limit."""
    for digits in (6, 9, 12, 17):  # 17 tells any two distinct doubles apart
        shown = number(value, digits), number(limit, digits)
        if shown[0] != shown[1] or not _past(value, limit, op):
            break
    return shown


def _drop(delta: float | None) -> float | None:
    return None if delta is None else -delta


LATENCY = "latency_p50_ms"  # the one gated figure that depends on the thread count


def _broken(row: dict, limits: GateLimits) -> list[tuple[str, str]]:
    """(figure, "figure value breaks limit") for each limit the row breaks."""
    checks = [  # (figure, value, limit, what the value must stay)
        ("auc_drop", _drop(row["delta_auc"]), limits.max_auc_drop, "<="),
        ("agreement", row["agreement"], limits.min_agreement, ">="),
        ("accuracy_drop", _drop(row["delta_accuracy"]), limits.max_accuracy_drop, "<="),
        (LATENCY, row["latency_ms"]["p50"], limits.max_latency_ms, "<="),
        ("max_abs_dprob", row["max_abs_dprob"], limits.max_abs_dprob, "<="),
    ]
    return [
        (figure, "{} {} breaks {}".format(figure, *value_and_limit(value, limit, op)))
        for figure, value, limit, op in checks
        if limit is not None and value is not None and _past(value, limit, op)
    ]


# The targets: reported, never gated (a shared CI machine's timings are too noisy).
SPEEDUP_LIMIT = 0.25  # int8 .pte p50 at 1 thread <= 1/4 of eager fp32 p50
MIN_RUNS_TO_JUDGE = 20  # timed calls of each side before the speed target is judged
# float AUC - int8 AUC; a gain is no failure (the agreement target catches drift)
QUANT_MAX_AUC_DROP = 0.005
QUANT_MIN_AGREEMENT = 0.99


def targets(rows: list[dict]) -> list[dict]:
    """Each target as {name, value, limit, met}; value and met are None when not measurable."""
    one = [r for r in rows if r["threads"] == 1]
    eager = [r for r in one if r["target"] == "pytorch" and r["latency_ms"]["p50"]]
    pte = [
        r
        for r in one
        if r["target"] == "executorch" and r["precision"] == "int8" and r["latency_ms"]["p50"]
    ]
    slowest = max(pte, key=lambda r: r["latency_ms"]["p50"], default=None)
    ratio = by_round = disturbed = None
    if slowest and eager:
        ratio = slowest["latency_ms"]["p50"] / eager[0]["latency_ms"]["p50"]
        by_round = _ratio_by_round(slowest, eager[0])
        disturbed = [r["name"] for r in (slowest, eager[0]) if _preempted(r)]
    runnable = _ran_here(rows)
    int8 = [r for r in runnable if r["precision"] == "int8" and r["delta_auc"] is not None]
    worst_drop = max((-r["delta_auc"] for r in int8), default=None)
    unverified = {r["name"] for r in runnable if r["status"] != "verified"}  # rows: per thread
    worst_agree = min((r["agreement"] for r in int8), default=None)
    speedup = _target(
        "int8 .pte p50 / eager fp32 p50, 1 thread", ratio, SPEEDUP_LIMIT, "<=", by_round
    )
    if disturbed:
        # A preempted timing can flatter either side of the ratio: report it, judge nothing.
        caveat = f"{', '.join(disturbed)} timed while preempted (CPU/wall < {PREEMPTED_BELOW:g})"
        speedup.update(met=None, caveat=caveat)
    elif ratio is not None and min(slowest["runs"], eager[0]["runs"]) < MIN_RUNS_TO_JUDGE:
        # --runs 1 judged the target on one call each, cache misses and all.
        fewest = min(slowest["runs"], eager[0]["runs"])
        caveat = f"only {fewest} timed call(s); judged from {MIN_RUNS_TO_JUDGE} or more"
        speedup.update(met=None, caveat=caveat)
    return [
        speedup,
        _target(
            "artifacts not verified (runnable here)",
            len(unverified) if runnable else None,
            0,
            "<=",
        ),
        _target(
            "int8 worst AUC drop vs float (negative: int8 higher)",
            worst_drop,
            QUANT_MAX_AUC_DROP,
            "<=",
        ),
        _target("int8 worst decision agreement", worst_agree, QUANT_MIN_AGREEMENT, ">="),
    ]


def _preempted(row: dict) -> bool:
    return row["cpu_per_wall"] is not None and row["cpu_per_wall"] < PREEMPTED_BELOW


def target_text(target: dict, shown: Callable[[str], str] = on_one_line) -> str:
    """One target as a line: name, value, limit, verdict, rounds and any caveat, which
    `shown` writes (report.md's md_text): it names preempted artifacts by their files."""
    value, limit = "-", number(target["limit"])
    if target["value"] is not None:
        value, limit = value_and_limit(target["value"], target["limit"], target["op"])
    verdict = {True: "met", False: "NOT met", None: "not judged"}[target["met"]]
    if target["value"] is None:
        verdict = "not measured"
    by_round = target.get("by_round") or ()
    rounds = (
        f", rounds {number(min(by_round))}-{number(max(by_round))}" if len(by_round) > 1 else ""
    )
    caveat = f"; {shown(target['caveat'])}" if target.get("caveat") else ""
    # a caveat names preempted artifacts by their files: report.md's ## Targets and the
    # terminal show a name's line breaks and escapes, as the table and notes do
    return on_one_line(
        f"{target['name']} {value} {target['op']} {limit}: {verdict}{rounds}{caveat}"
    )


def _ratio_by_round(row: dict, reference: dict) -> list[float] | None:
    """The ratio within each round, where both were timed in one pass, seconds apart."""
    ours, theirs = row.get("p50_by_round_ms"), reference.get("p50_by_round_ms")
    if not ours or not theirs or len(ours) != len(theirs) or min(theirs) <= 0:
        return None
    return [a / b for a, b in zip(ours, theirs, strict=True)]


def _target(name: str, value, limit: float, op: str, by_round=None) -> dict:
    met = None if value is None else not _past(value, limit, op)
    return {"name": name, "value": value, "limit": limit, "op": op, "met": met,
            "by_round": by_round, "caveat": None}  # fmt: skip
