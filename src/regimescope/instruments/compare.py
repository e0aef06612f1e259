"""Two checkpoints on the same prompts: where their representations agree (CKA per layer
pair), how well each one's confidence tracks its correctness (ECE), and how varied its
samples are (EAD) — the measurements of study 8 for any pair of causal LMs.

- **Representations**: the residual stream after each block (``hidden_states`` of a
  transformers model: the embeddings, then one entry per block) at the last prompt token,
  one vector per prompt. Two models with different tokenizers are compared on the same
  prompts, so their rows align. CKA of model A's layer i and model B's layer j over the N
  prompts (``instruments.cka``: Kornblith et al. 2019, arXiv 1905.00414; linear, and the
  debiased form of Song et al. 2012 / Nguyen et al. 2021). Dimensionless, in [0, 1]; nan
  where a layer's states do not vary over the prompts (the embedding layer when every
  prompt ends with the same token): there is nothing to compare.
- **Confidence**: the probability a model assigns to its own greedy completion given the
  prompt, exp(Σ_t log p(y_t | prompt, y_<t)) over the generated tokens (EOS included when
  it stopped). For a task whose completion is the answer (the lab's short-answer tasks) it
  is the answer's probability, as in the GPT-4 report's calibration plot; with a
  scratchpad it is the probability of the whole completion, a stricter quantity.
- **Diversity**: EAD and distinct-n of k sampled completions per prompt (per input) and of
  one completion per prompt across prompts (``instruments.diversity``: Kirk et al. 2024,
  arXiv 2310.06452).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from regimescope.instruments.cka import debiased_cka, linear_cka
from regimescope.tasks.encode import encode_prompt


@torch.no_grad()
def last_token_states(model, tokenizer, prompts: Sequence[str]) -> list[torch.Tensor]:
    """Per layer (embeddings first), the [N, d] float64 residual stream at each prompt's
    last token (one forward pass per prompt, so no padding enters)."""
    device = next(model.parameters()).device
    rows: list[list[torch.Tensor]] = []
    for prompt in prompts:
        ids = torch.tensor([encode_prompt(tokenizer, prompt)], device=device)  # [1, T]
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states  # L+1 x [1, T, d]
        rows.append([h[0, -1].double().cpu() for h in hidden])
    return [torch.stack(layer) for layer in zip(*rows, strict=True)]  # L+1 x [N, d]


def cka_matrix(
    states_a: Sequence[torch.Tensor], states_b: Sequence[torch.Tensor], debiased: bool = False
) -> np.ndarray:
    """[L_a, L_b] CKA of every (layer of A, layer of B) pair over the same N inputs."""
    measure = debiased_cka if debiased else linear_cka
    return np.array([[measure(a, b) for b in states_b] for a in states_a])


@torch.no_grad()
def completion_probability(
    model, tokenizer, prompt: str, completion_ids: Sequence[int], finished: bool
) -> float:
    """exp(Σ log p(y_t | prompt, y_<t)) of the generated ids (and of EOS when the model
    stopped), teacher-forced in one pass."""
    device = next(model.parameters()).device
    prompt_ids = encode_prompt(tokenizer, prompt)
    target = list(completion_ids) + ([tokenizer.eos_token_id] if finished else [])
    if not target:
        return 1.0
    ids = torch.tensor([prompt_ids + target], device=device)  # [1, P + C]
    logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1]  # [C, V]: predicts y_t
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    picked = log_probs.gather(1, torch.tensor(target, device=device)[:, None])  # [C, 1]
    return float(picked.sum().exp())
