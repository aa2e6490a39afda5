"""diffusers' schedulers as outside samplers (``simulate.outside``; issue 28, item 3).

``scheduler_sampler(NAME or instance, num_inference_steps)`` wraps any diffusers scheduler into
an :class:`~simulate.outside.OutsideSampler`:

- its own training schedule and default configuration, except ``clip_sample`` and
  ``thresholding`` off (clipping the x0-prediction is not affine);
- started as diffusers' pipelines start: x_T ~ N(0, init_noise_sigma^2 I) at its first
  timestep (the suite draws x_T; ``init_noise_sigma`` is read after ``set_timesteps``), each
  model call on ``scale_model_input(sample, t)``;
- the model is asked at the noise level of the timestep it is given: with the training
  abar_k (diffusers' ``alphas_cumprod``) and sigma_k = sqrt((1 - abar_k) / abar_k), a
  (possibly fractional) timestep t has sigma(t) = interp(t, k, sigma_k) (the interpolation
  diffusers' Euler family uses) and abar = 1 / (1 + sigma^2), v = sigma^2 / (1 + sigma^2);
- its ``prediction_type`` ("epsilon", "sample", "v_prediction") is the protocol's
  parametrization ("epsilon", "sample", "v");
- every noise its ``step`` draws comes from the suite's noise source: ``randn_tensor`` in the
  scheduler's module is replaced by the source for the duration of the run.

The scheduler runs in float32 (torch), as pipelines run it; its affine test is therefore at
float32 tolerance (``outside.AFFINE_RTOL``).

Notation: ``acp`` -> abar_k (training grid, k = 0..999); ``sigma_train`` -> sigma_k.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import math
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from simulate.noise_level import NoiseLevel
from simulate.schedules import from_beta

__all__ = [
    "DOCUMENTED_ORDER",
    "EXTRA_HINT",
    "SCHEDULERS",
    "float32_rtol",
    "DiffusersSampler",
    "MissingExtra",
    "scheduler_class",
    "scheduler_sampler",
]

#: What to install when diffusers (or torch) is missing.
EXTRA_HINT = 'pip install -e ".[diffusers]"'
#: The schedulers of the table (issue 28), with the keyword that sets their variant:
#: key -> (class name, configuration overrides).
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "DDPM": ("DDPMScheduler", {}),
    "DDIM": ("DDIMScheduler", {}),
    "DPMSolverMultistep-1": ("DPMSolverMultistepScheduler", {"solver_order": 1}),
    "DPMSolverMultistep-2": ("DPMSolverMultistepScheduler", {"solver_order": 2}),
    "DPMSolverMultistep-3": ("DPMSolverMultistepScheduler", {"solver_order": 3}),
    "DPMSolverSinglestep": ("DPMSolverSinglestepScheduler", {}),
    "UniPCMultistep": ("UniPCMultistepScheduler", {}),
    "EulerDiscrete": ("EulerDiscreteScheduler", {}),
    "EulerAncestralDiscrete": ("EulerAncestralDiscreteScheduler", {}),
    "HeunDiscrete": ("HeunDiscreteScheduler", {}),
    "LMSDiscrete": ("LMSDiscreteScheduler", {}),
    "DEISMultistep": ("DEISMultistepScheduler", {}),
}
#: Documented convergence order of each (global order in the step size; the stochastic
#: ones weak order 1): DDPM, DDIM, Euler (Song et al. 2021; Karras et al. 2022) 1;
#: Heun 2 (Karras et al. 2022); DPM-Solver(++) of order k is k (Lu et al. 2022, Thm 3.2);
#: the single-step default solver_order=2; UniPC default order 2 with its corrector giving 3
#: (Zhao et al. 2023, Thm 3.1: UniPC-p has order p+1); DEIS default order 2 (Zhang & Chen 2023);
#: LMS (linear multistep) order 4 (diffusers' default ``order=4`` of ``step``).
DOCUMENTED_ORDER: dict[str, int] = {
    "DDPM": 1, "DDIM": 1, "DPMSolverMultistep-1": 1, "DPMSolverMultistep-2": 2,
    "DPMSolverMultistep-3": 3, "DPMSolverSinglestep": 2, "UniPCMultistep": 3,
    "EulerDiscrete": 1, "EulerAncestralDiscrete": 1, "HeunDiscrete": 2, "LMSDiscrete": 4,
    "DEISMultistep": 2,
}  # fmt: skip
#: Relative round-off of a float32 scheduler's law: diffusers steps in float32 (eps 6e-8)
#: and reads float32 alphas_cumprod (ours reads the same values). Measured against our
#: float64 laws on the CIFAR-10 spectrum, last-level variances: DDIM 6.7e-6 / 2.3e-6 /
#: 5.5e-6 / 2.3e-5 at N = 10 / 50 / 250 / 1000, DDPM 2.4e-6 / 9.0e-6 at N = 10 / 50 (the
#: smallest eigenvalues' variances are ~1e-4 and lose digits to cancellation). The error
#: grows about linearly in N: 1e-6 per step (~16 ulps), with a floor of 5e-5 (~800 ulps,
#: 7x the worst measured at N <= 50), so a platform's different rounding does not flip it.
FLOAT32_STEP_RTOL = 1e-6
FLOAT32_FLOOR = 5e-5


def float32_rtol(n_steps: int) -> float:
    """Tolerance of a float32 scheduler's law after ``n_steps``: max(5e-5, 1e-6 n_steps)
    (``FLOAT32_STEP_RTOL``, ``FLOAT32_FLOOR``)."""
    return max(FLOAT32_FLOOR, FLOAT32_STEP_RTOL * n_steps)


_PARAMETRIZATION = {"epsilon": "epsilon", "sample": "sample", "v_prediction": "v"}
#: Configuration switched off because it is not affine (issue 28).
_NOT_AFFINE_OFF = ("clip_sample", "thresholding")


class MissingExtra(ImportError):
    """diffusers or torch is not installed: the message names ``EXTRA_HINT``."""


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingExtra(
            f"{name} is not installed ({exc}); install the extra: {EXTRA_HINT}"
        ) from None


def scheduler_class(name: str) -> Any:
    """The diffusers scheduler class ``name`` ("DDIMScheduler" or "diffusers.DDIMScheduler").

    Raises :class:`MissingExtra` without diffusers, ``ValueError`` for an unknown name."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"scheduler class name must be a non-empty str, got {name!r}")
    diffusers = _import("diffusers")
    short = name.removeprefix("diffusers.")
    cls = getattr(diffusers, short, None)
    if not (inspect.isclass(cls) and hasattr(cls, "step") and hasattr(cls, "set_timesteps")):
        known = sorted(n for n in dir(diffusers) if n.endswith("Scheduler"))
        raise ValueError(
            f"scheduler class {name!r} is not a diffusers scheduler; allowed: {', '.join(known)}"
        )
    return cls


