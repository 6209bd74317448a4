#!/usr/bin/env python3
"""Prints speed ratios from a JMH JSON result (java -jar benchmarks.jar ... -rf json -rff result.json).

Benchmarks named NAME_simd / NAME_scalar (or NAME_<variant> / NAME_<baseline> given with --baseline) that share
their parameters are paired, and the ratio baseline_time / variant_time is printed: how many times faster the
variant ran than its baseline in the same run. A benchmark whose secondary results include lowbitMs and
<baseline>Ms (an alternating benchmark, e.g. MiniLmEmbedBench.alternating) gets the ratio <baseline>Ms / lowbitMs.
Usage: python3 jmh/ratios.py result.json [--baseline scalar]
"""
import json
import sys


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    path = sys.argv[1]
    baseline = "scalar"
    if "--baseline" in sys.argv:
        baseline = sys.argv[sys.argv.index("--baseline") + 1]
    with open(path) as f:
        results = json.load(f)
    rows = {}
    for r in results:
        sec = r.get("secondaryMetrics") or {}
        if "lowbitMs" in sec and baseline + "Ms" in sec:
            p = ",".join(f"{k}={v}" for k, v in sorted((r.get("params") or {}).items()))
            lb, bl = sec["lowbitMs"]["score"], sec[baseline + "Ms"]["score"]
            print(f"{r['benchmark'].rsplit('.', 2)[-2] + '.' + r['benchmark'].rsplit('.', 1)[-1]:<40} {p:<36}"
                  f" alternating: lowbit {lb:.1f} ms, {baseline} {bl:.1f} ms summed over the measurement iterations, ratio {bl / lb:.2f}x")
            continue
        cls, _, method = r["benchmark"].rpartition(".")
        name, _, variant = method.rpartition("_")
        params = tuple(sorted((r.get("params") or {}).items()))
        score = r["primaryMetric"]["score"]
        err = r["primaryMetric"].get("scoreError", float("nan"))
        unit = r["primaryMetric"]["scoreUnit"]
        rows.setdefault((cls.rsplit(".", 1)[-1], name, params), {})[variant] = (score, err, unit)
    print(f"{'benchmark':<40} {'params':<36} {'variant':>10} {'score':>14} {'baseline':>14} {'ratio':>8}")
    for (cls, name, params), variants in sorted(rows.items()):
        if baseline not in variants:
            continue
        b_score, _, unit = variants[baseline]
        throughput = "/" in unit and not unit.startswith(("ns", "us", "ms", "s/"))
        for variant, (score, err, _) in sorted(variants.items()):
            if variant == baseline:
                continue
            ratio = score / b_score if throughput else b_score / score
            p = ",".join(f"{k}={v}" for k, v in params)
            print(f"{cls + '.' + name:<40} {p:<36} {variant:>10} {score:>10.3f} {unit:<3} {b_score:>10.3f} {ratio:>7.2f}x")


if __name__ == "__main__":
    main()
