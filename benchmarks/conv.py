"""Image layer speed: our P4M ``Linear`` with ``support=k`` against ``torch.nn.Conv2d`` of the same shape.

Both map c_in to c_out channels of n×n images with a k×k kernel and circular
padding; ours has one free parameter per D4 orbit of the window (6 for k = 5)
where Conv2d has k², and it gathers its kernel from them on every training
call. Measured interleaved in one run (ours, plain, ours, plain, ...), median
of --rounds rounds of --iters calls each:

- train: forward + backward (gradients of the parameters and of the input);
- eval: forward under ``torch.no_grad()`` in eval mode (our kernel cached).

A third row times the full-image layer (``support=None``: one orbit per D4
orbit of all n² displacements, an n×n kernel) against the same Conv2d, to show
what locality buys.

Run: python benchmarks/conv.py [--device cuda] [--threads 2]
"""

from __future__ import annotations

import argparse

import torch

import constrainnet as cn
from constrainnet.groups import P4M

from timing import interleaved  # benchmarks/timing.py (the script's folder is on sys.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--kernel", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="also time support=None (an n×n kernel, applied through the FFT)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    c, n, k = args.channels, args.size, args.kernel
    V = cn.V(P4M(n))
    plain = torch.nn.Conv2d(c, c, k, padding=k // 2, padding_mode="circular", device=device)
    x = torch.randn(args.batch, c * n * n, device=device, requires_grad=True)
    images = x.detach().view(args.batch, c, n, n).requires_grad_()
    print(f"device {device}, threads {args.threads}, batch {args.batch}, {c}->{c} channels, {n}x{n}, float32")
    print(f"{'case':<44} {'ours ms':>9} {'conv2d ms':>10} {'ratio':>7}")
    cases = [(f"support={k}", k)] + ([("support=None (full)", None)] if args.full else [])
    for name, support in cases:
        ours = cn.nn.Linear(c * V, c * V, support=support, device=device)

        def train_ours() -> None:
            ours(x).square().mean().backward()

        def train_plain() -> None:
            plain(images).square().mean().backward()

        t_ours, t_plain = interleaved(train_ours, train_plain, args.rounds, args.iters, sync)
        print(f"{'train ' + name + f' ({ours.num_coefficients} coeffs)':<44} {t_ours * 1e3:>9.2f} {t_plain * 1e3:>10.2f} {t_ours / t_plain:>7.2f}")
        ours.eval(), plain.eval()
        with torch.no_grad():
            t_ours, t_plain = interleaved(lambda: ours(x), lambda: plain(images), args.rounds, args.iters, sync)
        print(f"{'eval  ' + name:<44} {t_ours * 1e3:>9.2f} {t_plain * 1e3:>10.2f} {t_ours / t_plain:>7.2f}")
        plain.train()


if __name__ == "__main__":
    main()
