"""Streamlit glue: cached loaders, shared widgets, inline errors. The only place that imports streamlit."""
