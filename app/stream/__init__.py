"""The stream layer: Faust app, topics, tables and the consumer's batch lane, wired to the pure core."""
