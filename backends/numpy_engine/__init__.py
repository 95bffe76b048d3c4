"""NumPy backend: a float32 inference engine that computes what PyTorch computes."""
