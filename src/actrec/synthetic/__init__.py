"""Everything generated: demo videos (`synth`), 3-D bodies and their skeletons (`body`, `skeleton`)
and the built-in model trained on them (`builtin`, `builtin.pt`)."""
