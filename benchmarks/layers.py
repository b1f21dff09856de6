"""Layer speed: our equivariant Linear and EMLP against plain torch modules of the same shape.

Measured interleaved in one run (ours, plain, ours, plain, ...), median of
--rounds rounds of --iters calls each, so both see the same machine load:

- train: forward + backward of ``cn.nn.Linear`` vs ``torch.nn.Linear`` (SO(3)
  hidden reps ``uniform_rep(ch)``, batch 512), for an input without gradient
  (a first layer) and, on the next line, one that needs it (a hidden layer);
- eval: forward under ``torch.no_grad()`` in eval mode (cached weight);
- typed: a hidden ``Linear`` as an isotypic EMLP runs it (features kept per
  irreducible type, one product per type, operands gathered from the
  coefficients in training, cached in eval) vs ``torch.nn.Linear``;
- step and eval: one Adam step, and an eval forward, of ``cn.nn.EMLP`` (each
  plan: ``isotypic``, ``assembled``) vs ``cn.nn.MLP`` (Inertia shape: O(3),
  ``5*V**0 + 5*V -> V**2``, 3 layers of width ch, batch 512; and ch 64 at
  batch 32, where fixed per-step costs dominate); ``--groups`` adds the same
  rows for O(2), D(4) and S(5) hidden reps (S(5): permutation components, so
  ``auto`` keeps the assembled plan).

Both models are stepped in one process, alternately: glibc's heap trimming
then makes the EMLP fault its buffers back in at every step, which it never
does training alone, so the script turns trimming off for the run
(``--default-malloc`` keeps it; see ``timing.keep_freed_memory``).

Run: python benchmarks/layers.py [--device cuda] [--threads 2] [--breakdown]
"""

from __future__ import annotations

import argparse

import torch

import constrainnet as cn
from constrainnet.groups import D, O, S, SO
from constrainnet.nn import uniform_rep
from constrainnet.nn.isotypic import TypedLayout
from constrainnet.nn.typed import TypedAffine

