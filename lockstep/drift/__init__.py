"""Pure functions over live objects: health assessment per kind (and, later, desired vs live)."""
