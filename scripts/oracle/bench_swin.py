#!/usr/bin/env python3
"""PyTorch eager (CPU, float32) training-step throughput of SimMIM on timm's Swin, the model
`mimlab bench --preset swin-micro` times, measured the same way: one step = zero_grad +
forward + masked-L1 loss + backward + clip 5 + AdamW, data and masks made once, median of
the timed steps after 3 warm-up steps.

  python3 scripts/oracle/bench_swin.py --preset swin-micro --batch 64 --steps 20 [--threads 2]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from swin_ref import SimMIMSwin, FineTune, official_mask

PRESETS = {
    "swin-micro": dict(img_size=32, patch_size=2, embed_dim=32, depths=[2, 2, 6], num_heads=[1, 2, 4], window_size=4),
    "swin-nano": dict(img_size=16, patch_size=2, embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=4),
    "swin-base-192": dict(img_size=192, patch_size=4, embed_dim=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
                          window_size=6),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="swin-micro", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--mode", default="pretrain,finetune")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = dict(PRESETS[args.preset], in_chans=3, mlp_ratio=4.0, num_classes=10)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = SimMIMSwin(cfg)
    stride = model.stride
    x = torch.randn(args.batch, 3, cfg["img_size"], cfg["img_size"], generator=gen)
    mask = official_mask(cfg, args.batch, max(stride, 8), 0.6, gen)
    labels = torch.randint(0, 10, (args.batch,), generator=gen)
    ft = FineTune(model, 10)
    print("PyTorch %s eager, %d thread(s), %s, batch %d" % (torch.__version__, torch.get_num_threads(), args.preset, args.batch))
    print("| step | images/s | ms/step |")
    print("|---|---:|---:|")
    for mode in args.mode.split(","):
        params = list(model.parameters()) if mode == "pretrain" else \
            [p for n, p in ft.named_parameters() if "mask_token" not in n and "decoder" not in n]
        opt = torch.optim.AdamW(params, lr=1e-4)
        times = []
        for i in range(3 + args.steps):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            if mode == "pretrain":
                loss, _ = model(x, mask)
            else:
                loss = F.cross_entropy(ft(x), labels)
            loss.backward()
            if mode == "pretrain":
                torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            if i >= 3:
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print("| %s | %.1f | %.1f |" % (mode, args.batch / med, med * 1000))


if __name__ == "__main__":
    main()
