"""c360: a Customer 360 view for a bank with a retail arm."""

__version__ = "0.1.0"
