"""escnn's ``R2Conv`` timed against ``torch.nn.Conv2d`` in escnn's own interpreter, for ``benchmarks/conv.py --escnn-python``."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from conv_timing import interleave, loadavg, stats  # benchmarks/conv_timing.py (the script's folder is on sys.path)

# -- escnn, in its own interpreter ------------------------------------------------
ESCNN_SCRIPT = r'''
import json, os, platform, sys, time
import numpy as np
import torch
import escnn
from escnn import gspaces, nn as enn

cfg = json.loads(sys.argv[1])
sys.path.insert(0, cfg["benchmarks_dir"])
if cfg["keep_freed_memory"]:
    from timing import keep_freed_memory
    keep_freed_memory()
torch.set_num_threads(cfg["threads"])
device = torch.device(cfg["device"])
sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

# the timing functions of benchmarks/conv.py, verbatim
__TIMING__

gs = gspaces.flipRot2dOnR2(N=4)
F, S = cfg["fields"], cfg["scalars_in"]
width = F * gs.regular_repr.size
reps = {"regular": (F * [gs.regular_repr], F * [gs.regular_repr]),
        "trivial": (width * [gs.trivial_repr], width * [gs.trivial_repr]),
        "lifting": (S * [gs.trivial_repr], F * [gs.regular_repr])}[cfg["case"]]
t_in, t_out = enn.FieldType(gs, reps[0]), enn.FieldType(gs, reps[1])
k, n, batch = cfg["kernel"], cfg["size"], cfg["batch"]
torch.manual_seed(0)
t0 = time.perf_counter()
conv = enn.R2Conv(t_in, t_out, kernel_size=k, padding=k // 2).to(device)
construct_s = time.perf_counter() - t0
plain = torch.nn.Conv2d(t_in.size, t_out.size, k, padding=k // 2, device=device)
x = torch.randn(batch, t_in.size, n, n, device=device, requires_grad=True)
g = torch.randn(batch, t_out.size, n, n, device=device)
plan = (cfg["warmup"], cfg["reps"], cfg["min_reps"], cfg["max_seconds"], sync)

conv.eval()
with torch.no_grad():
    xg = enn.GeometricTensor(x.detach()[:1], t_in)
    y = conv(xg)
    eq = 0.0
    for el in gs.testing_elements:
        a, b = conv(xg.transform(el)).tensor, y.transform(el).tensor
        eq = max(eq, float((a - b).abs().max() / b.abs().max()))
conv.train()

head = dict(tool="escnn", escnn_version=getattr(escnn, "__version__", "?"), torch_version=torch.__version__,
            torch_threads=torch.get_num_threads(), python=platform.python_version(), device=str(device),
            when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            case_key=cfg["case"], gspace="flipRot2dOnR2(N=4)", in_channels=t_in.size, out_channels=t_out.size,
            kernel=k, padding=k // 2, image=[n, n], batch=batch, dtype="float32", construct_s=round(construct_s, 4),
            escnn_free_params=int(sum(p.numel() for p in conv.parameters() if p.requires_grad)),
            torch_params=int(sum(p.numel() for p in plain.parameters())), equivariance_rel_err=eq)


def emit(mode, ta, tb, start):
    a, b = stats(ta), stats(tb)
    print(json.dumps(dict(head, mode=mode, loadavg_start=start, loadavg_end=loadavg(), escnn=a, torch=b,
                          ratio_median=round(a["median_ms"] / b["median_ms"], 3),
                          ratio_p10=round(a["p10_ms"] / b["p10_ms"], 3))), flush=True)


def train_step(m, wrap):
    def step():
        for p in m.parameters():
            p.grad = None
        x.grad = None
        y = m(wrap(x))
        getattr(y, "tensor", y).backward(g)  # escnn returns a GeometricTensor
    return step


to_geo = lambda t: enn.GeometricTensor(t, t_in)
ident = lambda t: t
conv.train(), plain.train()
start = loadavg()
ta, tb = interleave(train_step(conv, to_geo), train_step(plain, ident), *plan)
emit("train fwd+bwd (grads to params and input; escnn filter expanded every call)", ta, tb, start)
conv.eval(), plain.eval()
xe = x.detach()
ge = enn.GeometricTensor(xe, t_in)


def ev_e():
    with torch.no_grad():
        conv(ge)


def ev_t():
    with torch.no_grad():
        plain(xe)


start = loadavg()
ta, tb = interleave(ev_e, ev_t, *plan)
emit("eval fwd (no_grad; escnn filter cached by .eval())", ta, tb, start)
'''


def run_escnn(case: str, args, kept: bool) -> list[dict]:
    timing_source = "\n\n".join(inspect.getsource(f) for f in (stats, interleave, loadavg))
    script = ESCNN_SCRIPT.replace("__TIMING__", timing_source)
    cfg = dict(case=case, fields=args.fields, scalars_in=args.scalars_in, kernel=args.kernel, size=args.size,
               batch=args.batch, threads=args.threads, device=args.device, warmup=args.warmup, reps=args.reps,
               min_reps=args.min_reps, max_seconds=args.max_seconds, keep_freed_memory=kept,
               benchmarks_dir=str(Path(__file__).resolve().parent))
    with tempfile.NamedTemporaryFile("w", suffix="_escnn_conv.py", delete=False) as f:
        f.write(script)
    try:
        proc = subprocess.run([args.escnn_python, f.name, json.dumps(cfg)], capture_output=True, text=True, check=False)
    finally:
        os.unlink(f.name)
    lines = []
    for raw in proc.stdout.splitlines():
        if raw.startswith("{"):
            line = dict(json.loads(raw), cmd=" ".join(["python"] + sys.argv), interpreter=args.escnn_python)
            text = json.dumps(line)
            print(text, flush=True)
            if args.out:
                with open(args.out, "a") as out:
                    out.write(text + "\n")
            lines.append(line)
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        print(f"escnn ({args.escnn_python}) failed on the {case} case (exit {proc.returncode}):\n{tail}", file=sys.stderr)
    return lines
