#!/usr/bin/env python3
"""Prints GEMV speed as % of the streaming-read bandwidth measured in the same JMH run.

Pairs each `<bench>.gemv_simd` (and `gemv_scalar`) result with the `stream_read_256MiB` result of the same parameters:
% = (bytes the GEMV reads / its time) / (256 MiB / stream time). The bytes come from the command line, one
`layout=BYTES` per layout, or `layout@shape=BYTES` when several shapes ran (the benchmarks print the bytes at setup as
"... bytes read per GEMV").
Usage: python3 jmh/bandwidth.py result.json int4_g128_asym_f16@4096x14336=31653888 nf4_b64=33030144 ...
"""
import json
import sys


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        results = json.load(f)
    nbytes = dict(a.split("=") for a in sys.argv[2:])
    stream, gemv = {}, []
    for r in results:
        method = r["benchmark"].rpartition(".")[2]
        params = r.get("params") or {}
        key = tuple(sorted(params.items()))
        ms = r["primaryMetric"]["score"]
        if method == "stream_read_256MiB":
            stream[key] = ms
        elif method.startswith("gemv_"):
            gemv.append((method, params, key, ms))
    print(f"{'layout':<22} {'shape':<12} {'thr':>3} {'variant':<12} {'ms':>9} {'GB/s':>7} {'stream GB/s':>11} {'% bw':>6}")
    for method, params, key, ms in sorted(gemv, key=lambda g: (g[1].get("layout", ""), g[1].get("shape", ""), g[1].get("threads", ""), g[0])):
        layout = params.get("layout", params.get("type", "?"))
        b = nbytes.get(layout + "@" + params.get("shape", ""), nbytes.get(layout))
        if b is None or key not in stream:
            continue
        gbs = int(b) / ms / 1e6
        sgbs = (256 << 20) / stream[key] / 1e6
        print(f"{layout:<22} {params.get('shape', ''):<12} {params.get('threads', ''):>3} {method:<12} {ms:>9.3f} {gbs:>7.2f} {sgbs:>11.2f} {100 * gbs / sgbs:>5.0f}%")


if __name__ == "__main__":
    main()
