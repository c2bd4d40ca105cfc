"""Excel adapter: read messy customer workbooks safely and stream-import them; write exports.

``safety`` refuses files that are not xlsx or would explode when unzipped;
``columns`` finds the header row and maps columns; ``rows`` turns a row into a
customer or a reason; ``importer`` previews and imports in batches; ``export``
writes customers (and rejected rows) back to xlsx with the same columns.
"""
