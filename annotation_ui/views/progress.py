"""Page script for st.navigation; the page itself is annotation_ui.admin.progress_page."""

from annotation_ui.admin import progress_page

progress_page()
