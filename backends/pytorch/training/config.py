"""The settings of one training run, as a frozen record resolved from flags and a resumed run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from cnndsl.errors import CnnUsageError

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step", "constant")
AMP_TYPES = ("bf16", "fp16")


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides what a run computes; stored in its checkpoint so --resume repeats it."""

    data: str | None = None  # an image folder (per class, or train/ and val/) or an .npz file
    val_data: str | None = None  # a separate validation folder or .npz (else data/val, else a split)
    val_fraction: float = 0.1  # held out of `data` when it has no val/ part; 0 trains on everything
    epochs: int = 10
    batch: int = 64
    optimizer: str = "sgd"
    lr: float | None = None  # None: 0.01 for SGD, 0.001 for AdamW (their usual starting points)
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0  # 0 so that a regression (the edge filter) converges to the exact answer
    schedule: str = "cosine"
    step_size: int | None = None  # epochs between decays for --schedule step (None: a third of the run)
    gamma: float = 0.1  # the factor of each step decay
    seed: int = 0
    workers: int = 0  # in-memory data needs no loader processes; more helps only heavy augmentation
    crop_padding: int = 0  # random crop after zero-padding this many pixels (0: no cropping)
    flip: bool = False  # random horizontal flip
    mean: tuple[float, ...] | None = None  # None: `cnndsl run`'s defaults, so its --input agrees
    std: tuple[float, ...] | None = None
    normalize: bool = True
    device: str = "auto"
    amp: str | None = None  # autocast dtype: bf16 or fp16
    channels_last: bool = False
    compile: bool = False
    threads: int | None = None  # CPU threads per process (None: torch's default, one per core)

    def __post_init__(self) -> None:
        _check(self)  # also when built directly from Python, not only through resolve()

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 0.01 if self.optimizer == "sgd" else 0.001

    def stored(self) -> dict[str, Any]:
        """Plain values for the checkpoint (tuples become lists there)."""
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()
        }


def resolve(given: dict[str, Any], stored: dict[str, Any] | None = None) -> TrainingConfig:
    """The run's settings: flags given now, else those of the resumed run, else the defaults."""
    names = {field.name for field in fields(TrainingConfig)}
    values = {key: value for key, value in (stored or {}).items() if key in names}
    values.update({key: value for key, value in given.items() if value is not None})
    for key in ("mean", "std"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    return TrainingConfig(**values)


def _check(config: TrainingConfig) -> None:
    if config.data is None:
        raise CnnUsageError("cnndsl train needs --data (an image folder or an .npz file)")
    if config.epochs < 1:
        raise CnnUsageError(f"--epochs must be at least 1, found {config.epochs}")
    if config.batch < 1:
        raise CnnUsageError(f"--batch must be at least 1, found {config.batch}")
    if not 0 <= config.val_fraction < 1:
        raise CnnUsageError(f"--val-fraction must be at least 0 and below 1, found {config.val_fraction}")
    if config.learning_rate <= 0:
        raise CnnUsageError(f"--lr must be positive, found {config.learning_rate}")
    for name in ("momentum", "weight_decay"):
        if getattr(config, name) < 0:
            raise CnnUsageError(f"--{name.replace('_', '-')} must not be negative")
    if config.threads is not None and config.threads < 1:
        raise CnnUsageError(f"--threads must be at least 1, found {config.threads}")
    if config.workers < 0:
        raise CnnUsageError(f"--workers must not be negative, found {config.workers}")
    if config.crop_padding < 0:
        raise CnnUsageError(f"--crop-padding must not be negative, found {config.crop_padding}")
    if config.step_size is not None and config.step_size < 1:
        raise CnnUsageError(f"--step-size must be at least 1, found {config.step_size}")
    if config.std is not None and any(value == 0 for value in config.std):
        raise CnnUsageError("--std must not contain 0")
    choices = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            raise CnnUsageError(
                f"--{name} must be one of {', '.join(allowed)}, found '{getattr(config, name)}'"
            )
    if config.amp is not None and config.amp not in AMP_TYPES:
        raise CnnUsageError(f"--amp takes bf16 or fp16, found '{config.amp}'")
