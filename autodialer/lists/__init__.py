"""Contact lists: reading CSV/XLSX, phone normalisation, per-row validation (no database)."""
