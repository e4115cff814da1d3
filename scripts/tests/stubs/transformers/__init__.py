"""A `GPT2LMHeadModel` stand-in for scripts/compare.py's tests (see ../README.md)."""
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import torch

SECONDS_PER_TOKEN = 0.0002


class GPT2LMHeadModel:
    @classmethod
    def from_pretrained(cls, directory, torch_dtype=None):
        assert torch_dtype == torch.float32
        model = cls()
        model.config = SimpleNamespace(**json.loads((Path(directory) / "config.json").read_text()))
        return model

    def eval(self):
        return self

    def __call__(self, ids, past_key_values=None, use_cache=True, logits_to_keep=None):
        assert use_cache and logits_to_keep == 1
        assert all(0 <= token < self.config.vocab_size for row in ids for token in row)
        time.sleep(SECONDS_PER_TOKEN * len(ids) * len(ids[0]))
        # the tests read the order in which the engines and the bandwidth probes ran from one log
        if os.environ.get("COMPARE_TEST_LOG"):
            with open(os.environ["COMPARE_TEST_LOG"], "a") as log:
                log.write(json.dumps(["PyTorch", len(ids), len(ids[0])]) + "\n")
        return SimpleNamespace(past_key_values=(past_key_values or 0) + len(ids[0]))
