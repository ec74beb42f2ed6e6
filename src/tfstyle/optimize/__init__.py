"""Image optimisation: the loops, one scale (stylizer), coarse to fine (multiscale), tiles, memory.

Imports point one way: multiscale -> tiling/memory -> stylizer -> loops. The loop never imports the
planner that drives it.
"""
