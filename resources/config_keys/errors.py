"""The error every config-key and device validator raises."""


class ConfigError(ValueError):
    """A config key, value or device LXD refuses; str(exc) is LXD's error text."""
