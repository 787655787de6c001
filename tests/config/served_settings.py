"""The served settings, with one more URL: a view that fails, to see what a remote user is shown then."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.config.served_urls"
