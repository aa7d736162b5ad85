"""The mathematical objects of the objective: losses, penalties, the Problem and its statistics."""