def _make(cls: Any, overrides: dict[str, Any]) -> Any:
    """``cls`` with its default configuration, ``overrides`` and clipping/thresholding off."""
    params = inspect.signature(cls.__init__).parameters
    config = {k: False for k in _NOT_AFFINE_OFF if k in params}
    for key in overrides:
        if key not in params:
            raise ValueError(
                f"{cls.__name__} has no configuration key {key!r}; it has: "
                f"{', '.join(p for p in params if p != 'self')}"
            )
    with _third_party_warnings():
        return cls(**(config | overrides))


class DiffusersSampler:
    """A diffusers scheduler as an :class:`~simulate.outside.OutsideSampler` (module
    docstring). ``stop_at_last_level=True`` returns the state before the last ``step`` call,
    VP-scaled (``scale_model_input``), whose noise level is ``final_level``."""

    def __init__(
        self,
        scheduler: Any,
        num_inference_steps: int,
        *,
        name: str | None = None,
        stop_at_last_level: bool = False,
    ) -> None:
        torch = _import("torch")
        if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise ValueError(f"num_inference_steps={num_inference_steps!r} must be an int >= 1")
        prediction = getattr(scheduler.config, "prediction_type", "epsilon")
        if prediction not in _PARAMETRIZATION:
            raise ValueError(
                f"prediction_type={prediction!r} is not supported; allowed: "
                f"{', '.join(_PARAMETRIZATION)}"
            )
        self._torch = torch
        self.scheduler = scheduler
        self.num_inference_steps = num_inference_steps
        self.parametrization = _PARAMETRIZATION[prediction]
        self.name = name or f"{type(scheduler).__name__}(N={num_inference_steps})"
        self.stop_at_last_level = stop_at_last_level
        acp = scheduler.alphas_cumprod.double().cpu().numpy()
        self._sigma_train = np.sqrt((1.0 - acp) / acp)
        fresh = self._fresh()
        self.init_noise_sigma = float(fresh.init_noise_sigma)
        self.timesteps = fresh.timesteps.double().cpu().numpy()
        self.nfe = int(len(self.timesteps))
        self.final_level = self.level(self.timesteps[-1]) if stop_at_last_level else None

    def _fresh(self) -> Any:
        """A new scheduler of the same configuration, its timesteps set (no state carried)."""
        with _third_party_warnings():
            sch = type(self.scheduler).from_config(self.scheduler.config)
            sch.set_timesteps(self.num_inference_steps)
        return sch

    def level(self, t: float) -> NoiseLevel:
        """The noise level of timestep t: sigma = interp(t, k, sigma_k), abar = 1/(1+sigma^2)
        (module docstring)."""
        sigma = float(np.interp(float(t), np.arange(self._sigma_train.size), self._sigma_train))
        s2 = sigma * sigma
        return NoiseLevel(1.0 / (1.0 + s2), s2 / (1.0 + s2))

    def our_schedule(self) -> Any:
        """Our ``Schedule`` on this scheduler's grid: level t = 1..N is the t-th timestep from
        the last, beta_1 = 1 - abar(tau_{N-1}), beta_t = 1 - abar_t / abar_{t-1} (SCIENCE.md
        1.1), so our samplers step between the very levels diffusers steps between."""
        ab = np.array([float(self.level(t)) for t in self.timesteps])[::-1]
        beta = np.empty_like(ab)
        beta[0], beta[1:] = 1.0 - ab[0], 1.0 - ab[1:] / ab[:-1]
        return from_beta(beta, f"{self.name} grid")

    def at_last_level(self) -> DiffusersSampler:
        """The same scheduler stopped before its last step (its state at ``final_level``)."""
        return DiffusersSampler(
            self.scheduler, self.num_inference_steps, name=self.name + " at its last level",
            stop_at_last_level=True,
        )  # fmt: skip

    def __call__(self, x_T: Any, model: Any, schedule: Any, noise: Any) -> np.ndarray:
        """Run the scheduler's loop from x_T, as a diffusers pipeline does."""
        torch = self._torch
        sch = self._fresh()
        sample = torch.from_numpy(np.ascontiguousarray(x_T, dtype=np.float32))
        steps = list(sch.timesteps)
        with torch.no_grad(), _noise_from(sch, noise, torch), _third_party_warnings():
            for i, t in enumerate(steps):
                model_input = sch.scale_model_input(sample, t)
                if self.stop_at_last_level and i == len(steps) - 1:
                    return model_input.numpy()
                out = model(model_input.double().numpy(), self.level(float(t)))
                out = torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))
                sample = sch.step(out, t, sample, return_dict=True).prev_sample
        return sample.numpy()


