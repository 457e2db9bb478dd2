"""Page script for st.navigation; the page itself is annotation_ui.admin.data_page, then the
reward model's scores beside people's rankings (annotation_ui.reward_view)."""

from annotation_ui.admin import data_page
from annotation_ui.reward_view import reward_section

data_page()
reward_section()
