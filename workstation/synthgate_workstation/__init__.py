"""synthgate on one workstation: one program for the agent's and the builder's commands."""
