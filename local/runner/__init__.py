"""The local Lambda runner: each function of template.yaml in worker processes of its own, started
with the interpreter of its Runtime, the layer as Lambda lays it out and only its own environment."""
