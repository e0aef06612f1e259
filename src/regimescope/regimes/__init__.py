"""Training regimes: readable loops (pretrain, sft, rl, curricula) that write to the store."""