from timing import interleaved, keep_freed_memory  # benchmarks/timing.py (the script's folder is on sys.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--channels", type=int, nargs="+", default=[256, 384])
    parser.add_argument("--groups", action="store_true", help="also EMLP rows for O(2), D(4) and S(5) at the first --channels")
    parser.add_argument("--large", action="store_true", help="also SO(3) ch 1024 at batch 8192 (slow on a CPU)")
    parser.add_argument("--breakdown", action="store_true", help="also time the stages of one EMLPBlock (at the first --channels)")
    parser.add_argument("--settle", type=int, default=1, help="untimed calls before each timed run (see timing.interleaved)")
    parser.add_argument("--default-malloc", action="store_true", help="leave glibc's heap trimming on (see timing.keep_freed_memory)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    kept = False if args.default_malloc else keep_freed_memory()
    print(f"device {device}, threads {args.threads}, batch {args.batch}, float32, glibc heap trimming {'off' if kept else 'on'}")
    print(f"{'case':<34} {'ours ms':>9} {'plain ms':>9} {'ratio':>7}")
    for ch in args.channels:
        rep = uniform_rep(ch, SO(3))
        ours = cn.nn.Linear(rep, rep, device=device)
        plain = torch.nn.Linear(rep.size, rep.size, device=device)
        x = torch.randn(args.batch, rep.size, device=device)

        def train_step(m):
            return lambda: m(x).sum().backward()

        a, b = interleaved(train_step(ours), train_step(plain), args.rounds, args.iters, sync, args.settle)
        print(f"{f'Linear SO(3) {ch} train fwd+bwd':<34} {a * 1e3:>9.3f} {b * 1e3:>9.3f} {a / b:>6.2f}x")
        # a hidden layer: its input comes from the layer below and needs a gradient too
        x_hidden = x.clone().requires_grad_()

        def hidden_step(m):
            return lambda: m(x_hidden).sum().backward()

        a, b = interleaved(hidden_step(ours), hidden_step(plain), args.rounds, args.iters, sync, args.settle)
        print(f"{f'  same, input needs grad':<34} {a * 1e3:>9.3f} {b * 1e3:>9.3f} {a / b:>6.2f}x")
        ours.eval(), plain.eval()

        def eval_step(m):
            def run():
                with torch.no_grad():
                    m(x)

            return run

        a, b = interleaved(eval_step(ours), eval_step(plain), args.rounds, args.iters, sync, args.settle)
        print(f"{f'Linear SO(3) {ch} eval fwd':<34} {a * 1e3:>9.3f} {b * 1e3:>9.3f} {a / b:>6.2f}x")

        typed_hidden(rep, args, device, sync)

    G = O(3)
    V = cn.V(G)
    rep_in, rep_out = 5 * V**0 + 5 * V, V**2
    # the benchmark's shapes, then a small model at a small batch (the size of the
    # learning tests), where fixed per-step costs dominate
    cases = [(G, rep_in, rep_out, ch, args.batch) for ch in args.channels] + [(G, rep_in, rep_out, 64, 32)]
    if args.groups:
        for H in (O(2), D(4), S(5)):
            W = cn.V(H)
            cases.append((H, 5 * W**0 + 5 * W, W**2, args.channels[0], args.batch))
    if args.large:
        W = cn.V(SO(3))
        cases.append((SO(3), 5 * W**0 + 5 * W, W**2, 1024, 8192))
    for H, r_in, r_out, ch, batch in cases:
        emlp_rows(H, r_in, r_out, ch, batch, args, device, sync)
    if args.breakdown:
        breakdown(G, rep_in, rep_out, args, device, sync)


def typed_hidden(rep, args, device, sync) -> None:
    """A hidden Linear(rep, rep) on typed features (as the isotypic EMLP runs it) vs torch.nn.Linear: train and eval."""
    layer = cn.nn.Linear(rep, rep, device=device)
    layout = TypedLayout(rep)
    typed = TypedAffine(layer, "_bench_typed", layout, [(layer._plan, layout, layer._float64_buffers["bias_basis"])], {"device": device, "dtype": torch.float32})
    plain = torch.nn.Linear(rep.size, rep.size, device=device)
    xs = [torch.randn(args.batch, d, m, device=device, requires_grad=True) for d, m in zip(layout.dims, layout.mults)]
    x = torch.randn(args.batch, rep.size, device=device, requires_grad=True)

    def typed_step():
        ops, _, bias = typed.operands(layer, layer.coefficients, layer.bias_coefficients)
        (ys,) = typed.apply(layer, xs, ops, bias)
        torch.autograd.backward(list(ys.values()), [torch.ones_like(y) for y in ys.values()])

    a, b = interleaved(typed_step, lambda: plain(x).sum().backward(), args.rounds, args.iters, sync, args.settle)
    print(f"{f'Linear SO(3) {rep.size} typed train':<34} {a * 1e3:>9.3f} {b * 1e3:>9.3f} {a / b:>6.2f}x")
    with torch.no_grad():
        ops, _, bias = typed.operands(layer, layer.coefficients, layer.bias_coefficients)

    def typed_eval():
        with torch.no_grad():
            typed.apply(layer, xs, ops, bias)

    def plain_eval():
        with torch.no_grad():
            plain(x)

    a, b = interleaved(typed_eval, plain_eval, args.rounds, args.iters, sync, args.settle)
    print(f"{f'Linear SO(3) {rep.size} typed eval':<34} {a * 1e3:>9.3f} {b * 1e3:>9.3f} {a / b:>6.2f}x")


def emlp_rows(G, rep_in, rep_out, ch, batch, args, device, sync) -> None:
    """Adam step and eval forward of EMLP (each plan) against the MLP of the same widths."""
    mlp = cn.nn.MLP(rep_in, rep_out, group=G, ch=ch, num_layers=3, device=device)
    x = torch.randn(batch, rep_in.size, device=device)
    y = torch.randn(batch, rep_out.size, device=device)

    def stepper(m):
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)

        def step():
            opt.zero_grad()
            ((m(x) - y) ** 2).mean().backward()
            opt.step()

        return step

    def evaluator(m):
        def run():
            with torch.no_grad():
                m(x)

        return run

    for plan in ("isotypic", "assembled"):
        try:
            model = cn.nn.EMLP(rep_in, rep_out, group=G, ch=ch, num_layers=3, device=device, plan=plan)
        except cn.errors.RepError:
            print(f"{f'EMLP {G} ch {ch} {plan}':<34} {'(plan not available: permutation components)':>30}")
            continue
        name = f"{G} ch {ch} b {batch} {plan[:5]}"
        mlp.train()
        a, b = interleaved(stepper(model), stepper(mlp), args.rounds, max(1, args.iters // 2), sync, args.settle)
        print(f"{f'EMLP/MLP {name} step':<34} {a * 1e3:>9.3f} {b * 1e3:>9.3f} {a / b:>6.2f}x")
        model.eval(), mlp.eval()
        a, b = interleaved(evaluator(model), evaluator(mlp), args.rounds, args.iters, sync, args.settle)
        print(f"{f'EMLP/MLP {name} eval':<34} {a * 1e3:>9.3f} {b * 1e3:>9.3f} {a / b:>6.2f}x")


def breakdown(G, rep_in, rep_out, args, device, sync) -> None:
    """Forward+backward of one hidden EMLPBlock, against one MLP layer (Linear + SiLU) of the same width:
    as it runs, with its weights fixed (no assembly), and its stages alone."""
    ch = args.channels[0]
    block = cn.nn.EMLP(rep_in, rep_out, group=G, ch=ch, num_layers=3, device=device, plan="assembled").layers[1]
    layer = torch.nn.Sequential(torch.nn.Linear(ch, ch, device=device), torch.nn.SiLU())
    h = torch.randn(args.batch, ch, device=device, requires_grad=True)
    fixed = [t.detach().requires_grad_() for t in block._assemble()]
    weights, bias = fixed
    stacked, out = block._stacked.matrices(weights)
    wide = block.nonlinearity.rep_in.size
    u, v = (torch.randn(args.batch, block.bilinear.rep_mid.size, device=device, requires_grad=True) for _ in range(2))
    products = torch.randn(args.batch, out.shape[0], device=device, requires_grad=True)
    features = torch.randn(args.batch, wide, device=device, requires_grad=True)
    assemble = block._assemble
    grads = [torch.randn_like(t) for t in fixed]

    def fixed_block():
        block._assemble = lambda: fixed
        try:
            block(h).sum().backward()
        finally:
            block._assemble = assemble

    stages = {
        "block": lambda: block(h).sum().backward(),
        "block, weights fixed": fixed_block,
        "assembly of the block's weights": lambda: torch.autograd.backward(block._assemble(), grads),
        "stacked product x [L; W1; W2]": lambda: torch.addmm(bias, h, stacked).sum().backward(),
        "outer product u (x) v": lambda: (u.unsqueeze(-1) * v.unsqueeze(-2)).flatten(-2).sum().backward(),
        "bilinear product W_out (u (x) v)": lambda: torch.addmm(features, products, out).sum().backward(),
        "gated nonlinearity": lambda: block.nonlinearity(features).sum().backward(),
    }
    print(f"\nEMLPBlock ch {ch} batch {args.batch}, forward+backward, against Linear+SiLU of width {ch}")
    for name, f in stages.items():
        a, b = interleaved(f, lambda: layer(h).sum().backward(), args.rounds, args.iters, sync, args.settle)
        print(f"{name:<34} {a * 1e3:>9.3f} {b * 1e3:>9.3f} {a / b:>6.2f}x")


if __name__ == "__main__":
    main()
