#!/usr/bin/python3
# golden-llama.py — dev-only: writes test/fixtures/model/golden-*.safetensors, the golden values the TypeScript
# decoder is checked against. A from-scratch LLaMA / Qwen2 / Qwen3 in plain torch ops (float64), following HF
# transformers' semantics: rotate_half RoPE, RMSNorm (x * rsqrt(mean(x^2) + eps) * w), SwiGLU, GQA by repeating
# k/v heads, causal softmax attention, untied or tied head, Qwen2's q/k/v biases, Qwen3's per-head q/k RMSNorm
# and free head_dim, rope_scaling llama3 / linear / dynamic (as transformers 4.4x modeling_rope_utils defines
# them), HF's defaults for fields a LLaMA-1/2 config omits, mean cross-entropy with ignore_index -100, then
# three torch.optim.AdamW steps. Uses nothing but torch (Debian python3-torch 1.13);
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


def head_dim(cfg):
    return cfg.get('head_dim') or cfg['hidden_size'] // cfg['num_attention_heads']


def inv_freq(cfg, seq_len):
    # the D/2 rotation frequencies, rewritten per rope_scaling type
    D = head_dim(cfg)
    theta = cfg.get('rope_theta', 10000.0)
    rs = cfg.get('rope_scaling') or {}
    kind = rs.get('rope_type', rs.get('type', 'default'))
    exps = torch.arange(0, D, 2, dtype=DT) / D
    if kind == 'dynamic':
        L = cfg['max_position_embeddings']
        if seq_len > L:
            theta = theta * ((rs['factor'] * seq_len / L) - (rs['factor'] - 1)) ** (D / (D - 2))
    inv = theta ** -exps
    if kind == 'linear':
        inv = inv / rs['factor']
    if kind == 'llama3':
        factor, lo, hi = rs['factor'], rs['low_freq_factor'], rs['high_freq_factor']
        orig = rs['original_max_position_embeddings']
        wl = 2 * math.pi / inv
        ratio = orig / wl
        mix = ((ratio - lo) / (hi - lo)).clamp(0, 1)  # 0: slow band (inv/factor), 1: fast band (kept)
        inv = mix * inv + (1 - mix) * inv / factor
    return inv


def rope(x, pos, inv):  # x (B, H, T, D), pos (B, T)
    f = pos[..., None].to(DT) * inv  # (B, T, D/2)
    emb = torch.cat((f, f), dim=-1)[:, None]  # (B, 1, T, D)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def forward(p, cfg, ids):
    B, T = ids.shape
    C, H = cfg['hidden_size'], cfg['num_attention_heads']
    Hkv = cfg.get('num_key_value_heads') or H
    D = head_dim(cfg)
    eps = cfg['rms_norm_eps']
    pos = torch.arange(T)[None].expand(B, T)
    inv = inv_freq(cfg, T)  # positions 0..T-1: seq_len T
    x = p['model.embed_tokens.weight'][ids]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(cfg['num_hidden_layers']):
        pre = f'model.layers.{i}.'
        h = rms_norm(x, p[pre + 'input_layernorm.weight'], eps)
        def proj(name):
            y = h @ p[pre + f'self_attn.{name}.weight'].T
            b = p.get(pre + f'self_attn.{name}.bias')
            return y + b if b is not None else y
        q = proj('q_proj').view(B, T, H, D)
        k = proj('k_proj').view(B, T, Hkv, D)
        if pre + 'self_attn.q_norm.weight' in p:  # Qwen3: RMSNorm of every head's vector
            q = rms_norm(q, p[pre + 'self_attn.q_norm.weight'], eps)
            k = rms_norm(k, p[pre + 'self_attn.k_norm.weight'], eps)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = proj('v_proj').view(B, T, Hkv, D).transpose(1, 2)
        q, k = rope(q, pos, inv), rope(k, pos, inv)
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~causal, float('-inf'))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * D)
        x = x + a @ p[pre + 'self_attn.o_proj.weight'].T
        h = rms_norm(x, p[pre + 'post_attention_layernorm.weight'], eps)
        g = h @ p[pre + 'mlp.gate_proj.weight'].T
        u = h @ p[pre + 'mlp.up_proj.weight'].T
        x = x + (torch.nn.functional.silu(g) * u) @ p[pre + 'mlp.down_proj.weight'].T
    x = rms_norm(x, p['model.norm.weight'], eps)
    head = p['model.embed_tokens.weight'] if cfg.get('tie_word_embeddings', False) else p['lm_head.weight']
    return x @ head.T


