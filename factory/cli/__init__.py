"""The `factory` command line (Typer + Rich). It is the composition root: the only place that
picks between in-process and Celery execution, so the domain never imports the workers."""
