"""courtarchive: archive, link and analyse England & Wales court lists, lawfully."""
__version__ = "0.1.0"