#: diffusers (0.42) calls np.array on torch tensors, which numpy >= 2.4 warns about (torch's
#: __array__ takes no copy keyword); the warning is theirs and changes no number.
_THIRD_PARTY_WARNINGS = (
    "__array__ implementation doesn't accept a copy keyword",
    "__array_wrap__ must accept context and return_scalar arguments",
)


@contextlib.contextmanager
def _third_party_warnings() -> Iterator[None]:
    """Within the block, diffusers' numpy-2 DeprecationWarning (``_THIRD_PARTY_WARNINGS``) is
    ignored; every other warning keeps its filter."""
    with warnings.catch_warnings():
        for message in _THIRD_PARTY_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
        yield


@contextlib.contextmanager
def _noise_from(scheduler: Any, noise: Any, torch: Any) -> Iterator[None]:
    """Within the block, the scheduler module's ``randn_tensor`` draws from ``noise``."""
    module = sys.modules[type(scheduler).__module__]
    original = getattr(module, "randn_tensor", None)

    def randn_tensor(shape: Any, generator: Any = None, device: Any = None, dtype: Any = None,
                     layout: Any = None) -> Any:  # fmt: skip
        z = np.asarray(noise(tuple(int(s) for s in shape)))
        return torch.from_numpy(np.ascontiguousarray(z)).to(dtype or torch.float32)

    if original is not None:
        module.randn_tensor = randn_tensor
    try:
        yield
    finally:
        if original is not None:
            module.randn_tensor = original


def scheduler_sampler(
    scheduler: Any, num_inference_steps: int = 50, **config: Any
) -> DiffusersSampler:
    """A diffusers scheduler as an outside sampler: ``scheduler`` is a key of
    ``SCHEDULERS`` ("DPMSolverMultistep-2"), a class name ("EulerDiscreteScheduler",
    "diffusers.EulerDiscreteScheduler") or an instance (used with its configuration, clipping
    and thresholding switched off). ``config`` overrides configuration keys."""
    if isinstance(scheduler, str):
        if scheduler in SCHEDULERS:
            cls_name, overrides = SCHEDULERS[scheduler]
            name = f"{scheduler}(N={num_inference_steps})"
        else:
            cls_name, overrides, name = scheduler, {}, None
        instance = _make(scheduler_class(cls_name), overrides | config)
    else:
        if not (hasattr(scheduler, "step") and hasattr(scheduler, "config")):
            raise TypeError(
                f"scheduler must be a diffusers scheduler or its name, got {scheduler!r}"
            )
        off = {k: False for k in _NOT_AFFINE_OFF if k in scheduler.config}
        with _third_party_warnings():
            instance = type(scheduler).from_config({**scheduler.config, **off, **config})
        name = None
    if math.isnan(float(num_inference_steps)):
        raise ValueError("num_inference_steps must be a number")
    return DiffusersSampler(instance, num_inference_steps, name=name)
