"""Page script for st.navigation; the page itself is annotation_ui.sessions_admin."""

from annotation_ui.sessions_admin import sessions_page

sessions_page()
