#!/usr/bin/env python3
"""Times numpy's float32 matrix products (OpenBLAS sgemm) for the shapes of DenseGemmBench / DenseLinearBench.

Usage: python3 jmh/numpy_sgemm.py THREADS [--reps R] [--coretype NAME]
The thread count must be fixed before numpy loads OpenBLAS, so run one process per thread count (threadpoolctl
is used instead when it is installed). Prints the best and median GFLOP/s over R timed repetitions after a warm-up,
and first the kernel family OpenBLAS chose ("Core: ...", from OPENBLAS_VERBOSE=2, printed by OpenBLAS itself).
Without --coretype OpenBLAS picks its kernel from the CPU; --coretype (e.g. SkylakeX) sets OPENBLAS_CORETYPE, which
matters where its detection falls short (OpenBLAS 0.3.31 runs its AVX2 Haswell kernels on AMD Zen 5, which has
AVX-512). Unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in the calling shell otherwise.
"""
import os
import sys
import time

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 5
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(threads)
if "--coretype" in sys.argv:
    os.environ["OPENBLAS_CORETYPE"] = sys.argv[sys.argv.index("--coretype") + 1]
os.environ["OPENBLAS_VERBOSE"] = "2"

import numpy as np  # noqa: E402  (after the environment is set)

try:
    from threadpoolctl import threadpool_limits
    limiter = threadpool_limits(limits=threads)
except ImportError:
    limiter = None


def bench(label, a, b, flops):
    a @ b  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    times.sort()
    best, med = flops / times[0] / 1e9, flops / times[len(times) // 2] / 1e9
    print(f"{label:<28} threads={threads}  best {best:7.1f} GFLOP/s  median {med:7.1f} GFLOP/s  ({times[0]*1e3:.1f} ms)")


rng = np.random.default_rng(7)
for size in (1024, 2048):
    a = rng.random((size, size), dtype=np.float32) - 0.5
    b = rng.random((size, size), dtype=np.float32) - 0.5
    bench(f"A@B {size}^3", a, b, 2.0 * size ** 3)
for out, inn in ((4096, 4096), (11008, 4096), (4096, 14336)):
    w = rng.random((out, inn), dtype=np.float32) - 0.5
    for n in (1, 8, 512):
        x = rng.random((n, inn), dtype=np.float32) - 0.5
        bench(f"X[{n},{inn}]@W[{out},{inn}].T", x, w.T, 2.0 * n * out * inn)
