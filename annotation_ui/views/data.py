"""Page script for st.navigation; the page itself is annotation_ui.admin.data_page."""

from annotation_ui.admin import data_page

data_page()
