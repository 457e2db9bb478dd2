"""Page script for st.navigation; the page itself is annotation_ui.admin.lockouts_page."""

from annotation_ui.admin import lockouts_page

lockouts_page()
