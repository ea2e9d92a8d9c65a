"""Data sets: the DataModule contract, splits, transforms, duplicate detection."""
