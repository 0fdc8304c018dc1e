"""Export jobs: their record, status transitions and error messages."""
