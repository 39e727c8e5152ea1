"""Marshmallow schemas: request bodies, query arguments and responses, one module per resource."""
