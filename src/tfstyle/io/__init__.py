"""Input and output: images (load, resize, atomic save), resumable run states and the checks of output paths."""
