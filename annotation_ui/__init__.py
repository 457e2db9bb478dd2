"""The Streamlit annotation app: pages that draw factory.annotation, nothing more."""
