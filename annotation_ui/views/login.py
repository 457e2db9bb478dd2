"""Page script for st.navigation; the page itself is annotation_ui.login.page."""

from annotation_ui.login import page

page()
