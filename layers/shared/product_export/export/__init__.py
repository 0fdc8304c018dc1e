"""The export: columns, planning, part writing and the job's lifecycle around them."""
