"""Real networks: a numpy MLP (:mod:`verify.networks.mlp`), the §7.2 fine-tuning experiment in miniature
(:mod:`verify.networks.finetune`) and the theorems' constants along a real fine-tuning run
(:mod:`verify.networks.local_theory`)."""