def make_params(cfg):
    V, C, F = cfg['vocab_size'], cfg['hidden_size'], cfg['intermediate_size']
    H = cfg['num_attention_heads']
    Hkv = cfg.get('num_key_value_heads') or H
    D = head_dim(cfg)
    qwen = cfg['architectures'][0] == 'Qwen2ForCausalLM'
    qwen3 = cfg['architectures'][0] == 'Qwen3ForCausalLM'
    p = {'model.embed_tokens.weight': torch.randn(V, C, dtype=DT) * 0.5}
    for i in range(cfg['num_hidden_layers']):
        pre = f'model.layers.{i}.'
        p[pre + 'input_layernorm.weight'] = 1 + 0.1 * torch.randn(C, dtype=DT)
        p[pre + 'post_attention_layernorm.weight'] = 1 + 0.1 * torch.randn(C, dtype=DT)
        for n, o in (('q_proj', H * D), ('k_proj', Hkv * D), ('v_proj', Hkv * D)):
            p[pre + f'self_attn.{n}.weight'] = torch.randn(o, C, dtype=DT) / math.sqrt(C)
            if qwen:
                p[pre + f'self_attn.{n}.bias'] = 0.1 * torch.randn(o, dtype=DT)
        p[pre + 'self_attn.o_proj.weight'] = torch.randn(C, H * D, dtype=DT) / math.sqrt(H * D)
        if qwen3:
            p[pre + 'self_attn.q_norm.weight'] = 1 + 0.1 * torch.randn(D, dtype=DT)
            p[pre + 'self_attn.k_norm.weight'] = 1 + 0.1 * torch.randn(D, dtype=DT)
        p[pre + 'mlp.gate_proj.weight'] = torch.randn(F, C, dtype=DT) / math.sqrt(C)
        p[pre + 'mlp.up_proj.weight'] = torch.randn(F, C, dtype=DT) / math.sqrt(C)
        p[pre + 'mlp.down_proj.weight'] = torch.randn(C, F, dtype=DT) / math.sqrt(F)
    p['model.norm.weight'] = 1 + 0.1 * torch.randn(C, dtype=DT)
    if not cfg.get('tie_word_embeddings', False):
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


def golden(name, cfg, T=9):
    p = make_params(cfg)
    B, V = 2, cfg['vocab_size']
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
# Qwen3: head_dim 12 while hidden / heads = 8, per-head q/k norms, no biases, tied
golden('qwen3', {**base, 'architectures': ['Qwen3ForCausalLM'], 'model_type': 'qwen3', 'tie_word_embeddings': True,
                 'head_dim': 12, 'attention_bias': False, 'rope_theta': 1000000.0, 'rms_norm_eps': 1e-6,
                 'use_sliding_window': False, 'sliding_window': None, 'max_window_layers': 2})
# Llama 3.x rope_scaling llama3: with D = 8 and theta 100 the wavelengths 6.3, 19.9, 62.8, 199 fall in the kept
# (< 32/4), interpolated and slowed (> 32/1) bands; 40 positions pass original_max_position_embeddings 32
golden('llama3', {**base, 'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'tie_word_embeddings': True,
                  'head_dim': 8, 'rope_theta': 100.0, 'max_position_embeddings': 128, 'attention_bias': False,
                  'mlp_bias': False, 'rope_scaling': {'rope_type': 'llama3', 'factor': 4.0, 'low_freq_factor': 1.0,
                  'high_freq_factor': 4.0, 'original_max_position_embeddings': 32}}, T=40)
# linear (old spelling "type"): positions / 2
golden('linear', {**base, 'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'tie_word_embeddings': False,
                  'rope_scaling': {'type': 'linear', 'factor': 2.0}})
# dynamic NTK: 24 positions past max_position_embeddings 16 grow the base
golden('dynamic', {**base, 'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'tie_word_embeddings': False,
                   'max_position_embeddings': 16, 'rope_scaling': {'rope_type': 'dynamic', 'factor': 2.0}}, T=24)
# LLaMA-1/2 style: no head_dim / num_key_value_heads / rope_theta / max_position_embeddings (HF defaults apply),
# max_sequence_length and pad_token_id -1 as early conversions wrote them, an odd (extended) vocabulary
golden('llama2', {'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'vocab_size': 67, 'hidden_size': 32,
                  'intermediate_size': 44, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'hidden_act': 'silu',
                  'rms_norm_eps': 1e-6, 'max_sequence_length': 2048, 'bos_token_id': 1, 'eos_token_id': 2,
                  'pad_token_id': -1, 'tie_word_embeddings': False, 'initializer_range': 0.02, 'use_cache': True,
                  'torch_dtype': 'float16', 'transformers_version': '4.28.0.dev0'})
