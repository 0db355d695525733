"""``vislab paper``: a folder to put straight into a written report — the report's figures drawn for a
page (vector PDF and 300-dpi PNG), its tables as booktabs LaTeX and Markdown, one ``figure`` environment
per figure with the report's caption, and a ``main.tex`` that compiles with pdflatex.

Above ``report`` in the layers: it plans and draws with the report's own code (``report.build``), so the
paper holds the same figures, captions and numbers as report.html. (Not named ``vislab.paper``: importing
a subpackage of that name would replace the API's ``vislab.paper`` function on the package, as
``vislab.training`` leaves ``vislab.train`` to the API.)
"""
