"""What every response and every cookie carries, whatever the route: security headers, a session
cookie marked Secure when the request came over HTTPS, and the client's real address behind a
trusted proxy. (CSRF for API calls that ride on the cookie: ``kb.routes``.)
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

# no inline script or style anywhere: the templates use static files only, and documents are
# sanitized to plain markup; frame-ancestors denies framing (clickjacking)
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin: paths (which may name confidential documents) never reach another site, and
    # Flask-WTF's HTTPS referrer check still sees our own
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request arrived over HTTPS (or always, with
    SESSION_COOKIE_SECURE), so one deployment serves both a plain-HTTP demo and TLS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def _add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        # pages may hold confidential text: never kept by a shared cache or left on disk
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.session_interface = _SessionInterface()
    app.after_request(_add_headers)
    proxies = app.config["PROXY_COUNT"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
