#!/usr/bin/env python3
"""Float64 reference of one MaskAlign step, adapted from the official models_pretrain.py
(OpenDriveLab/maskalign, `MaskedAutoencoderViT`): get_student, get_teacher, forward_loss,
attention_masking and random_masking are the official code; what changes is said where it
happens:

- the teacher is a small timm-layout ViT written here (blocks return their attention
  probabilities, as HF's `output_attentions`), not a CLIP/DINO download, and sees the image
  as it is (no CLIP re-normalisation);
- the sampling noise is an input: `torch.multinomial(p, L, replacement=False)` is drawn by
  PyTorch's CPU kernel as topk(p / q) with q ~ Exp(1), so the case holds q (`input.noise`)
  and the reference ranks by p / q (`selftest` checks the identity against multinomial);
  random masking sorts the case's uniform noise instead of torch.rand;
- teacher depth and width come from the config instead of the checkpoint name;
- `--teacher-cls 0` is mimlab's extension for a teacher without a class token: the
  importance is the mean attention each patch receives, and the student's class token has
  no target (left out of the loss and its mean).

Writes a case file (student, adapters, alignment matrix and teacher weights; images,
noise; config and optimiser in the metadata) and the reference outputs:
  output.loss, output.ids_keep (int64), output.importance (attentive), output.teacher_attention,
  grad.<every trainable parameter of the K aligned levels and the student>,
  step3.* (parameters after 3 AdamW steps), output.step_losses; stored as float32.

Needs torch, timm, safetensors; CI does not (the outputs are committed).

  python3 scripts/oracle/maskalign_ref.py --out-dir Tests/TrainTests/Fixtures/oracle --name small
  mimlab step --case Tests/TrainTests/Fixtures/oracle/maskalign_small.safetensors --out /tmp/ours.safetensors
  mimlab compare --ref Tests/TrainTests/Fixtures/oracle/ref64_maskalign_small.safetensors --test /tmp/ours.safetensors
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from functools import partial
from safetensors.torch import save_file
from timm.models.vision_transformer import PatchEmbed, Block

FORMAT = "maskalign-oracle-v1"


def sincos_pos_embed_2d(dim, g, cls_token=True):
    """MAE's util/pos_embed.py get_2d_sincos_pos_embed, written from its formula (as shared/oracle/mae_ref.py)."""
    q = dim // 4
    omega = 1.0 / np.power(10000.0, np.arange(q, dtype=np.float64) / float(q))
    rows = np.repeat(np.arange(g, dtype=np.float64), g)
    cols = np.tile(np.arange(g, dtype=np.float64), g)
    aj, ai = cols[:, None] * omega[None, :], rows[:, None] * omega[None, :]
    emb = np.concatenate([np.sin(aj), np.cos(aj), np.sin(ai), np.cos(ai)], axis=1)
    return np.concatenate([np.zeros((1, dim)), emb], axis=0) if cls_token else emb


class TeacherAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q * (C // self.heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C)), attn


class TeacherMlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class TeacherBlock(nn.Module):
    """timm's Block (pre-norm, qkv bias, exact GELU, LayerNorm eps 1e-6), returning its attention."""
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = TeacherAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = TeacherMlp(dim, hidden)

    def forward(self, x):
        a, attn = self.attn(self.norm1(x))
        x = x + a
        return x + self.mlp(self.norm2(x)), attn


class TeacherViT(nn.Module):
    """timm's VisionTransformer layout (names patch_embed.proj, cls_token, pos_embed [1, 1+L, D], blocks, norm)."""
    def __init__(self, c):
        super().__init__()
        D = c["teacher_embed_dim"]
        self.cls = c["teacher_cls"]
        self.patch_embed = PatchEmbed(c["img_size"], c["patch_size"], 3, D)
        L = self.patch_embed.num_patches
        if self.cls:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, L + (1 if self.cls else 0), D))
        self.blocks = nn.ModuleList([TeacherBlock(D, c["teacher_num_heads"], D * 4) for _ in range(c["teacher_depth"])])
        self.norm = nn.LayerNorm(D, eps=1e-6)

    @torch.no_grad()
    def forward(self, x):
        """As HF's (hidden_states, attentions): hidden_states[0] is the embedding, [i] block i's output."""
        x = self.patch_embed(x)
        if self.cls:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed
        hidden, attns = [x], []
        for blk in self.blocks:
            x, a = blk(x)
            hidden.append(x)
            attns.append(a)
        return hidden, attns


