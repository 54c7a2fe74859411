"""Who people are and how they prove it: accounts and their roles and clearances (``users``),
login sessions (``logins``) and API tokens (``tokens``). Directory sign-in (LDAP, OIDC) goes
here too. Flask-free: ``kb.auth`` turns a request's cookie or Bearer token into a caller."""
