"""SNOP_* worksheet functions: xlwings UDFs that convert cells to engine calls and back (see docs/functions.md).

`udfs.functions` is the module named in the template's ``xlwings.conf`` (``UDF Modules``); `udfs.cells` holds the
cell <-> value conversion every wrapper shares.
"""
