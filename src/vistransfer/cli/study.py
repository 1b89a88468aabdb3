"""vistransfer study: create, invite, serve, simulate, export, report (Table 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import VistransferError, require
from ..experiments import find_experiment, load_any
from ..experiments.cifar import CifarRunner
from ..experiments.cifar_spec import CifarExperiment
from ..models.train import predict_logits
from ..study.build import study_from_table3
from ..study.report import write_export, write_report
from ..study.store import Store
from .options import DataDirOpt

app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="A labelling study (Table 4): people or classifiers label real images and visualizations."
)
DbOpt = Annotated[Path, typer.Option("--db", help="The study file (SQLite).")]
ExperimentOpt = Annotated[str, typer.Option("--experiment", help="The Table 3 experiment whose networks and sets are used.")]


def _runner(experiment: str, data_dir, quiet: bool = True):
    exp = load_any(find_experiment(experiment, Path("experiments")))
    if not isinstance(exp, CifarExperiment):
        raise VistransferError(f"{experiment} is not a CIFAR-10 (kind = 'cifar') experiment; pass table3 or one like it")
    return CifarRunner(exp, data_dir, log=lambda m: typer.echo(m, err=True), progress=not quiet)


@app.command()
def create(
    db: DbOpt = Path("study.sqlite"),
    experiment: ExperimentOpt = "table3",
    n_sample: Annotated[int, typer.Option(help="Random real test images in the study.")] = 100,
    n_practice: Annotated[int, typer.Option(help="Practice images (real, with feedback; at most one per class).")] = 10,
    synthesis_seed: Annotated[Optional[int], typer.Option(help="Which seed's IMGS and IMGS+L (default: the experiment's first).")] = None,
    synthetic: Annotated[Optional[list[str]], typer.Option(help="More sets: NAME=file.pt (a synthetic set); repeatable.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample and the practice images.")] = 0,
    data_dir: DataDirOpt = None,
) -> None:
    """Make a study file from the Table 3 sets: the real sample, IMGS and IMGS+L (and any sets you name),
    with the ground truth and h1's and CNN1's labels, none of which is ever sent to a participant."""
    extra = {}
    for s in synthetic or []:
        name, sep, path = s.partition("=")
        if not sep or not name or not path:
            raise VistransferError(f"--synthetic must be NAME=file.pt, got {s!r}")
        extra[name] = Path(path)
    store = study_from_table3(_runner(experiment, data_dir), db, n_sample, n_practice, seed, synthesis_seed, extra)
    typer.echo(f"study: {store.n_study_items()} images in {', '.join(store.meta()['sets'])} -> {db}")


@app.command()
def invite(
    db: DbOpt = Path("study.sqlite"),
    n: Annotated[int, typer.Option("--n", help="How many participants to invite.")] = 5,
    base_url: Annotated[str, typer.Option(help="The address participants reach the server at.")] = "http://127.0.0.1:8000",
    prefix: Annotated[str, typer.Option(help="Participants are named PREFIX1, PREFIX2, ...")] = "subject",
) -> None:
    """Print one link per new participant, each with its own unguessable token (stored only as a hash:
    keep the links; they cannot be shown again)."""
    store = Store.open(db)
    taken = {p[0] for p in store.participants()}
    k = 1
    for _ in range(n):
        while f"{prefix}{k}" in taken:
            k += 1
        token = store.invite(f"{prefix}{k}")
        typer.echo(f"{prefix}{k}\t{base_url.rstrip('/')}/s/{token}")
        k += 1


@app.command()
def serve(
    db: DbOpt = Path("study.sqlite"),
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 behind a reverse proxy with TLS (README).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Run the labelling web app."""
    uvicorn = require("uvicorn", "study", "the labelling web app")
    require("fastapi", "study", "the labelling web app")
    from ..study.app import create_app

    app_ = create_app(db)
    typer.echo(f"serving {db} on http://{host}:{port} (Ctrl-C stops; answers are saved as they come)", err=True)
    uvicorn.run(app_, host=host, port=port, log_level="warning", proxy_headers=True, forwarded_allow_ips="127.0.0.1")


@app.command()
def simulate(
    db: DbOpt = Path("study.sqlite"),
    nets: Annotated[str, typer.Option(help="Which Table 3 networks take the study, e.g. cnn2,cnn3 (S1).")] = "cnn2,cnn3",
    experiment: ExperimentOpt = "table3",
    data_dir: DataDirOpt = None,
) -> None:
    """Programmatic participants: each network takes the whole study through the HTTP routes a browser
    uses, on a server this command runs on 127.0.0.1 and stops. They are marked as simulated."""
    require("httpx", "study", "simulated participants")
    require("fastapi", "study", "simulated participants")
    from ..study.simulate import serving, take_study

    store = Store.open(db)
    runner = _runner(experiment, data_dir)
    names = [n.strip() for n in nets.split(",") if n.strip()]
    unknown = [n for n in names if n not in runner.exp.nets]
    if unknown:
        raise VistransferError(f"unknown network(s) {unknown}; choose from {list(runner.exp.nets)}")
    with serving(db) as url:
        for name in names:
            module = runner.net(name).module
            token = store.invite(f"{name.upper()} (simulated)", kind="simulated")
            n = take_study(url, token, lambda x, m=module: predict_logits(m, x).argmax(1).numpy())
            typer.echo(f"{name.upper()} (simulated): {n} answers")


@app.command()
def export(
    db: DbOpt = Path("study.sqlite"), out: Annotated[Path, typer.Option("--out", "-o", help="CSV file of every answer.")] = Path("labels.csv")
) -> None:
    """Write every answer with its set, position, the ground truth and h1's and h_s's labels (CSV)."""
    typer.echo(f"labels: {write_export(Store.open(db), out)}")


@app.command()
def report(
    db: DbOpt = Path("study.sqlite"),
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for table.md, results.json and labels.csv.")] = Path("results/table4"),
) -> None:
    """Table 4: each participant's agreement with h1, and S2's fooling-example and hidden-message fractions."""
    typer.echo(f"results: {write_report(Store.open(db), out)}")
