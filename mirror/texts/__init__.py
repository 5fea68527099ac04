"""The mirror's report texts: the saved page dumps (``*.txt`` here) and the code that
turns them into the HTML a portal's editor would have produced.

* ``markup``  paragraphs → ``<p>`` HTML, headings in ``<strong>`` (leaf)
* ``tables``  启东's flattened standard tables rebuilt as ``<table>``  → markup
* ``reports`` the dumps → report bodies of the baseline portals  → markup, tables
* ``names``   city and unit names for generated portals (leaf)

May import: nothing of the mirror outside this package (and nothing of the product).
"""
