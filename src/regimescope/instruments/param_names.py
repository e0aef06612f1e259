"""Module kind and layer index of a parameter, read from its name alone.

Works on the naming of common Hugging Face architectures, so checkpoint instruments never
need the model class:

| kind        | Llama / Qwen / Mistral          | GPT-2               | GPT-NeoX / Falcon          |
|-------------|---------------------------------|---------------------|----------------------------|
| `attn_q/k/v`| `self_attn.{q,k,v}_proj`        | (fused)             | (fused)                    |
| `attn_qkv`  | `qkv_proj`, `Wqkv`              | `attn.c_attn`       | `attention.query_key_value`|
| `attn_o`    | `self_attn.o_proj`              | `attn.c_proj`       | `attention.dense`          |
| `mlp`       | `mlp.{gate,up,down}_proj`       | `mlp.c_fc/c_proj`   | `mlp.dense_h_to_4h/4h_to_h`|
| `embedding` | `embed_tokens`, `lm_head`       | `wte`, `wpe`        | `embed_in`, `embed_out`    |
| `norm`      | `*norm` (incl. `q_norm`)        | `ln_1`, `ln_f`      | `*layernorm`               |

Anything else is `other`. Rules are tried in order (norms first, because Llama's
`post_attention_layernorm` mentions attention). The layer is the number after `layers.`,
`h.`, `blocks.`, `block.` or `layer.`; parameters outside the stack (embeddings, final
norm) have layer ``None``. ``layer_of`` turns that into a label for per-layer statistics.

>>> name = "model.layers.3.self_attn.q_proj.weight"
>>> module_kind(name), layer_index(name)
('attn_q', 3)
"""

from __future__ import annotations

import re

KINDS = ("attn_q", "attn_k", "attn_v", "attn_qkv", "attn_o", "mlp", "embedding", "norm", "other")

# (kind, pattern searched in the dotted name); the first match wins.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("norm", r"(^|[._])(\w*norm\w*|ln_?\w*|rms\w*)\."),
        ("embedding", r"(^|\.)(embed\w*|wte|wpe|lm_head|word_embeddings|position_embeddings)\."),
        ("attn_qkv", r"\.(c_attn|query_key_value|qkv_proj|qkv|wqkv|w_pack|in_proj\w*)\."),
        ("attn_q", r"\.(q_proj|q_lin|wq|query|to_q)\."),
        ("attn_k", r"\.(k_proj|k_lin|wk|key|to_k)\."),
        ("attn_v", r"\.(v_proj|v_lin|wv|value|to_v)\."),
        (
            "attn_o",
            r"\.(o_proj|out_proj|out_lin|wo|to_out)\.|(attn|attention)\.(output\.)?(c_proj|dense)\.",
        ),
        (
            "mlp",
            r"\.(mlp|ffn|feed_forward|intermediate|experts?|moe|output)\.|\.(gate|up|down|fc\d?|w[123])(_proj)?\.",
        ),
    )
)
_LAYER = re.compile(r"(?:^|\.)(?:layers|h|blocks|block|layer)\.(\d+)(?:\.|$)")


def module_kind(name: str) -> str:
    """The module kind of parameter ``name``: one of ``KINDS``.

    >>> [module_kind(n) for n in ("transformer.h.0.attn.c_attn.weight", "transformer.ln_f.bias")]
    ['attn_qkv', 'norm']
    """
    dotted = name.lower() + "."  # every rule ends at a dot, so the last component matches too
    for kind, pattern in _RULES:
        if pattern.search(dotted):
            return kind
    return "other"


def layer_index(name: str) -> int | None:
    """The transformer-block index in ``name``, or None outside the block stack.

    >>> layer_index("gpt_neox.layers.11.attention.dense.weight"), layer_index("model.norm.weight")
    (11, None)
    """
    match = _LAYER.search(name)
    return int(match.group(1)) if match else None


def layer_of(name: str) -> str:
    """The layer label of a parameter: ``layer_3`` for ``model.layers.3.mlp.up_proj.weight``,
    ``embed`` for token/position embeddings, else its module name (``norm``, ``lm_head``).

    >>> [layer_of(n) for n in ("transformer.h.11.attn.c_attn.weight", "transformer.wte.weight")]
    ['layer_11', 'embed']
    """
    index = layer_index(name)
    if index is not None:
        return f"layer_{index}"
    if "embed" in name or ".wte." in f".{name}" or ".wpe." in f".{name}":
        return "embed"
    parts = [p for p in name.split(".")[:-1] if p not in ("model", "transformer")]
    return parts[0] if parts else name
