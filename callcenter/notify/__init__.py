"""Notifications: the persistent outbox and its senders (email, SMS, print).

A notification is a row written in the same transaction as the fact it announces
(``outbox.enqueue``); ``outbox.run_outbox`` delivers due rows with exponential backoff
and marks each one sent or failed, so a mail server or SMS gateway that is down delays
notifications but never loses them. Each row carries a Message-ID generated once at
enqueue: a retry after an unclear failure (the connection cut after DATA) is the same
message, which mail systems and people can recognise as a duplicate.
"""
