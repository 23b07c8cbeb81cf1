"""zhcurate pipeline spine: config, stages, executors, readers/writers, versioned store."""

__version__ = "0.1.0"
