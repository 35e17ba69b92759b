"""The one exception raised for bad configuration: it always names the offending key."""


class ConfigError(Exception):
    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"configuration key '{key}': {message}")
