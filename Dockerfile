# The browser phone's SIP user agent comes from npm (served from the package's own
# dist/jssip.min.js, like scripts/_setup.sh does for a checkout).
FROM node:20-slim AS npm
RUN npm install --silent --no-audit --no-fund --prefix /npm jssip@3.12.0

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends sox espeak-ng && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY callcenter ./callcenter
COPY agent_ui ./agent_ui
COPY asterisk ./asterisk
COPY --from=npm /npm /app/.npm
RUN pip install --no-cache-dir -e .
# Default Vietnamese prompts are generated into the shared prompts volume once (existing
# files, including the admin's uploads, are kept), then the daemon starts.
CMD ["sh", "-c", "python -m callcenter.prompts_default \"${CALLCENTER_PROMPTS_DIR:-/prompts}\" && exec callcenter serve"]
