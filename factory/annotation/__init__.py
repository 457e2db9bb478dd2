"""The human half of collaborative annotation: accounts, ranking tasks, consensus.

- ``accounts``: annotators and admins, passwords hashed with argon2
- ``tasks``: tasks from a job's samples, who works on what (row locks on PostgreSQL), judgments
- ``consensus``: rankings -> preference pairs and a consensus best response; agreement
- ``outputs``: a task's judgments written as preference pairs and SFT lines for the export
- ``stats``: what the admin pages show

The Streamlit app (``annotation_ui/``) only draws these; it holds no rules of its own.
"""
