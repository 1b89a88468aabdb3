"""Data-free distillation: a student learns from a teacher file alone, through a pool of inputs that a
synthesis method makes for it round after round (``vistransfer distill``).

* :mod:`.options`: the run's settings (:class:`DistillConfig`), checked at the boundary;
* :mod:`.method`: the interface every synthesis method implements, and their registry;
* :mod:`.paper`: the paper's generator AM (the engine of :mod:`vistransfer.synthesis`), with or without
  the batch-norm prior and augmentation;
* :mod:`.deepinversion`: DeepInversion (Yin et al., 2020), pixels optimized directly, with or without
  the competition term;
* :mod:`.generator`: one generator reused across batches with a few steps each (Fang et al., 2022);
* :mod:`.loop`: the pool, the student's distillation from the teacher's soft outputs, checkpoints.
"""

from .loop import DistillResult, distill
from .method import METHODS, Method, create_method
from .options import DistillConfig

__all__ = ["METHODS", "DistillConfig", "DistillResult", "Method", "create_method", "distill"]
