"""The objective: loss functions (plain TensorFlow functions), masks and colour controls."""
