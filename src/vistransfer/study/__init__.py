"""A labelling study that runs itself (Table 4): people (or classifiers) label real images and
visualizations in a small web app; the report computes the paper's Table 4 with the metrics of Table 3.

``store`` (the SQLite study file), ``build`` (making one), ``app`` (the FastAPI web app),
``simulate`` (programmatic participants and a loopback server), ``report`` (Table 4).
"""
