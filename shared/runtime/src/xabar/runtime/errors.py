"""The runtime package's exception hierarchy."""


class RuntimeFault(Exception):
    """Base of every error raised by xabar.runtime."""


class InfraError(RuntimeFault):
    """Local infrastructure (redis-server, FerretDB) could not be installed or started."""


class ConfigError(RuntimeFault):
    """A setting is missing, malformed or still a placeholder."""
