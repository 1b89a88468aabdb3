"""vistransfer: interpretation-based indirect knowledge transfer.

Data flow (one subpackage per stage)::

    data/ -> models/teacher -> synthesis/ (generator + activation maximization)
          -> SyntheticDataset -> students/ -> evaluation -> report
"""

__version__ = "0.5.0"
