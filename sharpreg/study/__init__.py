"""Study tooling: sweeps over recipes, their aggregated report with paired tests, and sharpness measurements."""
