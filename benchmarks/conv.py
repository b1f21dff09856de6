"""Image layer speed: ``SteerableConv2d`` of D4 field types against ``torch.nn.Conv2d`` of the same shape.

Three cases, each a 5×5 kernel with padding 2 on 64×64 images, batch 32, float32:

- regular: 16 regular fields → 16 regular fields (128 → 128 channels);
- trivial: 128 scalar fields → 128 scalar fields (a D4-invariant kernel per channel pair);
- lifting: 3 scalar fields → 16 regular fields (3 → 128 channels).

Each is timed against ``torch.nn.Conv2d(c_in, c_out, 5, padding=2)`` (both
with a bias) in two modes:

- train: forward + backward (``y.backward(g)`` for a fixed g; gradients of the
  parameters and of the input); ours assembles its kernel from the
  coefficients on every call;
- eval: forward under ``torch.no_grad()`` in eval mode (our kernel cached).

The two layers are called interleaved in one run, the order flipped every
repetition (ours, Conv2d, Conv2d, ours, ...), after --warmup untimed pairs,
one call per sample, until --reps pairs or --max-seconds have passed (at least
--min-reps pairs): median and p10/p90 per side, and the ratio of the medians,
ours/Conv2d (and of the p10s: on a machine shared with other jobs the fast
calls are the ones that ran alone). Beside them: the layer's free
coefficients against Conv2d's parameters, the kernel assembly alone (forward;
forward + backward, as a training step pays it) and the equivariance error
on the grid's elements.

One JSON line per case and mode goes to stdout (and is appended to --out),
with the load average (``os.getloadavg()``) at the start and end of the
mode: other jobs on the machine slow both sides alike, but widen p10–p90.

escnn: ``--escnn-python PATH`` (the python of a virtual environment with
escnn, see ../shared/anchors/peers/README.md) times escnn's ``R2Conv`` of the
same field types (gspace ``flipRot2dOnR2(N=4)``: p4m; its default kernel
basis) against ``nn.Conv2d`` in that interpreter, case by case right after
ours, with the same timing code, and prints its ratio beside ours. Without it
the script prints the ratios recorded for escnn's p4m R2Conv on this
project's machines, labelled as such: they are not measured by the run.

--quick: batch 4, 32×32 images, a few repetitions: 15–30 s on 2 cores (about
a minute with --escnn-python; escnn's first build of the regular R2Conv's
basis in a fresh environment takes another 10 s). The
full run takes about 5 minutes on 2 cores shared with other jobs: a training
step of either layer takes seconds there, so its rows rest on 3 pairs.

The earlier rows of this script, P4M ``Linear(support=k)`` (circular
convolution) against a circular Conv2d, run instead with ``--p4m``;
``--full`` adds the full-image layer (``support=None``, an n×n kernel through
the FFT) to them.

Run: python benchmarks/conv.py [--quick] [--threads 2] [--cases regular trivial lifting] [--escnn-python PATH] [--out FILE]
     python benchmarks/conv.py --p4m [--full]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import torch

import constrainnet as cn
from constrainnet.groups import D, P4M

from timing import interleaved, keep_freed_memory  # benchmarks/timing.py (the script's folder is on sys.path)

CASES = ("regular", "trivial", "lifting")

# escnn 1.0.11's R2Conv on p4m against nn.Conv2d, as recorded on this project's
# 2-core machines (not measured by this script unless --escnn-python is given)
ESCNN_RECORDED = {"trivial": "1.06–1.37×", "regular": "1.14–1.15×"}


from conv_timing import interleave, loadavg, stats, timed  # noqa: E402  (benchmarks/conv_timing.py)
from conv_escnn import run_escnn  # noqa: E402  (benchmarks/conv_escnn.py)


# -- the cases ------------------------------------------------------------------
def field_types(case: str, G, fields: int, scalars_in: int):
    regular, scalar = cn.regular(G), cn.Scalar(G)
    width = fields * regular.size
    reps = {
        "regular": (fields * [regular], fields * [regular]),
        "trivial": (width * [scalar], width * [scalar]),
        "lifting": (scalars_in * [scalar], fields * [regular]),
    }[case]
    return cn.nn.FieldType(G, reps[0]), cn.nn.FieldType(G, reps[1])


def describe(case: str, t_in, t_out) -> str:
    return f"SteerableConv2d vs nn.Conv2d, D4 {case}: {t_in.size} ch ({len(t_in)} fields) -> {t_out.size} ch ({len(t_out)} fields)"


def equivariance_error(conv, t_in, t_out, x) -> float:
    """max over the grid's elements of |conv(g·x) − g·conv(x)| / |g·conv(x)| (max norms), in eval mode."""
    conv.eval()
    err = 0.0
    with torch.no_grad():
        y = conv(x)
        for g in t_in.grid_elements():
            a, b = conv(t_in.transform(x, g)), t_out.transform(y, g)
            err = max(err, float((a - b).abs().max() / b.abs().max()))
    conv.train()
    return err


