"""Importers for the real public datasets of this domain (PKDD'99 bank, Google Analytics sample, SaaS Sales).

Each lands its data where the generators do (the same raw layout, transactions into PostgreSQL), so the rest of
the pipeline runs on real data unchanged. Every input record is accounted for: it is landed, or quarantined with
its reason, and the counts are written as an audit record that ``c360 audit`` shows.
"""
