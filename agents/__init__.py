"""Everything about agents, in sub-packages by concern (see the design notes' layout)."""