def run_case(case: str, args, G, device, sync, head) -> list[dict]:
    t_in, t_out = field_types(case, G, args.fields, args.scalars_in)
    k, pad, n = args.kernel, args.kernel // 2, args.size
    torch.manual_seed(0)
    t0 = time.perf_counter()
    ours = cn.nn.SteerableConv2d(t_in, t_out, k, padding=pad, device=device)
    construct_s = time.perf_counter() - t0
    plain = torch.nn.Conv2d(t_in.size, t_out.size, k, padding=pad, device=device)
    x = torch.randn(args.batch, t_in.size, n, n, device=device, requires_grad=True)
    g = torch.randn(args.batch, t_out.size, n, n, device=device)
    eq = equivariance_error(ours, t_in, t_out, x.detach()[:1])
    plan = (args.warmup, args.reps, args.min_reps, args.max_seconds, sync)

    # the kernel assembly alone: forward, and forward + backward (what a training step pays)
    weight, bias = ours._assemble()
    gw, gb = torch.randn_like(weight), torch.randn_like(bias)

    def assemble_fwd():
        with torch.no_grad():
            ours._assemble()

    def assemble_fwd_bwd():
        ours.coefficients.grad = ours.bias_coefficients.grad = None
        w, b = ours._assemble()
        torch.autograd.backward([w, b], [gw, gb])

    # cheap next to a convolution: more calls, a tenth of the time
    asm_plan = (args.warmup, 10 * args.reps, args.min_reps, args.max_seconds / 10, sync)
    assembly = {"fwd": stats(timed(assemble_fwd, *asm_plan)), "fwd_bwd": stats(timed(assemble_fwd_bwd, *asm_plan))}
    info = dict(
        head,
        case=describe(case, t_in, t_out),
        case_key=case,
        in_type=repr(t_in),
        out_type=repr(t_out),
        in_channels=t_in.size,
        out_channels=t_out.size,
        kernel=k,
        padding=pad,
        image=[n, n],
        batch=args.batch,
        construct_s=round(construct_s, 4),
        num_coefficients=ours.num_coefficients,
        bias_coefficients=ours.bias_coefficients.numel(),
        torch_weight_params=plain.weight.numel(),
        torch_params=sum(p.numel() for p in plain.parameters()),
        equivariance_rel_err=eq,
        assembly_ms=assembly,
    )

    def train_step(m):
        def step():
            for p in m.parameters():
                p.grad = None
            x.grad = None
            m(x).backward(g)

        return step

    lines = []
    ours.train(), plain.train()
    start = loadavg()
    ta, tb = interleave(train_step(ours), train_step(plain), *plan)
    lines.append(emit(info, "train fwd+bwd (grads to params and input; our kernel assembled every call)", ta, tb, start, args))

    ours.eval(), plain.eval()
    xe = x.detach()

    def eval_step(m):
        def run():
            with torch.no_grad():
                m(xe)

        return run

    start = loadavg()
    ta, tb = interleave(eval_step(ours), eval_step(plain), *plan)
    lines.append(emit(info, "eval fwd (no_grad, eval mode; our kernel cached)", ta, tb, start, args, kernel_cached=ours._cache is not None))
    return lines


