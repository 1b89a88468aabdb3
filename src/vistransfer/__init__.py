"""vistransfer: interpretation-based indirect knowledge transfer.

A trained teacher is probed with activation maximization through a small generator; its
visualizations become a synthetic training set; a student learns from them alone::

    import vistransfer as vt

    teacher = vt.load_teacher("teacher.pt")                       # ours, .pt2, TorchScript or a state_dict
    synthetic = vt.make_synthetic(teacher, vt.SynthesisConfig(n=2000))
    student = vt.create_student("cnn_id").fit(synthetic.x, synthetic.targets())
    print(vt.evaluate(student, vt.load_dataset("digits", "test")))
    vt.export_onnx(student, "student.onnx")

Data flow (one subpackage per stage): data/ -> models/ (teacher) -> synthesis/ (generator + AM)
-> SyntheticDataset -> students/ -> evaluation; pipeline.py strings them together for the CLI.
"""

from ._version import __version__
from .config import SynthesisConfig, TrainConfig
from .data import Split, list_datasets, load_dataset
from .errors import VistransferError
from .evaluation import evaluate
from .export import export_onnx
from .models.foreign import load_teacher
from .models.teacher import Teacher, train_teacher
from .pipeline import make_synthetic, synthesize_sharded
from .students import Student, create_student, list_students
from .synthesis.dataset import SyntheticDataset

__all__ = [
    "__version__",
    "SynthesisConfig",
    "TrainConfig",
    "Split",
    "list_datasets",
    "load_dataset",
    "VistransferError",
    "evaluate",
    "export_onnx",
    "load_teacher",
    "Teacher",
    "train_teacher",
    "make_synthetic",
    "synthesize_sharded",
    "Student",
    "create_student",
    "list_students",
    "SyntheticDataset",
]
