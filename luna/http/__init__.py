"""The HTTP API: app factory, routes, middlewares, request models and handlers."""
