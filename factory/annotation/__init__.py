"""The human half of collaborative annotation: accounts, ranking tasks, consensus.

- ``accounts``: annotators and admins, passwords hashed with argon2
- ``task_queue``: tasks from a job's samples, who works on what (row locks on PostgreSQL),
  rankings
- ``consensus``: rankings -> preference pairs and a consensus best response; agreement
- ``outputs``: a task's rankings written as preference pairs and SFT lines for the export
- ``stats``: what the admin pages show

The Streamlit app (``annotation_ui/``) only draws these; it holds no rules of its own.
"""
