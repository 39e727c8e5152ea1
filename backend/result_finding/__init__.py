"""Finding results: request arguments in; a page and its total, a stream of rows, or an
aggregate out. One home below the routes for every result route's planning:

- ``selection``: the filtered, searched and sorted ``select()`` of results;
- ``pages``: a page and its total (lists, search, the caller's own results);
- ``indexed``: PostgreSQL's exact shortcuts through the index tables beside the results;
- ``items``: a page's rows written out without ORM objects;
- ``streams``: every selected row, read in batches, for exports;
- ``flatten``: many JSON paths of many documents read fast, and documents' shapes;
- ``aggregates``: statistics of a JSON number per group.

Routes call the functions these modules export and keep HTTP concerns only.
"""
