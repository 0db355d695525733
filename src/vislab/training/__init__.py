"""Training: optimizers + schedules, metrics, checkpoints, the run directory, and the trainer."""
