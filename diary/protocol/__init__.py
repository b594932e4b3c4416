"""Protocol files (TOML): the loader that validates them and the pure schedule computation."""
from diary.protocol.loader import (  # noqa: F401
    Protocol,
    ProtocolError,
    available_protocols,
    load_protocol,
    load_protocol_file,
)
