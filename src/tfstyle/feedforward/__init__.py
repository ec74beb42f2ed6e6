"""Feed-forward ("real-time") style networks: the networks and their model folders, photo data,
training, applying."""
