"""Knowledge bases: parsing, chunking, embedding, retrieval and ingestion."""