class MaskAlign(nn.Module):
    """The official MaskedAutoencoderViT with the teacher above."""
    def __init__(self, c):
        super().__init__()
        self.c = c
        embed_dim, depth = c["embed_dim"], c["depth"]
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        self.loss_weights = "top%d" % c["levels"]
        self.mask_type = c["mask_type"]
        self.fusion_type = c["fusion_type"]
        self.head_type = c["head_type"]
        self.teacher_cls = c["teacher_cls"]
        self.patch_embed = PatchEmbed(c["img_size"], c["patch_size"], 3, embed_dim)
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim), requires_grad=False)
        self.blocks = nn.ModuleList([Block(embed_dim, c["num_heads"], 4.0, qkv_bias=True, norm_layer=norm_layer)
                                     for i in range(depth)])
        self.norm = norm_layer(embed_dim)
        target_dim, teacher_depth = c["teacher_embed_dim"], c["teacher_depth"]
        if self.head_type == "linear":
            self.distill_heads = nn.ModuleList([nn.Linear(embed_dim, target_dim) for i in range(teacher_depth)])
        elif self.head_type == "norm_linear":
            self.distill_heads = nn.ModuleList([nn.Sequential(norm_layer(embed_dim), nn.Linear(embed_dim, target_dim))
                                                for i in range(teacher_depth)])
        elif self.head_type == "mlp":
            self.distill_heads = nn.ModuleList([nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.GELU(),
                                                              nn.Linear(embed_dim, target_dim))
                                                for i in range(teacher_depth)])
        if self.fusion_type == "linear":
            self.distill_weights = nn.Parameter(torch.eye(len(self.blocks)) + 0.01, requires_grad=True)
        self.teacher = TeacherViT(c)
        for p in self.teacher.parameters():
            p.requires_grad = False

    def random_masking(self, x, mask_ratio, noise):
        N, L, D = x.shape
        len_keep = int(L * (1 - mask_ratio))
        ids_shuffle = torch.argsort(noise, dim=1)          # official: noise = torch.rand(N, L)
        ids_keep = ids_shuffle[:, :len_keep]
        x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, D))
        return x_masked, ids_keep

    def attention_masking(self, x, mask_ratio, importance, noise):
        N, L, D = x.shape
        len_keep = int(L * (1 - mask_ratio))
        # official: ids_shuffle = torch.multinomial(importance, L, replacement=False), which
        # PyTorch draws as topk(importance / q, L) with q ~ Exp(1): q is the case's noise.
        ids_shuffle = torch.topk(importance / noise, L, dim=1).indices
        ids_keep = ids_shuffle[:, :len_keep]
        x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, D))
        return x_masked, ids_keep

    def forward_encoder(self, x, mask_ratio, attentions, noise, out):
        x = self.patch_embed(x)
        x = x + self.pos_embed[:, 1:, :]
        if self.mask_type == "attention":
            if self.teacher_cls:
                importance = attentions[-1][:, :, 0, 1:].mean(1)
            else:   # mimlab: no class token, the mean attention each patch receives
                importance = attentions[-1].mean(dim=(1, 2))
            out["output.importance"] = importance.detach()
            x, ids_keep = self.attention_masking(x, mask_ratio, importance, noise)
        else:
            x, ids_keep = self.random_masking(x, mask_ratio, noise)
        cls_token = self.cls_token + self.pos_embed[:, :1, :]
        x = torch.cat((cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        hidden_states = []
        for blk in self.blocks:
            x = blk(x)
            hidden_states.append(x)
        x = self.norm(x)
        return hidden_states, ids_keep

    def get_student(self, hidden_states):
        student = hidden_states
        if self.fusion_type != "simple":
            student = torch.cat([x.unsqueeze(0) for x in student], dim=0)
            student = torch.einsum('ab,bcde->acde', self.distill_weights, student)
            student = [x.squeeze(0) for x in torch.chunk(student, student.shape[0], dim=0)]
        return [self.distill_heads[i](x) for i, x in enumerate(student)]

    def get_teacher(self, hidden_states, ids_keep):
        teacher = []
        for i in range(1, len(hidden_states)):
            y = F.layer_norm(hidden_states[i], (hidden_states[i].shape[-1],))     # target_norm == "whiten"
            if self.teacher_cls:
                cls, y = y[:, :1, :], y[:, 1:, :]
            y = torch.gather(y, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, y.shape[-1]))
            teacher.append(torch.cat([cls, y], dim=1) if self.teacher_cls else y)
        return teacher

    def forward_loss(self, student, teacher):
        loss = torch.tensor(0., dtype=student[0].dtype)
        topk = int(self.loss_weights[3:])
        weight_list = [0.] * (len(student) - topk) + [1 / topk] * topk
        for i, x in enumerate(student):
            y = teacher[i]
            if not self.teacher_cls:   # mimlab: the student's class token has no target
                x = x[:, 1:, :]
            if weight_list[i] > 0:
                loss = loss + weight_list[i] * 2 * F.smooth_l1_loss(y, x)    # loss_type == "smoothl1"
        return loss

    def forward(self, imgs, noise, out=None):
        out = {} if out is None else out
        hidden_states_teacher, attentions = self.teacher(imgs)
        out["output.teacher_attention"] = attentions[-1].detach()
        hidden_states, ids_keep = self.forward_encoder(imgs, self.c["mask_ratio"], attentions, noise, out)
        out["output.ids_keep"] = ids_keep
        student = self.get_student(hidden_states)
        teacher = self.get_teacher(hidden_states_teacher, ids_keep)
        return self.forward_loss(student, teacher)


def init_(model, gen):
    """Official initialize_weights (xavier-uniform Linear, zero bias, LN (1, 0), cls N(0, .02), the
    fixed sin-cos table), then every trainable tensor made observable (LN gains 1 + 0.2N, biases
    0.05N, cls 0.3N); the teacher drawn wide enough (std 0.3) that its attention is far from uniform."""
    c = model.c
    def xavier(t):
        b = math.sqrt(6.0 / (t.shape[1] * (t[0].numel() // t.shape[1]) + t.shape[0]))
        t.copy_((torch.rand(t.shape, generator=gen, dtype=torch.float64) * 2 - 1) * b)
    with torch.no_grad():
        g = c["img_size"] // c["patch_size"]
        model.pos_embed.copy_(torch.from_numpy(sincos_pos_embed_2d(c["embed_dim"], g)).float()[None])
        for n, p in model.named_parameters():
            if n.startswith("teacher."):
                p.copy_(torch.randn(p.shape, generator=gen) * (0.05 if n.endswith("bias") else 0.3)
                        + (1.0 if "norm" in n and n.endswith("weight") else 0.0))
            elif n == "pos_embed" or n == "distill_weights":
                continue
            elif p.ndim >= 2 and n != "cls_token":
                xavier(p.view(p.shape[0], -1))
            elif n.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            elif n == "cls_token":
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))


def aligned_level(name, c):
    """Only the last K levels' heads are in mimlab's model (the others never get a gradient)."""
    if not name.startswith("distill_heads."):
        return True
    return int(name.split(".")[1]) >= c["teacher_depth"] - c["levels"]


def no_decay(model):
    """main_pretrain.py: add_weight_decay(model, wd, skip_list=["distill_weights"])."""
    return [n for n, p in model.named_parameters()
            if p.requires_grad and (p.ndim <= 1 or n.endswith(".bias") or n == "distill_weights")]


def run(model, images, noise, optim_cfg):
    out = {}
    loss = model(images, noise, out)
    loss.backward()
    out["output.loss"] = loss.detach().reshape(())
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad and aligned_level(n, model.c)]
    for n, p in trainable:
        # The final norm feeds no target: no gradient (None in torch, zero in mimlab).
        out["grad." + n] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
    out["output.grad_norm"] = torch.sqrt(sum((out["grad." + n] ** 2).sum() for n, _ in trainable)).reshape(())
    nd = set(no_decay(model))
    groups = [{"params": [p for n, p in trainable if n in nd], "weight_decay": 0.0},
              {"params": [p for n, p in trainable if n not in nd], "weight_decay": optim_cfg["weight_decay"]}]
    opt = torch.optim.AdamW(groups, lr=optim_cfg["lr"], betas=(optim_cfg["beta1"], optim_cfg["beta2"]),
                            eps=optim_cfg["eps"], foreach=False)
    losses = []
    for s in range(1, optim_cfg["steps"] + 1):
        opt.zero_grad(set_to_none=True)
        l = model(images, noise)
        losses.append(l.detach())
        l.backward()
        opt.step()
        if s == optim_cfg["steps"]:
            for n, p in trainable:
                out["step%d.%s" % (s, n)] = p.detach().clone()
    with torch.no_grad():
        losses.append(model(images, noise).detach())
    out["output.step_losses"] = torch.stack(losses)
    return out


def selftest():
    """torch.multinomial without replacement == topk(p / q), q ~ Exp(1) from the same generator."""
    g = torch.Generator().manual_seed(3)
    p = torch.rand(4, 64, dtype=torch.float64, generator=g)
    a = torch.multinomial(p, 64, replacement=False, generator=torch.Generator().manual_seed(5))
    q = torch.empty_like(p).exponential_(1, generator=torch.Generator().manual_seed(5))
    ok = bool((a == torch.topk(p / q, 64).indices).all())
    print("multinomial == topk(p / Exp(1)):", ok)
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", required=False)
    ap.add_argument("--name", default="small")
    ap.add_argument("--fusion", choices=["linear", "simple"], default="linear")
    ap.add_argument("--head", choices=["linear", "norm_linear", "mlp"], default="linear")
    ap.add_argument("--mask", choices=["attention", "random"], default="attention")
    ap.add_argument("--teacher-cls", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    if a.selftest:
        return selftest()
    c = {"img_size": 16, "patch_size": 4, "embed_dim": 32, "depth": 3, "num_heads": 2,
         "teacher_embed_dim": 24, "teacher_depth": 3, "teacher_num_heads": 2, "teacher_cls": bool(a.teacher_cls),
         "mask_ratio": 0.5, "levels": 2, "fusion_type": a.fusion, "head_type": a.head, "mask_type": a.mask}
    optim_cfg = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.05, "steps": 3}
    gen = torch.Generator().manual_seed(a.seed)
    model = MaskAlign(c)
    init_(model, gen)
    B, L = 2, (c["img_size"] // c["patch_size"]) ** 2
    images = torch.randn(B, 3, c["img_size"], c["img_size"], generator=gen)
    if a.mask == "attention":
        noise = torch.empty(B, L).exponential_(1, generator=gen)
    else:
        noise = torch.rand(B, L, generator=gen)
    case = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    case["input.images"], case["input.noise"] = images.contiguous(), noise.contiguous()
    meta = {"format": FORMAT, "config": json.dumps(c), "optim": json.dumps(optim_cfg),
            "no_decay": json.dumps(no_decay(model)), "seed": str(a.seed)}
    os.makedirs(a.out_dir, exist_ok=True)
    case_path = os.path.join(a.out_dir, "maskalign_%s.safetensors" % a.name)
    save_file(case, case_path, metadata=meta)
    # The reference runs on the float32 values the case holds, in float64.
    model.load_state_dict({k: v.double() for k, v in case.items() if not k.startswith("input.")})
    model = model.double()
    out = run(model, case["input.images"].double(), case["input.noise"].double(), optim_cfg)
    # Computed in float64, stored in float32 (its rounding, ~6e-8, is far below the 1e-4 bars;
    # it halves the committed files).
    out = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in out.items()}
    ref_path = os.path.join(a.out_dir, "ref64_maskalign_%s.safetensors" % a.name)
    save_file(out, ref_path, metadata=dict(meta, compute_dtype="float64", stored_dtype="float32", torch_version=torch.__version__))
    print("wrote %s and %s: loss %.8f, ids_keep %s" % (case_path, ref_path, out["output.loss"].item(),
                                                     out["output.ids_keep"].tolist()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
