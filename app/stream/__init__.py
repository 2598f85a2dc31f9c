"""The stream layer: Faust app, topics, tables and agents wired to the pure core."""
