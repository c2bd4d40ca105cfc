"""Web adapter: aiohttp application, pages, JSON API and websockets."""
