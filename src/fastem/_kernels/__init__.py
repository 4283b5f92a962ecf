"""Compiled kernels. They never validate input: callers pass checked, C-contiguous arrays."""
