class ConfigError(ValueError):
    pass


def validate_profile_config(c):
    for k in sorted(c):
        if not (k.startswith("user.") or k.startswith("limits.")):
            raise ConfigError(f"Unknown configuration key: {k}")


def validate_devices(d, profile):
    pass


def clean_server_config(c):
    return {k: v for k, v in c.items() if v}
