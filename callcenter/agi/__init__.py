"""FastAGI adapter: Asterisk asks "where does this call go?" and the daemon answers.

``protocol`` knows the wire format, ``server`` accepts sessions and runs routes
with a deadline, ``plugin`` runs the server inside the aiohttp application.
"""
