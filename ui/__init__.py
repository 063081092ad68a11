"""Helpers of the Streamlit app (``app.py``): strings, scenario state, ensemble runner, charts, discovery
results.

The package sits on top of the public ``sim`` API and is never imported by the model core, so the model
runs (and its tests pass) without Streamlit installed. Only :mod:`app` itself imports Streamlit; these
modules are plain Python so that they can be tested without a running app and imported by the worker
processes of the app's pool without pulling in the web server.
"""
