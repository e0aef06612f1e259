"""Study 7, train and measure: one organism per seed on the comparison-with-a-distractor
task, then the whole pipeline on it and on its random-init copy.

Every measurement is kept per example (per held-out probe example, per intervention
pair), in arrays indexed (seed, example): the prompts are the same for every seed (the
task's streams do not depend on the training seed), so the analysis resamples seeds and
examples crossed. Prompt sets, all from the ``decorrelated`` split (C and D independent):
probe prompts ``0 .. probe_prompts - 1`` (a fixed 70/30 fit/held-out split), intervention
prompts after them; the ``test`` split (D agreeing with C as in training) gives the
accuracy the premise reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from regimescope.instruments.directions import mean_difference, subspace_patch, unit
from regimescope.instruments.interchange import (
    donor_activations,
    intervened_logits,
    train_subspace,
)
from regimescope.instruments.patching import logit_difference, patch_sweep
from regimescope.instruments.probes import collect, control_labels, fit_logistic, held_out_split
from regimescope.instruments.sites import random_init_copy, site_name
from regimescope.organisms.load import load_model
from regimescope.regimes.distractor import seeded, train_distractor
from regimescope.tasks.distractor import ANSWERS, DistractorTask, Quadruple
from regimescope.tasks.encode import encode_prompt

VARIABLES = ("causal", "distractor")  # C = [x1 > x2] decides the answer; D = [x3 > x4] does not
PROBE_TEST = 0.3  # held-out share of the probe prompts


@dataclass
class SeedMeasures:
    """Everything measured on one seed's organism (arrays over examples)."""

    accuracy: dict[str, np.ndarray]  # split -> [pairs] 1.0 where the greedy answer is right
    probes: dict[str, dict[str, np.ndarray]]  # "model"/"random_init" -> key -> [held-out] correct
    sites: list[str]  # probed sites (final position), in forward order
    effects: dict[str, np.ndarray]  # variable -> [pairs] LD moved by swapping its direction
    swing: np.ndarray  # [pairs] LD_base − LD_(C flipped): the answer's whole swing
    patching: np.ndarray  # [sites, positions] whole-site normalised effect (denoising C)
    patch_sites: list[str]  # rows of ``patching``
    iia: dict[str, dict[int, np.ndarray]]  # "model"/"random_init" -> k -> [pairs] correct


def probe_sites(model) -> list[str]:
    """The residual stream at the final position: the embeddings, then after each block."""
    layers = model.config.num_hidden_layers
    return [site_name(0, "resid_pre")] + [site_name(i, "resid_post") for i in range(layers)]


def patch_sites(model) -> list[str]:
    """Every site of every block, in forward order, for the whole-site patching grid."""
    kinds = ("resid_pre", "attn_out", "mlp_out", "resid_post")
    layers = model.config.num_hidden_layers
    return [site_name(i, kind) for i in range(layers) for kind in kinds]


def quadruples(task: DistractorTask, start: int, n: int, split: str = "decorrelated"):
    return [task.quadruple(i, split) for i in range(start, start + n)]


def ids_of(tokenizer, prompts: list[str]) -> torch.Tensor:
    """[N, T] token ids (every prompt of this task has the same length)."""
    return torch.tensor([encode_prompt(tokenizer, p) for p in prompts])


def answer_ids(tokenizer, answers) -> torch.Tensor:
    return torch.tensor([tokenizer.convert_tokens_to_ids(a) for a in answers])


# ---------------------------------------------------------------- representation


def probe_labels(qs: list[Quadruple], variable: str) -> tuple[np.ndarray, list[str]]:
    """(labels, control-task types): a variable's value and the two digits it is read from
    (Hewitt & Liang's word type: the control task gives each digit pair one random label)."""
    first = 0 if variable == "causal" else 2
    labels = np.array([getattr(q, variable) for q in qs])
    types = [f"{q.x[first]}{q.x[first + 1]}" for q in qs]
    return labels, types


def probe_correct(features, qs, sites, split) -> dict[str, np.ndarray]:
    """key ``"{variable}|{site}|{task|control}"`` -> [held-out] 1.0 where the probe is right."""
    fit, held = split
    found = {}
    for variable in VARIABLES:
        labels, types = probe_labels(qs, variable)
        control = control_labels(labels, types, seed=0)
        for site in sites:
            x = features[site][:, 0]  # [N, d] at the final position
            for which, target in (("task", labels), ("control", control)):
                probe = fit_logistic(x[fit], torch.as_tensor(target[fit]), 2)
                right = probe.predict(x[held]).numpy() == target[held]
                found[f"{variable}|{site}|{which}"] = right.astype(float)
    return found


# ---------------------------------------------------------------- interventions


def direction(features, qs, site: str, variable: str, fit) -> torch.Tensor:
    """θ̂: the unit mean difference of ``variable`` at ``site`` over the probe-fit prompts."""
    labels, _ = probe_labels(qs, variable)
    x = features[site][fit, 0]  # [n_fit, d]
    return unit(mean_difference(x, labels[fit]))


def direction_effects(model, tokenizer, pairs, thetas, site, swing_ids):
    """variable -> [pairs] LD_base − LD_patched when θ̂'s component at ``site`` (final
    position) comes from the prompt with that variable flipped: how far swapping the
    direction moves the answer (the same target and foil as the base's answer)."""
    base = ids_of(tokenizer, [q.prompt for q in pairs])
    target, foil = swing_ids
    ld_base = logit_difference(model(input_ids=base).logits[:, -1], target, foil).numpy()
    moved = {}
    for variable, theta in thetas.items():
        source = ids_of(tokenizer, [q.swapped(variable).prompt for q in pairs])
        ld = subspace_patch(model, base, source, target, foil, site, -1, theta[None])
        moved[variable] = ld_base - ld
    return moved, ld_base


