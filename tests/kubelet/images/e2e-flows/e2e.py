"""The flows of the image `prefectctl.test/e2e-flows`: what a user bakes into an image
`FROM prefecthq/prefect` and runs as Kubernetes Jobs through a work pool."""

import os

from prefect import flow, get_run_logger


@flow
def e2e(greeting: str = "hello") -> str:
    """Logs where it runs and returns what it was given."""
    logger = get_run_logger()
    logger.info("%s from pod %s", greeting, os.environ.get("HOSTNAME", "?"))
    return greeting
