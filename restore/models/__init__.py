"""Architectures, weights loading (safetensors / weights_only), model cards and the weights registry."""
