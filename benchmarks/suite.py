"""The benchmark suite behind ``make bench``: every row a ratio measured in one run against its reference.

Writes ``benchmarks/report.md`` (a table) and ``benchmarks/report.csv`` (one row per check). A check that cannot
run here (no CUDA device, latentis not installed) is a row marked "not measured" with the reason,
and the suite still passes. ``--quick`` runs every check at tiny sizes (a smoke run: the ratios mean nothing).

    .venv/bin/python benchmarks/suite.py            # full sizes (about 15-25 min on 2 cores)
    .venv/bin/python benchmarks/suite.py --quick    # seconds to minutes
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLUMNS = ("area", "check", "ours_s", "reference", "reference_s", "ratio", "target", "status", "note")


@dataclass
class Row:
    area: str
    check: str
    ours_s: float | None = None
    reference: str = ""
    reference_s: float | None = None
    ratio: float | None = None
    target: str = ""
    status: str = "not measured"
    note: str = ""


def _verdict(ratio: float | None, limit: float | None) -> str:
    if ratio is None:
        return "not measured"
    if limit is None:
        return "measured"
    return "met" if ratio <= limit else "not met"


def core_rows(quick: bool) -> list[Row]:
    from benchmarks import core_speed

    rows = []
    sizes = [(2000, 96, 64)] if quick else [(200_000, 768, 1536), (100_000, 384, 1000)]
    for n, d, k in sizes:
        result = core_speed.relative_ratios(n, d, k, repeats=2 if quick else 11)  # 5 left +-5% noise
        seconds = result["seconds"]
        check = f"relative projection, {n:,} x {d} vs {k:,} anchors"
        rows.append(Row("core", check, seconds["ours"], "bare torch normalise + matmul", seconds["bare"],
                        result["ratio_vs_bare"], "<= 1.05", _verdict(result["ratio_vs_bare"], 1.05),
                        f"max abs diff {result['max_abs_diff_vs_bare']:.1e}"))
        if result["ratio_vs_latentis"] is None:
            rows.append(Row("core", check, seconds["ours"], "latentis cosine_proj",
                            note=f"latentis unavailable: {result['latentis_note']} "
                                 "(pip install -r benchmarks/requirements-bench.txt)"))
        else:
            rows.append(Row("core", check, seconds["ours"], "latentis cosine_proj", seconds["latentis"],
                            result["ratio_vs_latentis"], "<= 1.00", _verdict(result["ratio_vs_latentis"], 1.0)))
    fits = core_speed.translator_fit_ratios(**({"n": 200, "d_source": 32, "d_target": 32, "d_linear_target": 16}
                                                if quick else {}), repeats=2 if quick else 5)
    for name, fit in fits.items():
        rows.append(Row("core", f"{name} fit, {fit['n']} pairs", fit["seconds"]["ours"], fit["reference"],
                        fit["seconds"]["reference"], fit["ratio"], "equal to 1e-4",
                        "met" if fit["max_abs_diff"] <= 1e-4 else "not met (results differ)",
                        f"max abs diff {fit['max_abs_diff']:.1e}"))
    memory = core_speed.peak_memory(*((20_000, 64, 50) if quick else (1_000_000, 384, 1000)))
    rows.append(Row("core", f"peak memory, relative projection {memory['n']:,} x {memory['d']} vs {memory['k']}",
                    None, "output + one chunk (MiB)", None, memory["ratio"], "<= 1.05",
                    _verdict(memory["ratio"], 1.05),
                    f"+{memory['increase_mib']:.0f} MiB vs {memory['bound_mib']:.0f} MiB"
                    + ("" if memory["resolved"] else " (upper bound)")))
    return rows


def map_rows(quick: bool) -> list[Row]:
    from benchmarks import maps_speed

    n = 300 if quick else None
    rows = []
    for kind, reference in (("umap", "bare umap-learn fit(rel A) + transform(rel B)"),
                            ("tsne", "bare openTSNE fit(rel A) + transform(rel B)")):
        result = maps_speed.redraw_vs_bare(kind, n=n)
        rows.append(Row("maps", f"{kind} redraw after an anchor-count change (warm process)", result["explorer_s"],
                        reference, result["bare_s"], result["ratio"], "<= 0.25", _verdict(result["ratio"], 0.25),
                        f"+{result['views_s']:.2f} s for the new relative views"))
    first = maps_speed.first_vs_warm_umap(n)
    rows.append(Row("maps", "first UMAP in a new process (numba cache on disk)", first["first_s"],
                    "the same UMAP, warm", first["warm_s"], first["ratio"], "<= 2", _verdict(first["ratio"], 2.0)))
    return rows


def stitching_rows(quick: bool) -> list[Row]:
    from benchmarks import stitching_speed

    if quick:
        a, b, labels = stitching_speed.synthetic_inputs()
        sizes = {"n_anchors": 30, "test_size": 100, "seeds": (0,)}
    else:
        a, b, labels = stitching_speed.default_inputs()
        sizes = {}
    result = stitching_speed.table_vs_head_fits(a, b, labels, before=False, **sizes)
    return [Row("stitching", f"stitching table ({result['runs']} runs, {result['head_fits']} head fits)",
                result["table_s"], "bare sum of its head fits", result["head_fits_s"], result["ratio"], "<= 1.3",
                _verdict(result["ratio"], 1.3))]


def encoding_rows(quick: bool) -> list[Row]:
    from benchmarks import encoding_speed

    encode = encoding_speed.encoding_overhead(quick=quick)
    hit = encoding_speed.cache_hit_speedup(quick=quick, encode_s=encode["ours_s"])
    return [
        Row("encoding", f"embed_dataset, cache miss, {encode['n']} BBC articles (MiniLM)", encode["ours_s"],
            "direct sentence-transformers encode", encode["reference_s"], encode["ratio"], "<= 1.05",
            _verdict(encode["ratio"], 1.05), f"max abs diff {encode['max_abs_diff']:.1e}"),
        Row("encoding", f"embed_dataset, cache hit, {hit['n']} articles", hit["ours_s"], "encoding them",
            hit["reference_s"], hit["ratio"], "<= 0.02 (50x faster)", _verdict(hit["ratio"], 0.02),
            f"{hit['speedup']:,.0f}x faster"),
    ]


def metric_rows(quick: bool) -> list[Row]:
    from benchmarks import metrics_speed

    r = metrics_speed.knn_metrics_vs_bare(quick=quick)
    return [Row("metrics", f"mutual k-NN + Jaccard@{r['k']}, N = {r['n']:,} x {r['d']}", r["ours_s"],
                "bare torch: blocked matmul + topk once per space, overlap by sorting", r["bare_s"], r["ratio"],
                "<= 1.1", _verdict(r["ratio"], 1.1) if r["values_equal"] else "not met (values differ)",
                f"values equal (mutual k-NN {r['mutual_knn']:.4f}); peak +{r['peak_mb']['ours']:.0f} MiB, an N x N "
                f"matrix would be {r['n_by_n_float32_mb']:,} MiB")]


def app_rows(quick: bool) -> list[Row]:
    from benchmarks import first_chart

    r = first_chart.first_chart_vs_bare(repeat=1 if quick else 3, quick=quick)
    return [Row("app", "time to first chart from a warm cache (python -m app.launch, headless Chromium)", r["ours_s"],
                "bare Streamlit page with one Plotly scatter of 2,225 points (the app's trace type)", r["ref_s"],
                r["ratio"], "<= 2",
                _verdict(r["ratio"], 2.0), "process start to the first drawn chart; medians of alternating launches")]


def gpu_rows(quick: bool) -> list[Row]:
    import torch

    checks = ("relative projection", "translation (Procrustes transform)")
    if not torch.cuda.is_available():
        return [Row("gpu", f"{check} vs the device's matmul throughput",
                    note="no CUDA device here (run benchmarks/gpu.sh on a GPU machine)") for check in checks]
    from benchmarks import device_speed

    results = device_speed.device_ratios("cuda", quick=quick)
    rows = []
    for check, key in zip(checks, ("relative", "translation"), strict=True):
        r = results[key]
        rows.append(Row("gpu", f"{check}, {r['n']:,} x {r['d']} -> {r['k']} on {torch.cuda.get_device_name(0)}",
                        r["ours_s"], "bare matmul of the same shape on the device", r["bare_s"], r["ratio"],
                        "", "smoke run" if quick else "measured",
                        f"{r['ours_tflops']:.1f} vs {r['bare_tflops']:.1f} TFLOP/s; max abs diff "
                        f"{r['max_abs_diff']:.1e}"))
    return rows


def batch_rows(quick: bool) -> list[Row]:
    """Ray + Lance batch pipeline at 20k rows (the 1M-row translate is in ``make bench-batch`` only)."""
    from benchmarks import batch_speed

    report = batch_speed.run(quick=quick, translate_rows=None if quick else (20_000,),
                             encode_rows=None if quick else 20_000)
    rows = []
    for r in report["translate"]:
        rows.append(Row("batch", f"translate_table {r['rows']:,} x 384 -> 768 (Procrustes, local Ray, "
                                 f"{r['actors']} actors, batch {r['batch_size']})", r["ours_s"],
                        "bare numpy x @ W + b in the driver (scaling folded)", r["bare_s"], r["ratio"],
                        ">= 0.5 (rows/s ours / bare)", ("met" if r["ratio"] >= 0.5 else "not met")
                        if r["check"]["max_abs_diff"] <= 1e-5 else "not met (results differ)",
                        f"{r['ours_rows_per_s']:,.0f} vs {r['bare_rows_per_s']:,.0f} rows/s; peak RSS per worker "
                        f"{batch_speed._workers(r)} MiB"))
    for r in report["encode"]:
        rows.append(Row("batch", f"encode {r['rows']:,} BBC sentences ({r['encoder']}, local Ray)", r["ours_s"],
                        "bare encoder.encode in the driver", r["bare_s"], r["ratio"], "", "measured",
                        f"{r['ours_rows_per_s']:,.0f} vs {r['bare_rows_per_s']:,.0f} rows/s (ratio = rows/s ours / "
                        f"bare); max abs diff {r['max_abs_diff']:.1e}"))
    return rows


SECTIONS: dict[str, Callable[[bool], list[Row]]] = {
    "core": core_rows, "metrics": metric_rows, "maps": map_rows, "stitching": stitching_rows,
    "encoding": encoding_rows, "app": app_rows, "gpu": gpu_rows, "batch": batch_rows,
}


def run(sections: list[str], quick: bool) -> list[Row]:
    rows: list[Row] = []
    for name in sections:
        started = time.perf_counter()
        try:
            rows.extend(SECTIONS[name](quick))
        except Exception as error:  # noqa: BLE001 - one broken check is a row, not a lost report
            traceback.print_exc()
            rows.append(Row(name, f"section {name}", status="failed", note=f"{type(error).__name__}: {error}"))
        print(f"[suite] {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if quick:  # tiny sizes say nothing about the targets
        for row in rows:
            if row.status in ("met", "not met"):
                row.status = "smoke run"
    return rows


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.3g}" if isinstance(value, float) else str(value).replace("|", "/")


def markdown(rows: list[Row], quick: bool) -> str:
    import torch

    lines = [
        "# Benchmark report",
        "",
        f"Written by `make bench` (`benchmarks/suite.py{' --quick' if quick else ''}`) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
        f"{', CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else ', no CUDA device'}.",
        "Each ratio is ours / reference, both measured in this run (the machine is shared: read ratios, not seconds).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_cell(getattr(row, c)) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated of {', '.join(SECTIONS)}")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "report"), help="path stem for .md and .csv")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    rows = run(sections, args.quick)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(markdown(rows, args.quick), encoding="utf-8")
    with out.with_suffix(".csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
    print(out.with_suffix(".md").read_text(encoding="utf-8"))
    return 1 if any(row.status == "failed" for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
