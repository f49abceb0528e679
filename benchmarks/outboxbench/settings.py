"""The generated project's production settings, with the benchmark's endpoints in front."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "outboxbench.urls"
