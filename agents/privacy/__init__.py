"""Personal-data detection and masking, used by ingestion, tools and the runtime."""
