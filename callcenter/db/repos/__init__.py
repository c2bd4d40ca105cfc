"""Repositories: the queries the rest of the code calls, one module per area.

Repository functions take an ``AsyncSession``, flush what they change (so
constraint errors surface as clear exceptions) and leave the commit to the
caller, who may add an audit entry in the same transaction.
"""
