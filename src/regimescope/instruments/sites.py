"""Named activation sites on any Hugging Face causal LM: read them, cache them, replace them.

A transformers model has no hook points of its own; this module gives the residual stream
and each sublayer's output the names a TransformerLens user knows, and reaches them with
plain PyTorch forward hooks (removed on exit), so the same code runs on an organism and on
a user's checkpoint. Per block ``i``, every site is a ``[batch, pos, d_model]`` tensor:

    blocks.{i}.hook_resid_pre    the residual stream entering block i (i = 0: the embeddings)
    blocks.{i}.hook_attn_out     the attention sublayer's output (after its output projection),
                                 before it is added to the stream
    blocks.{i}.hook_resid_mid    resid_pre + attn_out: the stream entering the MLP sublayer
    blocks.{i}.hook_mlp_out      the MLP's output, before it is added to the stream
    blocks.{i}.hook_resid_post   the stream leaving block i (= resid_pre of block i + 1; for
                                 the last block, before the final norm, as in TransformerLens)

Two layouts are supported: Llama-family (``model.model.layers[i]`` with ``self_attn``,
``mlp`` and the two pre-norms: Llama, Qwen2/3, Mistral, SmolLM) and GPT-2
(``transformer.h[i]`` with ``attn``, ``mlp``, ``ln_1``, ``ln_2``). Anything else is
``BadInput``: a layout with extra norms (Gemma 2/3, OLMo 2) would make ``attn_out`` mean
something else.

How each site is reached (transformers 5.x: a decoder layer returns a tensor, an attention
module a tuple ``(output, weights)``; 4.x decoder layers return a tuple; both handled):
resid_pre is a pre-hook on the block, resid_post, attn_out and mlp_out are hooks on the
block's, the attention's and the MLP's outputs. resid_mid has no module of its own: it is
computed as resid_pre + attn_out (the same addition the block does, so bit-identical) and
replaced by changing attn_out to ``new - resid_pre`` (equal to ``new`` up to one rounding).

A hook is a function of the site's activation that returns a replacement or ``None``
(read only). Hooks run in the order given.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from regimescope.errors import BadInput

KINDS = ("resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post")  # in forward order
SUPPORTED = (
    "Llama-family (model.layers[i].self_attn/.mlp: Llama, Qwen2, Qwen3, Mistral, SmolLM)"
    " and GPT-2 (transformer.h[i].attn/.mlp)"
)
SITE = re.compile(r"blocks\.(\d+)\.hook_(\w+)")
Hook = Callable[[Tensor], Tensor | None]


@dataclass(frozen=True)
class Layout:
    family: str  # "llama" or "gpt2"
    blocks: nn.ModuleList  # the decoder blocks, in order
    attn: str  # attribute of a block holding its attention module
    mlp: str  # attribute of a block holding its MLP


def find_layout(model: nn.Module) -> Layout:
    """The block layout of ``model``, or BadInput naming the supported ones."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if isinstance(layers, nn.ModuleList) and len(layers) and _is_llama_block(layers[0]):
        return Layout("llama", layers, "self_attn", "mlp")
    blocks = getattr(getattr(model, "transformer", None), "h", None)
    if isinstance(blocks, nn.ModuleList) and len(blocks) and _is_gpt2_block(blocks[0]):
        return Layout("gpt2", blocks, "attn", "mlp")
    raise BadInput(f"no named sites for {type(model).__name__}; supported: {SUPPORTED}")


def _is_llama_block(block: nn.Module) -> bool:
    parts = ("self_attn", "mlp", "input_layernorm", "post_attention_layernorm")
    extra_norms = ("pre_feedforward_layernorm", "post_feedforward_layernorm")
    names = set(dict(block.named_children()))
    return set(parts) <= names and not names & set(extra_norms)


def _is_gpt2_block(block: nn.Module) -> bool:
    return {"attn", "mlp", "ln_1", "ln_2"} <= set(dict(block.named_children()))


def site_name(layer: int, kind: str) -> str:
    """``blocks.{layer}.hook_{kind}``."""
    return f"blocks.{layer}.hook_{kind}"


def site_names(model: nn.Module, kinds: Sequence[str] = KINDS) -> list[str]:
    """Every site of the given kinds, block by block in forward order."""
    for kind in kinds:
        _check_kind(kind)
    n_layers = len(find_layout(model).blocks)
    return [site_name(i, k) for i in range(n_layers) for k in KINDS if k in kinds]


def parse_site(name: str, n_layers: int) -> tuple[int, str]:
    """(layer, kind) of a site name, or BadInput naming the valid form."""
    match = SITE.fullmatch(name)
    if match is None:
        raise BadInput(f"bad site {name!r}; sites look like blocks.0.hook_resid_post")
    layer, kind = int(match.group(1)), match.group(2)
    _check_kind(kind)
    if layer >= n_layers:
        raise BadInput(f"site {name!r}: the model has blocks 0..{n_layers - 1}")
    return layer, kind


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise BadInput(f"unknown site kind {kind!r}; choose from: {', '.join(KINDS)}")


def _first(output):
    """The hidden states of a module output that may be a tensor or a tuple."""
    return output[0] if isinstance(output, tuple) else output


