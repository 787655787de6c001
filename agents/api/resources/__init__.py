"""REST resources: agents, runs, conversations, knowledge bases and documents, usage."""
