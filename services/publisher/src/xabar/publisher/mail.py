"""E-mail to editors (password reset links), with the standard library's ``smtplib`` in a worker
thread. Without ``SMTP_HOST`` nothing is sent: the message is written to the log instead (the
``make run`` log shows it), so a local newsroom still works."""

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from pydantic import SecretStr

log = logging.getLogger("xabar.publisher.mail")


@dataclass(frozen=True, kw_only=True)
class Mailer:
    """The SMTP server's settings (``host`` empty: nothing is sent, the message is logged)."""

    host: str
    port: int
    sender: str
    user: str = ""
    password: SecretStr | None = None
    starttls: bool = True
    timeout_s: float = 15.0

    async def send_reset_link(self, to: str, name: str, url: str, ttl_s: int) -> None:
        hours = max(1, ttl_s // 3600)
        text = (
            f"Здравствуйте, {name}!\n\n"
            f"Чтобы задать пароль для входа в редакцию «Хабар», откройте ссылку:\n{url}\n\n"
            f"Ссылка работает один раз и в течение {hours} ч. "
            "Если вы не ждали этого письма, просто не открывайте её.\n"
        )
        if not self.host:
            log.warning("password link for %s (no SMTP_HOST, not e-mailed): %s", to, url)
            return
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = "Пароль для входа в редакцию «Хабар»"
        message.set_content(text)
        await asyncio.to_thread(self._send, message)
        log.info("password link e-mailed", extra={"to": to})

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password.get_secret_value() if self.password else "")
            smtp.send_message(message)
