"""Exports of the analytics layer to its consumers (DynamoDB profiles, dashboards)."""
