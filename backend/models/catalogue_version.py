"""A value that changes with every committed change to the catalogue.

``catalogue_version`` holds one row whose ``version`` triggers (migration ``0005``) replace
in the transaction that inserts, updates or deletes sites, flavors, benchmarks or tags,
whoever makes the change: a request of any worker, the importer, plain SQL. A cached answer
built from the catalogue is valid for as long as the version it was built under is still
the one stored (``backend.response_cache``). The value is the changing transaction's id on
PostgreSQL and a random 64-bit number on SQLite: never a counter that could come back to a
value an old cache entry holds, even after the row is deleted (it then reads as unknown,
and nothing is cached until the next change writes it again).

The version is read from the database the answer is read from, so a replica's version
describes the replica's data: a lagging replica cannot make a cache hold stale answers
under a current version.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, Table

from backend.extensions import db

#: The tables whose rows make up the catalogue answers that may be cached.
CATALOGUE_TABLES = ("sites", "flavors", "benchmarks", "tags")

catalogue_version = Table(
    "catalogue_version",
    db.metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)
