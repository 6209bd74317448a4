#!/usr/bin/env python3
"""Alternates lowbit's JMH GEMM benchmarks with numpy/OpenBLAS on the same shapes and prints paired ratios.

Compute-bound runs on a shared machine flip between fast and slow states, so each round runs numpy_sgemm.py and then
the JMH benchmarks (DenseGemmBench, DenseLinearBench) at one thread count, back to back, and the ratio
lowbit GFLOP/s / OpenBLAS GFLOP/s is taken within the round; the summary gives the median over rounds.
The load average is printed before every run. Build first: ./lowbit mvn -B -q -pl jmh -am -DskipTests package

The baseline is OpenBLAS's fastest kernel on this machine: numpy runs once with the kernel OpenBLAS detects and,
when the CPU has AVX-512 but OpenBLAS chose another kernel family (OpenBLAS 0.3.31 runs Haswell/AVX2 kernels on
AMD Zen 5), once more with OPENBLAS_CORETYPE=SkylakeX; each product's ratio is taken against the faster of the two
(both are printed). --coretype default keeps only the detected kernel; --coretype NAME forces NAME.
Usage: python3 jmh/dense_vs_openblas.py [--threads 1,2] [--rounds 2] [--regex 'DenseGemmBench|DenseLinearBench']
                                         [--coretype auto|default|NAME] [-- extra JMH arguments, e.g. -p n=512]
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def numpy_run(threads, coretype=None):
    """{product: median GFLOP/s} and the kernel family OpenBLAS reported ("Core: ...")."""
    cmd = [sys.executable, os.path.join(here, "numpy_sgemm.py"), str(threads), "--reps", "5"]
    if coretype:
        cmd += ["--coretype", coretype]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    res = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"(.+?)\s+threads=\d+\s+best\s+([\d.]+) GFLOP/s\s+median\s+([\d.]+)", line)
        if m:
            res[m.group(1)] = float(m.group(3))
    core = re.search(r"Core:\s*(\S+)", proc.stdout + proc.stderr)
    return res, core.group(1) if core else "?"


def has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f " in f.read()
    except OSError:
        return False


def numpy_best(threads, mode):
    """Per product the faster of OpenBLAS's detected kernel and, where it matters, its SkylakeX (AVX-512) kernel."""
    if mode not in ("auto", "default"):
        res, core = numpy_run(threads, mode)
        return res, {k: core for k in res}, core
    res, core = numpy_run(threads)
    cores = {k: core for k in res}
    note = core
    if mode == "auto" and has_avx512() and core not in ("SkylakeX", "Cooperlake", "SapphireRapids"):
        forced, fcore = numpy_run(threads, "SkylakeX")
        note = f"detected {core}, also ran {fcore}; each product against the faster"
        for k, v in forced.items():
            if v > res.get(k, 0):
                res[k], cores[k] = v, fcore
    return res, cores, note


def jdk_home():
    """The JDK >= 25 that ./lowbit would use (bin/find-jdk.sh: $JAVA_HOME if it qualifies, else PATH, else /usr/lib/jvm...)."""
    finder = os.path.join(here, "..", "bin", "find-jdk.sh")
    return subprocess.run(["bash", "-c", f'source "{finder}" && lowbit_find_jdk >/dev/null && echo "$JAVA_HOME"'],
                          capture_output=True, text=True, check=True).stdout.strip()


def jmh_run(threads, regex, extra):
    java = os.path.join(jdk_home(), "bin", "java")
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    cmd = [java, "--add-modules=jdk.incubator.vector", "-jar", os.path.join(here, "target", "benchmarks.jar"), regex,
           "-p", f"threads={threads}", "-f", "1", "-wi", "2", "-w", "1", "-i", "3", "-r", "1", "-rf", "json", "-rff",
           path] + extra
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        results = json.load(f)
    os.unlink(path)
    res = {}
    for r in results:
        p = r.get("params") or {}
        ms = r["primaryMetric"]["score"]
        if "size" in p:
            s = int(p["size"])
            res[f"A@B {s}^3"] = 2.0 * s ** 3 / ms / 1e6
        elif "shape" in p and p.get("dtype", "F32") == "F32":
            out, inn = map(int, p["shape"].split("x"))
            n = int(p["n"])
            label = f"X[{n},{inn}]@W[{out},{inn}].T"
            if r["benchmark"].endswith("linear_packed"):
                label += " packed W"  # lowbit's pre-packed weight against the same numpy product
            res[label] = 2.0 * n * out * inn / ms / 1e6
    return res


def main():
    threads = [int(t) for t in arg("--threads", "1,2").split(",")]
    rounds = int(arg("--rounds", "2"))
    regex = arg("--regex", "DenseGemmBench|DenseLinearBench")
    mode = arg("--coretype", "auto")
    extra = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    ratios, lowbit, blas = {}, {}, {}
    for rnd in range(rounds):
        for t in threads:
            l0 = load()
            nb, cores, note = numpy_best(t, mode)
            l1 = load()
            lb = jmh_run(t, regex, extra)
            print(f"round {rnd + 1}, {t} thread(s), load {l0} (numpy) / {l1} (JMH); OpenBLAS kernels: {note}")
            for label in sorted(lb):
                base = label.removesuffix(" packed W")
                if base in nb:
                    key = (label, t)
                    ratios.setdefault(key, []).append(lb[label] / nb[base])
                    lowbit.setdefault(key, []).append(lb[label])
                    blas.setdefault(key, []).append(nb[base])
                    print(f"  {label:<37} lowbit {lb[label]:7.1f}  OpenBLAS {nb[base]:7.1f} GFLOP/s ({cores[base]})"
                          f"  ratio {lb[label] / nb[base]:.2f}")
            sys.stdout.flush()
    print("\nsummary (medians over rounds)")
    print(f"{'product':<37} {'thr':>3} {'lowbit GFLOP/s':>15} {'OpenBLAS':>9} {'ratio':>6}  per round")
    for key in sorted(ratios, key=lambda k: (k[1], k[0])):
        rs = ratios[key]
        print(f"{key[0]:<37} {key[1]:>3} {statistics.median(lowbit[key]):>15.1f} {statistics.median(blas[key]):>9.1f} "
              f"{statistics.median(rs):>6.2f}  {' '.join(f'{r:.2f}' for r in rs)}")


if __name__ == "__main__":
    main()
