#!/usr/bin/env python3
"""Float64 reference of one SimMIM-on-Swin step, with timm's SwinTransformer as the encoder.

Writes a case file (weights, images, mask, labels; config and optimiser in the metadata, in
the layout of shared/oracle) and the reference outputs for it:

  output.loss, output.pred (x_rec), output.grad_norm, grad.<every parameter>,
  step1.* / step3.* (parameters after AdamW steps), output.step_losses,
  ft.logits, ft.loss, ft.grad.* (fine-tune: mean pool of the last stage, cls_head).

The model is the official SimMIM one (`SwinTransformerForSimMIM` + `SimMIM`): patch
embedding (+ LayerNorm), mask token mixed in on the first stage's grid, Swin stages, final
norm, 1x1 conv to stride^2*3 + PixelShuffle(stride), masked L1 normalised per pixel and
channel. Weight decay as the official pre-train optimizer: none on 1-D tensors, biases,
mask_token, absolute_pos_embed and relative_position_bias_table.

Needs torch, timm, safetensors. CI does not: the outputs are committed (tests/fixtures).

  python3 scripts/oracle/swin_ref.py --out-dir Tests/TrainTests/Fixtures/oracle --name swin_nano
  mimlab step --case Tests/TrainTests/Fixtures/oracle/case_swin_nano.safetensors --out /tmp/ours.safetensors
  mimlab compare --ref Tests/TrainTests/Fixtures/oracle/ref64_swin_nano.safetensors --test /tmp/ours.safetensors
"""
import argparse
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from timm.models.swin_transformer import SwinTransformer

FORMAT = "simmim-swin-oracle-v1"


