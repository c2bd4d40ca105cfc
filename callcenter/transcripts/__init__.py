"""The transcripts room: every recorded call (and voicemail) transcribed offline, stored
with word timings and speakers, searchable, played back word by word, and a category
suggested from what was said.

``bus_consume`` queues a job when a recorded call ends or a voicemail is left,
``services`` runs the queue on the speech workers (``callcenter.stt``), ``audio`` finds
the files and compresses them, ``suggest`` matches keyword rules, ``http`` serves the
calls list, the call page and the transcript.
"""
