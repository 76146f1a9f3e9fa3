"""``restore train CONFIG.yaml``: train or fine-tune a model from a YAML config.

The config's ``task`` picks the trainer: ``sr`` (default) for single-frame super-resolution
(restore.training.train), ``vsr`` for the multi-frame model (restore.training.vsr_train),
``face`` for the face restorer (restore.training.face_train).
Run it under ``torchrun --nproc_per_node N -m restore.cli train ...`` for DDP.
"""

from __future__ import annotations

from pathlib import Path

import click

from restore.errors import UserError


@click.command("train")
@click.argument("config_path", metavar="CONFIG.yaml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--resume", is_flag=True, help="Continue the run in the config's work_dir from its last checkpoint.")
@click.option("--force", is_flag=True, help="Start from scratch, replacing checkpoints and the output weights.")
@click.option("--max-iters", type=click.IntRange(1), default=None,
              help="Stop after this iteration (counted from the start of the run); resume later.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--finetune", "finetune", metavar="WEIGHTS", default=None,
              help="Start from these trained weights (name or path) instead of random initialisation.")
@click.option("--corpus", "corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Train on this corpus instead of the config's first one (e.g. your reference shots of the "
                   "venue); further corpora of the config, such as the general replay, are kept.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the weights here instead of the config's output (its card goes next to it).")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads per process.")
@click.option("--quiet", is_flag=True, help="No progress line.")
def train_command(config_path: Path, resume: bool, force: bool, max_iters: int | None, device: str,
                  finetune: str | None, corpus: Path | None, output: Path | None, threads: int | None,
                  quiet: bool) -> None:
    """Train the model described by CONFIG.yaml (weights + model card)."""
    if resume and force:
        raise UserError("--resume and --force contradict each other")
    from restore.training.config import face_config, read_task

    task, raw = read_task(config_path)    # every config is checked whole before any work starts
    if task == "face":
        from restore.training.face_train import train_face

        config = face_config(raw, config_path)
        if output is not None:
            raise UserError("--output applies to SR configs; set the face config's output instead")
        written = train_face(config, resume=resume, max_iters=max_iters, device=device, finetune=finetune,
                             corpus=corpus, force=force, log=click.echo)
        click.echo(f"wrote {written}")
        return
    if task == "vsr":
        from restore.training.vsr_train import load_vsr_config, train_vsr

        if corpus:
            raise UserError("--corpus applies to sr and face configs; a vsr config names its crop packs "
                            "(`restore adapt` makes one from your reference shots)")
        config = load_vsr_config(config_path)
        if output is not None:
            config.output = output.resolve()
        train_vsr(config, resume=resume, force=force, max_iters=max_iters, device=device, echo=click.echo,
                  finetune=finetune)
        return
    from restore.training.config import load_config, override_corpus
    from restore.training.train import train

    config = load_config(config_path)
    if corpus is not None:
        override_corpus(config, corpus)
    if output is not None:
        config.output = output.resolve()
    try:
        result = train(config, resume=resume, force=force, max_iters=max_iters, device=device, finetune=finetune,
                       threads=threads, progress=not quiet, echo=click.echo)
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    if result.validation:
        metrics = ", ".join(f"{k} {v}" for k, v in result.validation.items() if k != "iteration")
        click.echo(f"validation (EMA, held-out): {metrics}")


def register(main: click.Group) -> None:
    main.add_command(train_command)
