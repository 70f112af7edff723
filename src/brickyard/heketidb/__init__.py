"""Heketi's database format: the JSON of ``heketi db export`` (and ``GET /db/dump``), read,
written and checked.

* importer.py: reading a dump (`parse_json`, `parse_dump` into a `HeketiDump`, or a `DumpError`
  listing every problem) and loading it into an empty store (`load_dump`);
* export.py: writing the store in the same format (`dump_database`), and the ``Info`` objects of
  its entries, which the REST API's views share;
* check.py: Heketi's ``GET /db/check`` invariants over the store (`check_database`).

The package uses the domain and the store only; api and cli import it.
"""
