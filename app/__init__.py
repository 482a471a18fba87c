"""The Streamlit app: UI only. Library calls and caching live in :mod:`app.services`."""
