"""Page script for st.navigation; the page itself is annotation_ui.annotate.page."""

from annotation_ui.annotate import page

page()