def emit(info: dict, mode: str, ta, tb, start, args, **extra) -> dict:
    a, b = stats(ta), stats(tb)
    line = dict(info, mode=mode, **extra, loadavg_start=start, loadavg_end=loadavg(),
                ours=a, torch=b, ratio_median=round(a["median_ms"] / b["median_ms"], 3),
                ratio_p10=round(a["p10_ms"] / b["p10_ms"], 3))
    text = json.dumps(line)
    print(text, flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")
    return line



# -- the table --------------------------------------------------------------------
def fmt(s: dict) -> str:
    return f"{s['median_ms']:9.1f} ({s['p10_ms']:.1f}–{s['p90_ms']:.1f})"


def table(lines: list[dict], escnn: dict, live: bool) -> None:
    print()
    print(f"{'case':<9} {'mode':<6} {'ours ms (p10–p90)':>28} {'Conv2d ms (p10–p90)':>28} {'ours/Conv2d':>12} {'(p10s)':>7} {'escnn/Conv2d':>13}")
    for line in lines:
        mode = line["mode"].split()[0]
        other = escnn.get((line["case_key"], mode))
        e = f"{other['ratio_median']:.2f}x" if other else ("failed" if live else "—")
        print(f"{line['case_key']:<9} {mode:<6} {fmt(line['ours']):>28} {fmt(line['torch']):>28} "
              f"{line['ratio_median']:>11.2f}x {line['ratio_p10']:>6.2f}x {e:>13}")
    print()
    seen = set()
    for line in lines:
        if line["case_key"] in seen:
            continue
        seen.add(line["case_key"])
        a, train = line["assembly_ms"], next(x for x in lines if x["case_key"] == line["case_key"] and x["mode"].startswith("train"))
        print(
            f"{line['case_key']:<9} {line['in_channels']}->{line['out_channels']} ch: {line['num_coefficients']:,} coefficients "
            f"+ {line['bias_coefficients']} bias vs Conv2d {line['torch_weight_params']:,} + {line['out_channels']} "
            f"({line['torch_weight_params'] / line['num_coefficients']:.1f}x fewer); kernel assembly, median (p10): "
            f"{a['fwd']['median_ms']:.2f} ({a['fwd']['p10_ms']:.2f}) ms fwd, {a['fwd_bwd']['median_ms']:.2f} "
            f"({a['fwd_bwd']['p10_ms']:.2f}) ms fwd+bwd ({100 * a['fwd_bwd']['median_ms'] / train['ours']['median_ms']:.1f}% "
            f"of our train step); "
            f"built in {line['construct_s']:.2f} s; equivariance error {line['equivariance_rel_err']:.1e}"
        )
    for (case, mode), other in escnn.items():
        if mode == "train":
            print(f"{case:<9} escnn R2Conv: {other['escnn_free_params']:,} free parameters, built in {other['construct_s']:.2f} s, "
                  f"equivariance error {other['equivariance_rel_err']:.1e} (escnn {other['escnn_version']})")
    if not live:
        print(
            "\nescnn: not measured in this run (no --escnn-python). Recorded on this project's 2-core machines, "
            "escnn's p4m R2Conv against nn.Conv2d:\n"
            f"  trivial fields: {ESCNN_RECORDED['trivial']} Conv2d   regular fields: {ESCNN_RECORDED['regular']} Conv2d   (recorded, not measured here)"
        )


# -- the earlier rows: P4M Linear(support=k) against a circular Conv2d -------------
def p4m_rows(args, device, sync) -> None:
    """P4M ``Linear`` with ``support=k`` (and, with --full, ``support=None``) against ``Conv2d`` with circular padding.

    Both map c to c channels of n×n images; ours has one free parameter per D4
    orbit of the window (6 for k = 5) where Conv2d has k², and gathers its
    kernel from them on every training call. Median of 7 rounds of 5 calls each
    (timing.interleaved).
    """
    batch, n, c, k = args.batch or 64, args.size or 32, args.p4m_channels, args.kernel
    rounds, iters = (3, 2) if args.quick else (7, 5)
    V = cn.V(P4M(n))
    plain = torch.nn.Conv2d(c, c, k, padding=k // 2, padding_mode="circular", device=device)
    x = torch.randn(batch, c * n * n, device=device, requires_grad=True)
    images = x.detach().view(batch, c, n, n).requires_grad_()
    print(f"device {device}, threads {args.threads}, batch {batch}, {c}->{c} channels, {n}x{n}, float32")
    print(f"{'case':<44} {'ours ms':>9} {'conv2d ms':>10} {'ratio':>7}")
    cases = [(f"support={k}", k)] + ([("support=None (full)", None)] if args.full else [])
    for name, support in cases:
        ours = cn.nn.Linear(c * V, c * V, support=support, device=device)
        plain.train()
        t_ours, t_plain = interleaved(lambda: ours(x).square().mean().backward(), lambda: plain(images).square().mean().backward(), rounds, iters, sync)
        print(f"{'train ' + name + f' ({ours.num_coefficients} coeffs)':<44} {t_ours * 1e3:>9.2f} {t_plain * 1e3:>10.2f} {t_ours / t_plain:>7.2f}")
        ours.eval(), plain.eval()
        with torch.no_grad():
            t_ours, t_plain = interleaved(lambda: ours(x), lambda: plain(images), rounds, iters, sync)
        print(f"{'eval  ' + name:<44} {t_ours * 1e3:>9.2f} {t_plain * 1e3:>10.2f} {t_ours / t_plain:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--batch", type=int, default=None, help="default 32 (--quick 4; --p4m 64)")
    parser.add_argument("--size", type=int, default=None, help="image side; default 64 (--quick 32; --p4m 32)")
    parser.add_argument("--fields", type=int, default=16, help="regular fields (8 channels each); the trivial case has as many channels")
    parser.add_argument("--scalars-in", type=int, default=3, help="input scalar fields of the lifting case")
    parser.add_argument("--kernel", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=None, help="untimed pairs per mode (default 1)")
    parser.add_argument("--reps", type=int, default=None, help="at most this many timed pairs per mode (default 40; --quick 10)")
    parser.add_argument("--min-reps", type=int, default=None, help="at least this many (default 3)")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop a mode after this long once --min-reps are done (default 15; --quick 2)")
    parser.add_argument("--quick", action="store_true", help="batch 4, 32x32, a few repetitions (under a minute)")
    parser.add_argument("--escnn-python", default=None, metavar="PATH", help="python of a venv with escnn: time its R2Conv too")
    parser.add_argument("--out", default=None, help="also append the JSON lines to this file")
    parser.add_argument("--default-malloc", action="store_true", help="leave glibc's heap trimming on (see timing.keep_freed_memory)")
    parser.add_argument("--p4m", action="store_true", help="time P4M Linear(support=k) against a circular Conv2d instead")
    parser.add_argument("--full", action="store_true", help="with --p4m (implied): also support=None (an n×n kernel through the FFT)")
    parser.add_argument("--p4m-channels", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if args.p4m or args.full:
        torch.manual_seed(0)
        p4m_rows(args, device, sync)
        return
    # a full-size training step of either layer takes seconds on 2 cores (13.7 GFLOP forward, twice
    # that backward): one warm-up pair, then at least 3 pairs or 15 s per mode keeps the run to minutes
    defaults = dict(batch=(4, 32), size=(32, 64), warmup=(1, 1), reps=(10, 40), min_reps=(3, 3), max_seconds=(2.0, 15.0))
    for name, (quick, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    kept = False if args.default_malloc else keep_freed_memory()
    G = D(4)
    head = dict(
        tool="constrainnet",
        constrainnet_version=cn.__version__,
        torch_version=torch.__version__,
        torch_threads=torch.get_num_threads(),
        cmd=" ".join(["python"] + sys.argv),
        quick=args.quick,
        device=str(device),
        dtype="float32",
        machine=f"{os.cpu_count()} CPU cores",
        glibc_heap_trimming="off" if kept else "on",
        python=platform.python_version(),
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    print(
        f"# device {device}, threads {args.threads}, batch {args.batch}, {args.size}x{args.size}, k {args.kernel}, float32, "
        f"pairs {args.min_reps}–{args.reps} or {args.max_seconds:g} s per mode, load {loadavg()}",
        flush=True,
    )
    t_start = time.perf_counter()
    lines, escnn = [], {}
    for case in args.cases:
        lines += run_case(case, args, G, device, sync, head)
        if args.escnn_python:
            for line in run_escnn(case, args, kept):
                escnn[case, line["mode"].split()[0]] = line
    table(lines, escnn, live=bool(args.escnn_python))
    print(f"\n# {time.perf_counter() - t_start:.0f} s, load {loadavg()}")


if __name__ == "__main__":
    main()
