"""PyTorch models as problems of the suite, and Bernoulli-LoRA rounds on LoRA layers (optional extra ``torch``).

:func:`from_module` turns one weight matrix of a module, a loss and a data loader into a batched
finite-sum problem (:class:`TorchProblem`); :func:`bernoulli_lora_round` runs one round of the chain on a
peft-style LoRA layer (:class:`LoRALinear`, or peft's own ``lora.Linear``).  Install with
``pip install -e '.[torch]'``.
"""

from verify.pytorch.lora import LoRALinear, Round, bernoulli_lora_round
from verify.pytorch.problem import TorchProblem, from_module

__all__ = ["LoRALinear", "Round", "TorchProblem", "bernoulli_lora_round", "from_module"]
