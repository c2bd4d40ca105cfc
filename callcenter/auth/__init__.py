"""Who is who: password hashing and strength, signed session cookies, CSRF, login throttling.

Pure helpers with no web framework inside; ``callcenter.web.auth`` wires them into aiohttp.
"""
