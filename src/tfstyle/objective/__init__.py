"""The objective: loss functions (plain TensorFlow functions), masks, colour controls and the temporal loss."""