def interchange(model, tokenizer, pairs, site, ks, steps, seed) -> dict[int, np.ndarray]:
    """k -> [held-out pairs] interchange correct: DAS on (base, random source) pairs for C,
    the counterfactual answer being the base's with the source's C (70/30 split).

    Scored between the two answer tokens (is the intervened N/Y choice the
    counterfactual's?), not by the argmax over the whole vocabulary: a random-init copy
    never ranks either answer token first, so a whole-vocabulary IIA would be 0 for it at
    every k and hand the trained model a free win."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    sources = [pairs[j] for j in order]
    base = ids_of(tokenizer, [q.prompt for q in pairs])
    source = ids_of(tokenizer, [q.prompt for q in sources])
    counterfactual = answer_ids(tokenizer, [ANSWERS[q.causal] for q in sources])
    answers = answer_ids(tokenizer, ANSWERS)  # [2]: N, Y
    fit, held = (torch.as_tensor(i) for i in held_out_split(len(pairs), PROBE_TEST, seed))
    donor = donor_activations(model, source[held], site, -1)  # [n_held, 1, d]
    found = {}
    for k in ks:
        basis = train_subspace(
            model, base[fit], source[fit], counterfactual[fit], site, -1, k, steps, seed=seed
        )
        logits = intervened_logits(model, base[held], donor, site, -1, basis)  # [n_held, V]
        chosen = answers[logits[:, answers].argmax(-1)]  # the likelier of N and Y
        found[k] = (chosen == counterfactual[held]).numpy().astype(float)
    return found


# ---------------------------------------------------------------- one seed


@torch.no_grad()
def greedy_correct(model, tokenizer, qs: list[Quadruple]) -> np.ndarray:
    """[N] 1.0 where the model's greedy answer token is the right one."""
    logits = model(input_ids=ids_of(tokenizer, [q.prompt for q in qs])).logits[:, -1]
    return (logits.argmax(-1) == answer_ids(tokenizer, [q.answer for q in qs])).numpy() * 1.0


@torch.no_grad()  # DAS turns gradients back on for its rotation only
def measure_seed(cfg, seed: int, model_dir, progress) -> SeedMeasures:
    """Probe, patch and intervene on the seed's trained organism."""
    model, tokenizer = load_model(model_dir)
    model.eval()
    task = DistractorTask(cfg.run.task)
    probe_qs = quadruples(task, 0, cfg.probe_prompts)
    pairs = quadruples(task, cfg.probe_prompts, cfg.pairs)
    split = held_out_split(len(probe_qs), PROBE_TEST, seed=0)
    sites = probe_sites(model)
    decision = sites[-1]
    progress(f"probes and interventions, seed {seed}")
    nets = {"model": model, "random_init": random_init_copy(model, seed)}
    probes, thetas = {}, {}
    for label, net in nets.items():
        prompts = [q.prompt for q in probe_qs]
        features = collect(net, tokenizer, prompts, sites, [[-1]] * len(prompts))
        probes[label] = probe_correct(features, probe_qs, sites, split)
        if label == "model":
            thetas = {v: direction(features, probe_qs, decision, v, split[0]) for v in VARIABLES}
    swing_ids = (
        answer_ids(tokenizer, [q.answer for q in pairs]),
        answer_ids(tokenizer, [q.swapped("causal").answer for q in pairs]),
    )
    effects, ld_base = direction_effects(model, tokenizer, pairs, thetas, decision, swing_ids)
    flipped = ids_of(tokenizer, [q.swapped("causal").prompt for q in pairs])
    ld_flipped = logit_difference(model(input_ids=flipped).logits[:, -1], *swing_ids).numpy()
    grid = whole_site_patching(model, tokenizer, pairs, swing_ids)
    progress(f"interchange (DAS), seed {seed}")
    iia = {
        label: interchange(net, tokenizer, pairs, decision, cfg.das_ks, cfg.das_steps, seed)
        for label, net in nets.items()
    }
    return SeedMeasures(
        accuracy={
            "test": greedy_correct(model, tokenizer, quadruples(task, 0, cfg.pairs, "test")),
            "decorrelated": greedy_correct(model, tokenizer, pairs),
        },
        probes=probes,
        sites=sites,
        effects=effects,
        swing=ld_base - ld_flipped,
        patching=grid,
        patch_sites=patch_sites(model),
        iia=iia,
    )


def whole_site_patching(model, tokenizer, pairs, swing_ids) -> np.ndarray:
    """[sites, positions] normalised effect of patching each whole site at each position
    from the base run into the C-flipped run (denoising: how much of the base's answer
    that one activation restores)."""
    base = ids_of(tokenizer, [q.prompt for q in pairs])
    flipped = ids_of(tokenizer, [q.swapped("causal").prompt for q in pairs])
    found = patch_sweep(model, base, flipped, *swing_ids, patch_sites(model), mode="denoise")
    return found.effect


def plan(cfg) -> list:
    """Every training run, one organism per seed, in the order they are trained."""
    return [seeded(cfg.run, seed) for seed in cfg.seeds]


def train_and_measure(cfg, ctx) -> list[SeedMeasures]:
    """Train (or reuse) every seed's organism, then measure it; in ``cfg.seeds`` order."""
    measures = []
    for seed, config in zip(cfg.seeds, plan(cfg), strict=True):
        ctx.progress(f"organism, seed {seed}")
        run = train_distractor(config, ctx.store)
        measures.append(measure_seed(cfg, seed, run.model_dir, ctx.progress))
    return measures
