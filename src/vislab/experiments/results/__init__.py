"""Results of many runs: the comparison table (table.py: results.csv/.md, text cells for the terminal, rows
for the report) and the figures the courses' reports published, shown beside vislab's (reported.py: a
suite's ``reported:`` block)."""
