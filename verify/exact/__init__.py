r"""Exact first and second moments of Bernoulli-LoRA on quadratic objectives (project issue 12).

On ``f(W) = f* + ½⟨W − W*, 𝒜(W − W*)⟩`` every method whose update is linear in its state given the
random draws (GD; SGD with additive Gaussian noise or finite-sum minibatches; PAGE; MVR; QGD and MARINA
with linear unbiased compressors; EF21 with a linear contractive compressor) moves the joint state
``z = (vec(W − W*), estimator state)`` by a random affine map, ``z⁺ = M z + c``.  With the homogeneous
coordinate ``ẑ = (z, 1)`` the second moment ``Σ = E[ẑ ẑᵀ]`` (which holds the first moment in its last
column) follows the linear recursion ``Σ⁺ = E[M̂ Σ M̂ᵀ]``; every expectation of a quadratic measure
(``E[f − f*]``, ``E‖∇f‖²``, the Lyapunov function, ``E‖W − W*‖²``) is a linear functional of ``Σ``.

Who declares what (the units of extension):

* a **problem** exposes its quadratic structure through ``problem.quadratic()`` →
  :class:`verify.exact.quadratic.Quadratic` (``A``, ``W_star``, ``f_star``, the stochastic oracle: an
  additive-noise covariance or the finite-sum components, and the clients);
* a **sketch distribution** its map ``Y ↦ E[H Y H]`` (``second_moment``, :mod:`verify.moments`);
* a **compressor** its ``linear_moments(d)``: ``E Q(x) = s·x`` and ``Y ↦ E[Q Y Qᵀ]``;
* an **estimator** its ``exact_transition(quad)`` → :class:`verify.exact.maps.Transition`: the state
  dimension, the direction ``G = K s``, and its initialisation and update as random affine maps built
  from the combinators of :mod:`verify.exact.maps`.

:mod:`verify.exact.engine` composes them (no switch on names), :mod:`verify.exact.model_check` compares
Monte-Carlo means of real runs with the exact expectations (two-sided), and
:mod:`verify.exact.certificate` decides the theorems' one-step inequalities for every state at once.

Modules are imported one by one (``from verify.exact.engine import exact_chain``); this package imports
nothing, so that :mod:`verify.estimators` and the problems can use :mod:`verify.exact.maps` lazily
without import cycles.
"""