class SimMIMSwin(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.encoder = SwinTransformer(
            img_size=cfg["img_size"], patch_size=cfg["patch_size"], in_chans=cfg["in_chans"], num_classes=0,
            embed_dim=cfg["embed_dim"], depths=tuple(cfg["depths"]), num_heads=tuple(cfg["num_heads"]),
            window_size=cfg["window_size"], mlp_ratio=cfg["mlp_ratio"], drop_path_rate=0.0)
        self.encoder.mask_token = nn.Parameter(torch.zeros(1, 1, cfg["embed_dim"]))
        nn.init.trunc_normal_(self.encoder.mask_token, std=.02)
        self.stride = cfg["patch_size"] * 2 ** (len(cfg["depths"]) - 1)
        self.decoder = nn.Conv2d(self.encoder.num_features, self.stride ** 2 * cfg["in_chans"], kernel_size=1)

    def encode(self, x, mask):
        e = self.encoder
        t = e.patch_embed(x)                     # B, H, W, C (timm's NHWC, after patch_embed.norm)
        if mask is not None:
            w = mask.unsqueeze(-1).type_as(t)
            t = t * (1 - w) + e.mask_token.reshape(1, 1, 1, -1) * w
        t = e.layers(t)
        return e.norm(t)                         # B, h, w, C_out

    def forward(self, x, mask):
        z = self.encode(x, mask).permute(0, 3, 1, 2)
        x_rec = F.pixel_shuffle(self.decoder(z), self.stride)
        p = self.cfg["patch_size"]
        m = mask.repeat_interleave(p, 1).repeat_interleave(p, 2).unsqueeze(1).contiguous()
        loss_recon = F.l1_loss(x, x_rec, reduction="none")
        loss = (loss_recon * m).sum() / (m.sum() + 1e-5) / self.cfg["in_chans"]
        return loss, x_rec


class FineTune(nn.Module):
    def __init__(self, model, num_classes):
        super().__init__()
        self.model = model
        self.cls_head = nn.Linear(model.encoder.num_features, num_classes)

    def forward(self, x):
        return self.cls_head(self.model.encode(x, None).mean(dim=(1, 2)))


def no_decay(named):
    return [n for n, p in named if p.ndim == 1 or n.endswith(".bias") or n in ("encoder.mask_token",)
            or "relative_position_bias_table" in n or "absolute_pos_embed" in n]


def official_mask(cfg, batch, mask_patch, ratio, gen):
    """The official MaskGenerator (count = ceil(ratio * mask-patch count), a random subset),
    upsampled to the first stage's grid."""
    rs = cfg["img_size"] // mask_patch
    count = int(torch.tensor(ratio * rs * rs).ceil())
    scale = mask_patch // cfg["patch_size"]
    out = []
    for _ in range(batch):
        idx = torch.randperm(rs * rs, generator=gen)[:count]
        m = torch.zeros(rs * rs)
        m[idx] = 1
        out.append(m.reshape(rs, rs).repeat_interleave(scale, 0).repeat_interleave(scale, 1))
    return torch.stack(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--name", default="swin_nano")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--img-size", type=int, default=16)
    ap.add_argument("--patch-size", type=int, default=2)
    ap.add_argument("--embed-dim", type=int, default=16)
    ap.add_argument("--depths", default="2,2")
    ap.add_argument("--heads", default="2,4")
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--mask-patch", type=int, default=4)
    ap.add_argument("--num-classes", type=int, default=5)
    args = ap.parse_args()

    cfg = dict(img_size=args.img_size, patch_size=args.patch_size, in_chans=3, embed_dim=args.embed_dim,
               depths=[int(v) for v in args.depths.split(",")], num_heads=[int(v) for v in args.heads.split(",")],
               window_size=args.window, mlp_ratio=4.0, num_classes=args.num_classes)
    optim = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05, steps=3, clip_grad=0.0)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = SimMIMSwin(cfg)
    # Perturb the zero-initialised tensors (biases, norms, bias tables) so every gradient path is exercised.
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.02)
    ft = FineTune(model, cfg["num_classes"])
    x = torch.randn(args.batch, 3, args.img_size, args.img_size, generator=gen)
    mask = official_mask(cfg, args.batch, args.mask_patch, 0.6, gen)
    labels = torch.randint(0, cfg["num_classes"], (args.batch,), generator=gen).to(torch.int32)

    case = {n: p.detach().float().contiguous() for n, p in model.named_parameters()}
    case["cls_head.weight"] = ft.cls_head.weight.detach().float().contiguous()
    case["cls_head.bias"] = ft.cls_head.bias.detach().float().contiguous()
    case["input.images"] = x.float().contiguous()
    case["input.mask"] = mask.float().contiguous()
    case["input.labels"] = labels.contiguous()
    named = list(model.named_parameters())
    meta = {"format": FORMAT, "config": json.dumps(cfg), "optim": json.dumps(optim),
            "no_decay": json.dumps(no_decay(named)), "seed": str(args.seed),
            "generator": "scripts/oracle/swin_ref.py (timm %s, torch %s)" % (__import__("timm").__version__, torch.__version__)}
    os.makedirs(args.out_dir, exist_ok=True)
    save_file(case, os.path.join(args.out_dir, "case_" + args.name + ".safetensors"), metadata=meta)

    # ---- the reference, in float64 from the float32 case values
    model = model.double()
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(case[n].double())
    ft.cls_head.double()
    with torch.no_grad():
        ft.cls_head.weight.copy_(case["cls_head.weight"].double())
        ft.cls_head.bias.copy_(case["cls_head.bias"].double())
    x64, m64 = case["input.images"].double(), case["input.mask"].double()
    out = {}
    model.zero_grad()
    loss, x_rec = model(x64, m64)
    loss.backward()
    out["output.loss"] = loss.detach().reshape(())
    out["output.pred"] = x_rec.detach()
    for n, p in model.named_parameters():
        out["grad." + n] = p.grad.detach().clone()
    out["output.grad_norm"] = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())).reshape(())

    # fine-tune from the initial weights (before the AdamW steps)
    model.zero_grad()
    logits = ft(x64)
    ce = F.cross_entropy(logits, labels.long())
    ce.backward()
    out["ft.logits"] = logits.detach()
    out["ft.loss"] = ce.detach().reshape(())
    for n, p in ft.named_parameters():
        if n.startswith("model."):
            n = n[len("model."):]
        if n == "encoder.mask_token" or n.startswith("decoder."):
            continue
        out["ft.grad." + n] = p.grad.detach().clone()

    nd = set(no_decay(named))
    params = list(model.named_parameters())
    opt = torch.optim.AdamW([{"params": [p for n, p in params if n not in nd], "weight_decay": optim["weight_decay"]},
                             {"params": [p for n, p in params if n in nd], "weight_decay": 0.0}],
                            lr=optim["lr"], betas=(optim["beta1"], optim["beta2"]), eps=optim["eps"], foreach=False)
    losses = []
    for s in range(1, optim["steps"] + 1):
        opt.zero_grad(set_to_none=True)
        l, _ = model(x64, m64)
        losses.append(l.detach())
        l.backward()
        opt.step()
        if s == 1 or s == optim["steps"]:
            for n, p in model.named_parameters():
                out["step%d.%s" % (s, n)] = p.detach().clone()
    with torch.no_grad():
        losses.append(model(x64, m64)[0].detach())
    out["output.step_losses"] = torch.stack(losses)

    ref = {k: v.float().contiguous() for k, v in out.items()}
    save_file(ref, os.path.join(args.out_dir, "ref64_" + args.name + ".safetensors"),
              metadata={"format": FORMAT, "compute_dtype": "float64", "stored_dtype": "float32"})
    print("loss %.8f grad_norm %.6f ft.loss %.6f; %d reference tensors" %
          (out["output.loss"], out["output.grad_norm"], out["ft.loss"], len(ref)))


if __name__ == "__main__":
    main()
