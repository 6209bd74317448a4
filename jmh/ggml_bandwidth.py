#!/usr/bin/env python3
"""Prints ggml GEMV results (GgmlGemvBench) as % of the streaming-read bandwidth measured in the same run.

% = (weight bytes / time) / (256 MiB / stream_read_256MiB time), weight bytes = rows*cols/block elements * block bytes (the
standard ggml size, also for the interleaved storage); also each variant's speed-up over Jlama's best Q4 path.
Usage: python3 jmh/ggml_bandwidth.py result.json [--percentile P]
With --percentile (a run in sample mode, -bm sample), each time is that percentile of the samples instead of the mean:
on a loaded machine the low percentiles (0 = the fastest op, 50 = the median) say what the code does when it gets the
cores.
"""
import json
import sys

# (elements per block, bytes per block) of ggml-common.h
BLOCKS = {"Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24), "Q8_0": (32, 34),
          "Q2_K": (256, 84), "Q3_K": (256, 110), "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210)}


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        results = json.load(f)
    pct = None
    if "--percentile" in sys.argv:
        pct = sys.argv[sys.argv.index("--percentile") + 1]
    runs = {}
    for r in results:
        method = r["benchmark"].rsplit(".", 1)[-1]
        p = r.get("params") or {}
        key = (p.get("shape", "4096x14336"), p.get("type"), p.get("threads"))
        pm = r["primaryMetric"]
        score = pm["score"] if pct is None else pm["scorePercentiles"][str(float(pct))]
        scale = {"ms/op": 1.0, "us/op": 1e-3, "s/op": 1e3, "ns/op": 1e-6}[pm["scoreUnit"]]
        runs.setdefault(key, {})[method] = score * scale  # ms/op
    print(f"{'shape':<12} {'type':<5} {'thr':>3} {'variant':<20} {'ms':>8} {'GB/s':>7} {'% bw':>6} {'vs jlama':>8}")
    for (shape, typ, thr), m in sorted(runs.items()):
        stream = m.get("stream_read_256MiB")
        rows, cols = (int(v) for v in shape.split("x"))
        wbytes = rows * cols / BLOCKS[typ][0] * BLOCKS[typ][1]
        jl = min([m[k] for k in ("gemv_jlamaI8", "gemv_jlamaF32") if k in m] or [float("nan")])
        for name, ms in sorted(m.items()):
            if name == "stream_read_256MiB":
                gbs = (256 << 20) / (ms / 1e3) / 1e9
                print(f"{shape:<12} {typ:<5} {thr:>3} {name:<20} {ms:8.3f} {gbs:7.1f} {'':>6} {'':>8}")
                continue
            gbs = wbytes / (ms / 1e3) / 1e9
            pct = 100 * gbs / ((256 << 20) / (stream / 1e3) / 1e9) if stream else float("nan")
            vs = jl / ms
            print(f"{shape:<12} {typ:<5} {thr:>3} {name:<20} {ms:8.3f} {gbs:7.1f} {pct:6.0f} {vs:8.2f}")


if __name__ == "__main__":
    main()
