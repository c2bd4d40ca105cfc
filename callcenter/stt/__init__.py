"""Speech-to-text adapter: offline recognisers behind one small interface, run in worker
processes so transcription never touches the daemon's event loop.

``recogniser`` holds the interface and the audio reader, ``vosk_engine`` the Vosk
implementation, ``pool`` the supervised worker processes (one model load each).
"""
