#!/usr/bin/python3
# golden-llama.py — dev-only: writes test/fixtures/model/golden-*.safetensors, the golden values the TypeScript
# decoder is checked against. A from-scratch LLaMA / Qwen2 in plain torch ops (float64), following HF
# transformers' semantics: rotate_half RoPE, RMSNorm (x * rsqrt(mean(x^2) + eps) * w), SwiGLU, GQA by repeating
# k/v heads, causal softmax attention, untied or tied head, Qwen2's q/k/v biases, mean cross-entropy with
# ignore_index -100, then three torch.optim.AdamW steps. Uses nothing but torch (Debian python3-torch 1.13);
# the safetensors file is written by hand here, which also checks our reader against an independent writer.
# Run: /usr/bin/python3 scripts/dev/golden-llama.py   (from the repository root)
import json, math, struct, sys
import torch

torch.manual_seed(1234)
DT = torch.float64


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope(x, pos, theta):  # x (B, H, T, D), pos (B, T)
    D = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=DT) / D))
    f = pos[..., None].to(DT) * inv  # (B, T, D/2)
    emb = torch.cat((f, f), dim=-1)[:, None]  # (B, 1, T, D)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def forward(p, cfg, ids):
    B, T = ids.shape
    C, H, Hkv = cfg['hidden_size'], cfg['num_attention_heads'], cfg['num_key_value_heads']
    D = C // H
    eps, theta = cfg['rms_norm_eps'], cfg['rope_theta']
    pos = torch.arange(T)[None].expand(B, T)
    x = p['model.embed_tokens.weight'][ids]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(cfg['num_hidden_layers']):
        pre = f'model.layers.{i}.'
        h = rms_norm(x, p[pre + 'input_layernorm.weight'], eps)
        def proj(name):
            y = h @ p[pre + f'self_attn.{name}.weight'].T
            b = p.get(pre + f'self_attn.{name}.bias')
            return y + b if b is not None else y
        q = proj('q_proj').view(B, T, H, D).transpose(1, 2)
        k = proj('k_proj').view(B, T, Hkv, D).transpose(1, 2)
        v = proj('v_proj').view(B, T, Hkv, D).transpose(1, 2)
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~causal, float('-inf'))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + a @ p[pre + 'self_attn.o_proj.weight'].T
        h = rms_norm(x, p[pre + 'post_attention_layernorm.weight'], eps)
        g = h @ p[pre + 'mlp.gate_proj.weight'].T
        u = h @ p[pre + 'mlp.up_proj.weight'].T
        x = x + (torch.nn.functional.silu(g) * u) @ p[pre + 'mlp.down_proj.weight'].T
    x = rms_norm(x, p['model.norm.weight'], eps)
    head = p['model.embed_tokens.weight'] if cfg['tie_word_embeddings'] else p['lm_head.weight']
    return x @ head.T


def make_params(cfg):
    V, C, F = cfg['vocab_size'], cfg['hidden_size'], cfg['intermediate_size']
    H, Hkv = cfg['num_attention_heads'], cfg['num_key_value_heads']
    D = C // H
    qwen = cfg['architectures'][0] == 'Qwen2ForCausalLM'
    p = {'model.embed_tokens.weight': torch.randn(V, C, dtype=DT) * 0.5}
    for i in range(cfg['num_hidden_layers']):
        pre = f'model.layers.{i}.'
        p[pre + 'input_layernorm.weight'] = 1 + 0.1 * torch.randn(C, dtype=DT)
        p[pre + 'post_attention_layernorm.weight'] = 1 + 0.1 * torch.randn(C, dtype=DT)
        for n, o in (('q_proj', H * D), ('k_proj', Hkv * D), ('v_proj', Hkv * D)):
            p[pre + f'self_attn.{n}.weight'] = torch.randn(o, C, dtype=DT) / math.sqrt(C)
            if qwen:
                p[pre + f'self_attn.{n}.bias'] = 0.1 * torch.randn(o, dtype=DT)
        p[pre + 'self_attn.o_proj.weight'] = torch.randn(C, H * D, dtype=DT) / math.sqrt(C)
        p[pre + 'mlp.gate_proj.weight'] = torch.randn(F, C, dtype=DT) / math.sqrt(C)
        p[pre + 'mlp.up_proj.weight'] = torch.randn(F, C, dtype=DT) / math.sqrt(C)
        p[pre + 'mlp.down_proj.weight'] = torch.randn(C, F, dtype=DT) / math.sqrt(F)
    p['model.norm.weight'] = 1 + 0.1 * torch.randn(C, dtype=DT)
    if not cfg['tie_word_embeddings']:
        p['lm_head.weight'] = torch.randn(V, C, dtype=DT) / math.sqrt(C)
    for t in p.values():
        t.requires_grad_(True)
    return p


