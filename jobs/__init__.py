"""RQ entry points. Each job takes ids only, loads what it needs, and calls into ``integration``."""
