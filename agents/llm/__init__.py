"""The gateway to models: the only package that imports openai."""