def write_safetensors(path, tensors, meta):
    header, blobs, off = {'__metadata__': meta}, [], 0
    for name in sorted(tensors):
        a = tensors[name].detach().to(torch.float32).contiguous()
        b = a.numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def golden(name, cfg):
    p = make_params(cfg)
    B, T, V = 2, 9, cfg['vocab_size']
    ids = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    targets[0, 0] = -100
    targets[1, 3] = -100
    logits = forward(p, cfg, ids)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-100)
    loss.backward()
    # copies: the AdamW steps below update p in place
    out = {k: v.detach().clone() for k, v in p.items()}
    out.update({'grad.' + k: v.grad.clone() for k, v in p.items()})
    out['expected.logits'] = logits
    out['input.ids'] = ids.to(DT)
    out['input.targets'] = targets.to(DT)
    # three AdamW steps, decay on matrices only (our defaultGroups), then the loss again
    mats = [v for v in p.values() if v.dim() >= 2]
    vecs = [v for v in p.values() if v.dim() < 2]
    opt = torch.optim.AdamW([{'params': mats, 'weight_decay': 0.1}, {'params': vecs, 'weight_decay': 0.0}],
                            lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    step_losses = []
    for _ in range(3):
        opt.zero_grad()
        l = torch.nn.functional.cross_entropy(forward(p, cfg, ids).reshape(-1, V), targets.reshape(-1), ignore_index=-100)
        step_losses.append(l.item())
        l.backward()
        opt.step()
    final = torch.nn.functional.cross_entropy(forward(p, cfg, ids).reshape(-1, V), targets.reshape(-1), ignore_index=-100)
    step_losses.append(final.item())
    meta = {'config': json.dumps(cfg), 'loss': repr(loss.item()), 'adamw': json.dumps({'lr': 1e-2, 'weight_decay': 0.1, 'losses': step_losses}),
            'generator': 'scripts/dev/golden-llama.py (torch %s, float64)' % torch.__version__}
    path = f'test/fixtures/model/golden-{name}.safetensors'
    write_safetensors(path, out, meta)
    print(path, 'loss', loss.item(), 'adamw losses', step_losses)


base = {'vocab_size': 61, 'hidden_size': 32, 'intermediate_size': 48, 'num_hidden_layers': 2,
        'num_attention_heads': 4, 'num_key_value_heads': 2, 'hidden_act': 'silu', 'max_position_embeddings': 64,
        'rms_norm_eps': 1e-5, 'rope_theta': 10000.0, 'rope_scaling': None, 'bos_token_id': 1, 'eos_token_id': 2}
golden('llama', {**base, 'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'tie_word_embeddings': False,
                 'attention_bias': False})
golden('qwen2', {**base, 'architectures': ['Qwen2ForCausalLM'], 'model_type': 'qwen2', 'tie_word_embeddings': True,
                 'num_key_value_heads': 1, 'rope_theta': 1000000.0, 'rms_norm_eps': 1e-6})
