"""The harness: problems, sketches, the batched Bernoulli-LoRA runner, statistics and checks."""

__version__ = "0.1.0"
