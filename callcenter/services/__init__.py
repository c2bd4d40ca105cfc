"""Application services: glue between the pure core and the adapters (AGI, AMI, database, bus)."""
