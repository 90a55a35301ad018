"""Run management: hyper checks, seeding, run folders, logs, checkpoints, stop signals, the epoch loop, grid cells
and their run folders (keys, locks, state)."""
