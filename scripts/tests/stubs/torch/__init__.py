"""The few `torch` names scripts/compare.py uses (see ../README.md)."""
import random

__version__ = "0.0-stub"
float32 = "float32"
threads = None


def set_num_threads(count):
    global threads
    threads = count


class Generator:
    def manual_seed(self, seed):
        self.random = random.Random(seed)
        return self


def randint(low, high, size, generator):
    rows, columns = size
    return [[generator.random.randrange(low, high) for _ in range(columns)] for _ in range(rows)]


class inference_mode:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