def _with_first(output, value: Tensor):
    return (value, *output[1:]) if isinstance(output, tuple) else value


def _output_hook(fn: Hook):
    def hook(module, args, output):
        new = fn(_first(output))
        return None if new is None else _with_first(output, new)

    return hook


def _input_hook(fn: Hook, after: Hook | None = None):
    """A forward pre-hook on a block: ``fn`` sees (and may replace) its hidden-states input,
    passed positionally or as ``hidden_states=``; ``after`` then sees the result."""

    def hook(module, args, kwargs):
        positional = bool(args)
        value = args[0] if positional else kwargs["hidden_states"]
        new = fn(value)
        if after is not None:
            after(value if new is None else new)
        if new is None:
            return None
        if positional:
            return (new, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": new}

    return hook


def _mid_hooks(block: nn.Module, attn: nn.Module, fn: Hook) -> list:
    """resid_mid = resid_pre + attn_out, read from the two hooks that see its parts."""
    seen: dict[str, Tensor] = {}

    def remember(value: Tensor) -> None:
        seen["pre"] = value

    def on_attn(module, args, output):
        pre, out = seen["pre"], _first(output)
        new = fn(pre + out)  # the block's own residual addition
        return None if new is None else _with_first(output, new - pre)

    return [
        block.register_forward_pre_hook(_input_hook(lambda x: None, remember), with_kwargs=True),
        attn.register_forward_hook(on_attn),
    ]


def _attach(layout: Layout, layer: int, kind: str, fn: Hook) -> list:
    block = layout.blocks[layer]
    attn, mlp = getattr(block, layout.attn), getattr(block, layout.mlp)
    if kind == "resid_pre":
        return [block.register_forward_pre_hook(_input_hook(fn), with_kwargs=True)]
    if kind == "attn_out":
        return [attn.register_forward_hook(_output_hook(fn))]
    if kind == "resid_mid":
        return _mid_hooks(block, attn, fn)
    if kind == "mlp_out":
        return [mlp.register_forward_hook(_output_hook(fn))]
    return [block.register_forward_hook(_output_hook(fn))]


@contextlib.contextmanager
def hooks(model: nn.Module, fwd_hooks: Sequence[tuple[str, Hook]]) -> Iterator[nn.Module]:
    """Run ``model`` with each ``(site name, hook)`` attached; all removed on exit.

    >>> with hooks(model, [("blocks.0.hook_resid_post", lambda x: x * 0)]):
    ...     logits = model(input_ids=ids).logits
    """
    layout = find_layout(model)
    handles = []
    try:
        for name, fn in fwd_hooks:
            layer, kind = parse_site(name, len(layout.blocks))
            handles.extend(_attach(layout, layer, kind, fn))
        yield model
    finally:
        for handle in handles:
            handle.remove()


def run_with_cache(
    model: nn.Module,
    input_ids: Tensor,
    names: Sequence[str],
    positions: Sequence[int] | None = None,
    **forward_kwargs,
) -> tuple[Tensor, dict[str, Tensor]]:
    """(logits [B, T, V], cache) of one forward pass; the cache holds only ``names``, each
    ``[B, T, d]`` (or ``[B, P, d]`` at ``positions``, negative counting from the end),
    detached. Gradients follow torch's current mode."""
    cache: dict[str, Tensor] = {}
    index = None if positions is None else list(positions)

    def keep(name: str) -> Hook:
        def hook(act: Tensor) -> None:  # act [B, T, d]
            cache[name] = (act if index is None else act[:, index]).detach().clone()

        return hook

    with hooks(model, [(name, keep(name)) for name in names]):
        logits = model(input_ids=input_ids, **forward_kwargs).logits
    return logits, cache


def put_at(values: Tensor, positions: Sequence[int]) -> Hook:
    """A hook writing ``values`` [B, P, d] into the site at ``positions`` (P of them)."""
    index = list(positions)

    def hook(act: Tensor) -> Tensor:  # act [B, T, d]
        act = act.clone()
        act[:, index] = values.to(act.dtype)
        return act

    return hook


def edit_at(edit: Callable[[Tensor], Tensor], positions: Sequence[int] | None = None) -> Hook:
    """A hook applying ``edit`` ([B, P, d] -> [B, P, d]) at ``positions`` (None = all)."""

    def hook(act: Tensor) -> Tensor:  # act [B, T, d]
        if positions is None:
            return edit(act)
        index = list(positions)
        act = act.clone()
        act[:, index] = edit(act[:, index])
        return act

    return hook


@torch.no_grad()
def patched_logits(
    model: nn.Module, input_ids: Tensor, name: str, values: Tensor, positions: Sequence[int]
) -> Tensor:
    """Logits [B, T, V] of a run with site ``name`` replaced by ``values`` [B, P, d] at
    ``positions``: one activation patch."""
    with hooks(model, [(name, put_at(values, positions))]):
        return model(input_ids=input_ids).logits


def random_init_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A model with the same config, freshly initialised under ``seed`` (nothing downloaded):
    the baseline every probe and interchange result must beat. Same dtype, device, eval."""
    parameter = next(model.parameters())
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        copy = type(model)(model.config)
    finally:
        torch.random.set_rng_state(state)
    return copy.to(device=parameter.device, dtype=parameter.dtype).eval()
