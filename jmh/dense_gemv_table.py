#!/usr/bin/env python3
"""Prints the DenseGemvBench table: GB/s of W read, % of the streaming-read baseline of the same run (same thread
count), and the F16/BF16 speed-up over F32 on the same shape and thread count.
Usage: python3 jmh/dense_gemv_table.py result.json
"""
import json
import sys


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        results = json.load(f)
    gemv, stream = {}, {}
    for r in results:
        method = r["benchmark"].rpartition(".")[2]
        p = r.get("params") or {}
        ms = r["primaryMetric"]["score"]
        key = (p["shape"], p["dtype"], int(p["threads"]), p.get("weights", "uniform"))
        (stream if method == "streamRead" else gemv)[key] = ms
    print(f"{'shape':<11} {'thr':>3} {'weights':<8} {'dtype':<5} {'ms':>8} {'GB/s':>6} {'stream GB/s':>11} {'% stream':>8}"
          f" {'vs F32':>6}")
    for (shape, dtype, t, w), ms in sorted(gemv.items(),
                                           key=lambda kv: (kv[0][0], kv[0][2], kv[0][3], kv[0][1] != "F32", kv[0][1])):
        out, inn = map(int, shape.split("x"))
        nbytes = out * inn * (4 if dtype == "F32" else 2)
        gbs = nbytes / ms / 1e6
        s = stream.get((shape, dtype, t, w))
        sgbs = (1 << 28) / s / 1e6 if s else float("nan")
        f32 = gemv.get((shape, "F32", t, w))
        print(f"{shape:<11} {t:>3} {w:<8} {dtype:<5} {ms:>8.2f} {gbs:>6.1f} {sgbs:>11.1f} {100 * gbs / sgbs:>7.0f}% "
              f"{(f32 / ms if f32 else float('nan')):>6.2f}")


if __name__ == "__main__":
    main()
