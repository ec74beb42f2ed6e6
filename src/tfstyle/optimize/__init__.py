"""Image optimisation: the loops, one scale (stylizer), coarse to fine (multiscale), tiles, memory.

Imports point one way: multiscale -> tiling/memory -> stylizer -> loops. The loop never imports the
planner that drives it; the planner hands memory planning the loss network (a ``Backbone``) it built,
and the optimisers are chosen through ``tfstyle.config.OPTIMIZERS_REGISTRY``.
"""
