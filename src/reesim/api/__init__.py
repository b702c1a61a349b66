"""The web service and dashboard of reesim (``reesim serve``): :func:`reesim.api.app.create_app`."""
