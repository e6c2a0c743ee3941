"""Training: the loop, checkpoints, devices, AMP and DDP, driven by the engine."""
