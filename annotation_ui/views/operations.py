"""Page script for st.navigation; the page itself is annotation_ui.operations.page."""

from annotation_ui.operations import page

page()
