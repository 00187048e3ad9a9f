"""Worker wiring: the only place that turns settings into adapters, activities and a Worker."""
