"""The transcripts room: every recorded call (and voicemail) transcribed offline, stored
with word timings and speakers, searchable, played back word by word, and a category
suggested from what was said.

``bus_consume`` queues a job when a recorded call ends or a voicemail is left,
``services`` runs the queue on the speech workers (``callcenter.stt``: recognition and
compression to Opus), ``audio`` finds a recording's files, ``suggest`` matches keyword
rules (``keywords_admin`` edits them), ``retention`` deletes old recordings and
transcripts, ``http`` serves the calls list and the call page.
"""
