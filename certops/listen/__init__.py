"""``certops listen``: Docebo webhooks in, one learner reconciled per burst of events.

- ``envelope``: parsing a delivery (single or grouped) into validated events; pure.
- ``queue``: the durable event queue (SQLite, WAL) with dedupe, retries, dead letters.
- ``worker``: reads the named learners, plans with the engine, applies under the lock.
- ``app``: the ASGI service (Basic auth, size cap, ``/webhook``, ``/healthz``).
"""
