"""The pure detection core: no Kafka, no Faust. Event time is the only clock."""
