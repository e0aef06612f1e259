"""A character-level tokenizer over the task alphabet, built locally with ``tokenizers``.

Every synthetic task writes its prompts and targets in printable ASCII, so one token per
character keeps token classes trivially aligned with text and needs no training data.
It is wrapped as a ``PreTrainedTokenizerFast`` so it saves with ``save_pretrained`` and
loads with plain ``AutoTokenizer.from_pretrained(dir)``, without importing regimescope.
"""

from __future__ import annotations

import string

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)  # ids 0..3, in this order
ALPHABET = "".join(c for c in string.printable if c not in "\t\r\x0b\x0c")  # 96 chars


def build_tokenizer(alphabet: str = ALPHABET) -> PreTrainedTokenizerFast:
    """One token per character of ``alphabet`` plus pad/bos/eos/unk (ids 0-3).

    >>> tok = build_tokenizer()
    >>> tok.decode(tok("a+b")["input_ids"])
    'a+b'
    """
    if len(set(alphabet)) != len(alphabet):
        raise ValueError("alphabet has repeated characters")
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    vocab.update({char: len(SPECIAL_TOKENS) + i for i, char in enumerate(alphabet)})
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"(?m)."), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        padding_side="right",
        model_max_length=1024,
    )
