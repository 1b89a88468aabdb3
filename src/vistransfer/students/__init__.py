"""Students h2 (Table 1), all with one estimator interface: fit / predict / predict_proba."""

from .base import NotFittedError, Student
from .registry import canonical_name, create_student, is_neural, list_students, paper_name

__all__ = ["NotFittedError", "Student", "canonical_name", "create_student", "is_neural", "list_students", "paper_name"]
