"""Model fields shared by the agent models."""

from encrypted_fields.fields import EncryptedCharField


class SecretField(EncryptedCharField):
    """A secret (API key, header value) encrypted at rest; the audit log records only that it changed."""

    audit_secret = True

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("null", True)  # the library stores an empty secret as NULL
        super().__init__(*args, **kwargs)
