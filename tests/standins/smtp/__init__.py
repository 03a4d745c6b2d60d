"""A real SMTP server on 127.0.0.1 (aiosmtpd): plain, STARTTLS with a login, or SMTPS."""
