"""Input and output: images (load, resize, atomic save) and resumable run states."""
